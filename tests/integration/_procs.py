"""Real child processes for the integration tests: the service and the simulator, started from the repo root
with their output in files (a pipe nobody reads would fill up and block the child), and a tiny HTTP client.

Every helper here is synchronous: the tests drive separate processes, so there is no event loop to share.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
ADMIN_LINE = re.compile(r"eks-controlplane: admin API (http://127\.0\.0\.1:\d+)")
SIM_LINE = re.compile(r"simulator listening on (http://127\.0\.0\.1:\d+)")
POLL = 0.05

T = TypeVar("T")


def child_env(**extra: str) -> dict[str, str]:
    """The test's environment without any CONTROLPLANE_/AWS_ setting of the developer's shell (no real AWS
    profile, no stray token), with the fast time scale."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTROLPLANE_", "AWS_"))}
    env.update(
        CONTROLPLANE_TIME_SCALE="0.01",
        AWS_EC2_METADATA_DISABLED="true",  # never wait on an instance metadata service
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Proc:
    """One child process. Use as a context manager: leaving the block always kills it if still alive."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.out_path = workdir / f"{name}.stdout"
        self.err_path = workdir / f"{name}.stderr"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "controlplane.cli", *argv],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )

    def __enter__(self) -> Proc:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.kill()

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=10)

    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def output(self) -> str:
        return f"--- {self.name} stdout ---\n{self.stdout()}\n--- {self.name} stderr ---\n{self.stderr()}"

    def wait_for(self, pattern: re.Pattern[str], *, stream: str = "stderr", timeout: float = 20.0) -> str:
        """The first group of ``pattern`` once it appears in the stream; fails if the process exits first."""
        read = self.stderr if stream == "stderr" else self.stdout
        deadline = time.monotonic() + timeout
        while True:
            match = pattern.search(read())
            if match:
                return match.group(1)
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.popen.returncode}\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no {pattern.pattern!r} after {timeout}s\n{self.output()}")
            time.sleep(POLL)

    def terminate(self, timeout: float = 10.0) -> tuple[int, float]:
        """SIGTERM, then the exit code and the seconds it took; fails (and kills) past ``timeout``."""
        started = time.monotonic()
        self.popen.send_signal(signal.SIGTERM)
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} ignored SIGTERM for {timeout}s\n{self.output()}") from None
        return code, time.monotonic() - started


class Response:
    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status = status
        self.body = body
        self.headers = headers

    def json(self) -> Any:
        return json.loads(self.body)


class Http:
    """Blocking HTTP against one base URL; keeps every response body (the secret-leak test greps them)."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base.rstrip("/")
        self.token = token
        self.transcript: list[bytes] = []

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        content_type: str = "application/json",
    ) -> Response:
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        bearer = token if token is not None else self.token
        if bearer:
            req.add_header("Authorization", f"Bearer {bearer}")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                out = Response(resp.status, resp.read(), dict(resp.headers))
        except urllib.error.HTTPError as exc:
            out = Response(exc.code, exc.read(), dict(exc.headers))
        self.transcript.append(out.body)
        self.transcript.append(json.dumps(out.headers).encode())
        return out

    def json(self, method: str, path: str, body: Any = None, *, expect: int = 200) -> Any:
        resp = self.request(method, path, body)
        assert resp.status == expect, f"{method} {path}: {resp.status} {resp.body[:2000]!r}"
        return resp.json() if resp.body else None


def wait_until(
    probe: Callable[[], T | None], *, timeout: float, what: str, details: Callable[[], str] = lambda: ""
) -> T:
    """Poll ``probe`` until it returns something other than None/False; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{details()}")
        time.sleep(POLL)


class Service:
    """``controlplane serve`` in a child process, with its URL and admin token once it is up."""

    def __init__(self, workdir: Path, data_dir: Path, *args: str, name: str = "service", **env: str) -> None:
        self.data_dir = data_dir
        self.proc = Proc(
            name,
            ["serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir), *args],
            child_env(**env),
            workdir,
        )
        try:
            self.url = self.proc.wait_for(ADMIN_LINE, timeout=30)
            self.token = (data_dir / "admin-token").read_text().strip()
        except BaseException:
            self.proc.kill()
            raise
        self.http = Http(self.url, self.token)

    def __enter__(self) -> Service:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.proc.kill()

    def clusters(self) -> dict[str, dict[str, Any]]:
        items = self.http.json("GET", "/v1/clusters")["items"]
        return {c["metadata"]["name"]: c for c in items}

    def diagnose(self, *names: str) -> str:
        """Phase, failure, conditions and recent events of clusters, plus the service's output: what a
        failing wait reports."""
        lines: list[str] = []
        try:
            clusters = self.clusters()
            for name in names or tuple(clusters):
                c = clusters.get(name)
                if c is None:
                    lines.append(f"{name}: absent")
                    continue
                st = c.get("status") or {}
                lines.append(
                    f"{name}: phase={st.get('phase')!r} failure={st.get('failureMessage')!r} "
                    f"conditions={st.get('conditions')}"
                )
                events = self.http.json("GET", f"/v1/clusters/{name}/events")["items"]
                lines.extend(f"  event {e['type']} {e['reason']}: {e['message']}" for e in events[-15:])
        except (AssertionError, OSError) as exc:
            lines.append(f"(cannot read clusters: {exc})")
        tail = "\n".join(self.proc.stderr().splitlines()[-60:])
        return "\n".join(lines) + f"\n--- service stderr (tail) ---\n{tail}"


def condition(cluster: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for cond in (cluster.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            found: dict[str, Any] = cond
            return found
    return None


def nodegroup(
    name: str, *, desired: int = 1, maximum: int = 3, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """A managed node group of a created cluster's manifest, with every field the create requires."""
    return {
        "nodegroupName": name,
        "instanceType": "t3.large",
        "diskSize": 20,
        "ec2SshKey": "",
        "resourceTags": {},
        "version": "1.30",
        "minSize": 1,
        "maxSize": maximum,
        "desiredSize": desired,
        "gpu": False,
        "subnets": [],
        "tags": {},
        "labels": labels or {},
        "requestSpotInstances": False,
    }
