"""Fixtures of the CLI tests: a real admin API served by the test's event loop, and ``main()`` against it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from controlplane.cli import main

from ..admin._support import TOKEN, Api, running_api
from ._support import Run


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(tmp_path) as api:
        yield api


@pytest.fixture
def run(api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run ``main()`` in a worker thread (the loop keeps serving): the same code without a process start.

    The subprocess tests cover the entry point, exit codes, stdin and the environment end to end.
    """
    for key in list(os.environ):
        if key.startswith("CONTROLPLANE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CONTROLPLANE_SERVER", api.url)
    monkeypatch.setenv("CONTROLPLANE_TOKEN", TOKEN)

    async def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        with anyio.fail_after(30):
            code = await anyio.to_thread.run_sync(main, list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run
