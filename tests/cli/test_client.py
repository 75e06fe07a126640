"""Where client commands find the server and the token, and how connection failures read."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from ..admin._support import TOKEN, Api
from ._support import cli

pytestmark = pytest.mark.anyio


async def test_token_sources_and_connection_errors(api: Api, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "admin-token").write_text(TOKEN + "\n")
    code, _, err = await cli(None, "get", "--server", api.url, "--data-dir", str(data_dir))
    assert code == 0, err
    env = {"CONTROLPLANE_SERVER": api.url, "CONTROLPLANE_DATA_DIR": str(data_dir)}
    code, _, err = await cli(None, "get", env=env)
    assert code == 0, err
    code, _, err = await cli(None, "get", "--server", api.url, "--data-dir", str(tmp_path / "none"))
    assert code == 1
    assert "no admin token" in err
    code, _, err = await cli(None, "get", "--server", api.url, "--token", "wrong")
    assert code == 1
    assert "401" in err
    assert "bearer token" in err
    with anyio.fail_after(5):
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        await listener.aclose()
    code, _, err = await cli(None, "get", "--server", f"127.0.0.1:{port}", "--token", "x")
    assert code == 1
    assert "cannot reach" in err
