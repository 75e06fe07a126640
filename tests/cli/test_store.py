"""``controlplane store copy`` and ``serve --store``, as processes: what they print, refuse and never show."""

from __future__ import annotations

import base64
import os
import signal
import sys
from pathlib import Path

import anyio
import pytest

from controlplane.api import Credential, Event, Phase
from controlplane.store import PostgresStore, SQLiteStore, StoreSettings

from ..store._helpers import cluster, status
from ._support import ROOT, cli

pytestmark = pytest.mark.anyio

PASSWORD = "hunter2-NotLogged"


def _key(path: Path) -> Path:
    path.write_bytes(base64.b64encode(os.urandom(32)))
    return path


async def _source(db: Path) -> None:
    async with SQLiteStore(db, StoreSettings(flush_interval=30.0)) as store:
        for name in ("a", "b", "c"):
            await store.create_cluster(cluster(name))
        await store.write_status("b", status(Phase.ACTIVE, "synced"))
        await store.append_event("a", Event(time="t", type="Normal", reason="Created", message="m"))
        await store.put_credential(Credential(namespace="ns", name="c", access_key="AK", secret_key="SK"))
        await store.put_setting("eks-refresh-cron", "@hourly")
        await store.put_secret("a/token", {"token": "tok"})


async def test_store_copy_to_postgresql_and_back(tmp_path: Path, pg_url: str) -> None:
    db = tmp_path / "data" / "controlplane.db"
    await _source(db)
    key = _key(tmp_path / "pg.key")
    url = pg_url.replace("postgres@", f"postgres:{PASSWORD}@", 1)  # trust auth: accepted, ignored

    code, out, err = await cli(
        None, "store", "copy", "--from", f"sqlite:///{db}", "--to", url, "--to-key-file", str(key)
    )
    assert code == 0, err
    assert "copied 3 clusters, 1 events, 1 credentials, 1 settings, 1 secrets" in out
    assert f"from sqlite:///{db}" in out
    assert "to   postgresql://postgres:***@127.0.0.1:" in out
    assert "copied 3/3 clusters" in err
    assert PASSWORD not in out + err

    back = tmp_path / "back" / "controlplane.db"
    code, out, err = await cli(
        None, "store", "copy", "--from", url, "--from-key-file", str(key), "--to", f"sqlite:///{back}"
    )
    assert code == 0, err
    assert (back.parent / "secret.key").stat().st_mode & 0o777 == 0o600  # generated for the new database
    async with SQLiteStore(db) as original, SQLiteStore(back) as copied:
        assert await copied.list_clusters() == await original.list_clusters()
        assert await copied.list_credentials() == await original.list_credentials()
        assert await copied.get_secret("a/token") == {"token": "tok"}

    # A second copy into the same (now full) target is refused, naming what it holds.
    code, out, err = await cli(
        None, "store", "copy", "--from", f"sqlite:///{db}", "--to", url, "--to-key-file", str(key)
    )
    assert code == 1 and out == ""
    assert "controlplane: refusing to copy into postgresql://postgres:***@" in err
    assert "not empty (3 clusters, 1 events, 1 credentials, 1 settings, 1 secrets)" in err
    assert PASSWORD not in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--to", f"postgresql://cp:{PASSWORD}@127.0.0.1:1/x"],
            "--to-key-file is required for a PostgreSQL store",
        ),
        (["--to", "mysql://cp@db/x"], "store url must start with sqlite:/// or postgresql://"),
        (["--to", "sqlite:///{db}"], "--from and --to are the same store"),
    ],
)
async def test_store_copy_refusals(tmp_path: Path, args: list[str], message: str) -> None:
    db = tmp_path / "cp.db"
    await _source(db)
    args = [a.replace("{db}", str(db)) for a in args]
    code, out, err = await cli(None, "store", "copy", "--from", f"sqlite:///{db}", *args)
    assert (code, out) == (1, "")
    assert message in err and PASSWORD not in err and "Traceback" not in err


async def test_store_copy_from_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    code, _, err = await cli(
        None, "store", "copy", "--from", f"sqlite:///{tmp_path}/typo.db", "--to", f"sqlite:///{tmp_path}/t.db"
    )
    assert code == 1 and f"no SQLite database at {tmp_path}/typo.db" in err
    assert list(tmp_path.iterdir()) == []


async def test_serve_refuses_a_bad_store_url_and_a_wrong_key(tmp_path: Path) -> None:
    code, _, err = await cli(None, "serve", "--data-dir", str(tmp_path), "--store", "sqlite://two-slashes.db")
    assert code == 2 and "controlplane: invalid setting store.url: store url must be sqlite:///PATH" in err
    data = tmp_path / "data"
    await _source(data / "controlplane.db")
    wrong = _key(tmp_path / "wrong.key")
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    code, out, err = await cli(
        None,
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        str(data),
        env={"CONTROLPLANE_STORE_SECRET_KEY_FILE": str(wrong)},
    )
    assert code == 1 and out == ""
    assert err.rstrip().splitlines()[-1].startswith("controlplane: the secret key in ")
    assert "nothing was changed" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in data.iterdir() if p.name in before} == before


async def test_serve_on_postgresql_prints_the_url_redacted(tmp_path: Path, pg_url: str) -> None:
    url = pg_url.replace("postgres@", f"postgres:{PASSWORD}@", 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLPLANE_")}
    env.update(
        PYTHONPATH=str(ROOT),
        CONTROLPLANE_STORE_SECRET_KEY_FILE=str(_key(tmp_path / "pg.key")),
        CONTROLPLANE_SERVICE_LOG_LEVEL="debug",
    )
    argv = [sys.executable, "-m", "controlplane.cli", "serve", "--listen", "127.0.0.1:0"]
    argv += ["--data-dir", str(tmp_path / "data"), "--store", url]
    output = b""
    async with await anyio.open_process(argv, env=env, cwd=ROOT) as proc:
        assert proc.stderr is not None
        with anyio.fail_after(30):
            while b"eks-controlplane: store " not in output:
                chunk = await proc.stderr.receive()
                output += chunk
        proc.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            async for chunk in proc.stderr:
                output += chunk
            assert await proc.wait() == 0
    text = output.decode()
    assert "eks-controlplane: store postgresql://postgres:***@127.0.0.1:" in text
    assert PASSWORD not in text
    assert not (tmp_path / "data" / "controlplane.db").exists()  # the fleet is in PostgreSQL
    async with PostgresStore(pg_url, secret_key_file=tmp_path / "pg.key") as store:  # migrated, keyed
        assert await store.list_cluster_names() == []
