"""Shared by the CLI tests: the CLI as a subprocess, and manifests to apply."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import yaml

from ..admin._support import RANCHER_YAML, TOKEN, Api, cluster

ROOT = Path(__file__).resolve().parents[2]


async def cli(
    api: Api | None, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run the CLI as a subprocess; it is awaited, so this loop keeps serving the API meanwhile."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLPLANE_")}
    full_env["PYTHONPATH"] = str(ROOT)
    if api is not None:
        full_env["CONTROLPLANE_SERVER"] = api.url
        full_env["CONTROLPLANE_TOKEN"] = TOKEN
    full_env.update(env or {})
    with anyio.fail_after(30):
        result = await anyio.run_process(
            [sys.executable, "-m", "controlplane.cli", *args],
            input=stdin,
            env=full_env,
            cwd=ROOT,
            check=False,
        )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


Run = Callable[..., Awaitable[tuple[int, str, str]]]
"""The ``run`` fixture: ``main()`` in a worker thread; ``(exit code, stdout, stderr)``."""


def manifests(tmp_path: Path, **eks: Any) -> Path:
    path = tmp_path / "clusters.yaml"
    path.write_text(yaml.safe_dump(cluster(**eks)) + "---\n" + RANCHER_YAML)
    return path
