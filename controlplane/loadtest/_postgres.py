"""A throwaway PostgreSQL server: ``initdb`` into a temporary directory, ``pg_ctl`` on a free loopback port,
stopped and removed afterwards. The load harness runs the fleet on one with ``--store postgresql``; the
tests run theirs with it. The server binaries come from Debian's ``postgresql`` package, which
``scripts/bootstrap test`` installs when they are missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

_START_TIMEOUT = 60


def bindir() -> Path:
    """The newest installed server's binaries (Debian keeps them out of PATH)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3].split(".")[0])
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: run `scripts/bootstrap test`, which installs "
        "Debian's postgresql package"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server_user() -> str | None:
    """The server refuses to run as root: as root, run it as ``postgres`` (Debian's package creates that
    user) or ``nobody``; otherwise as ourselves (``None``)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root, and there is no unprivileged user to run PostgreSQL as")


@contextmanager
def throwaway_server(*, durable: bool = False) -> Iterator[str]:
    """Start a server; yield the URL of its ``postgres`` database (superuser ``postgres``, trust auth on
    loopback); stop it and remove its files afterwards. Tests run it with fsync off (they test
    behaviour, not crash safety); ``durable`` keeps PostgreSQL's defaults (for benchmarks)."""
    binaries = bindir()
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="controlplane-pg-"))
    data, sockets, log = root / "data", root / "run", root / "server.log"
    sockets.mkdir()
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (root, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    started = False
    try:
        _run(user, binaries / "initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--no-sync", "--no-instructions")  # fmt: skip
        for _attempt in range(3):  # the free port may be taken between the probe and the start
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={sockets} "
                "-c max_connections=200"
            )
            if not durable:
                options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            done = _run(user, binaries / "pg_ctl", "-D", str(data), "-l", str(log), "-o", options, "-w",
                        "-t", str(_START_TIMEOUT), "start", check=False)  # fmt: skip
            if done.returncode == 0:
                started = True
                break
        if not started:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start:\n{text[-2000:]}")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            _run(user, binaries / "pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)


def _run(user: str | None, *argv: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in argv],
        user=user,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=_START_TIMEOUT + 30,
        check=False,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{Path(str(argv[0])).name} failed ({done.returncode}):\n{done.stderr}")
    return done


def with_database(url: str, database: str) -> str:
    """``url`` pointing at ``database`` on the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


async def execute(url: str, statement: str) -> None:
    """Run one statement on its own connection (CREATE/DROP DATABASE cannot run in a transaction)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
