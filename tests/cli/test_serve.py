"""``serve``'s own failures: exit codes and messages before and at start-up."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from ._support import cli

pytestmark = pytest.mark.anyio


async def test_serve_exit_codes(tmp_path: Path) -> None:
    """A bad setting exits 2 and names it; a taken listen address exits 1 and names the address."""
    code, _, err = await cli(None, "serve", "--listen", "nohost", "--data-dir", str(tmp_path))
    assert code == 2
    assert "controlplane: invalid setting admin.listen" in err
    with anyio.fail_after(5):
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with listener:
        listen = f"127.0.0.1:{listener.extra(anyio.abc.SocketAttribute.local_port)}"
        code, out, err = await cli(None, "serve", "--listen", listen, "--data-dir", str(tmp_path))
    assert code == 1
    assert out == ""
    assert err.rstrip().splitlines()[-1].startswith("controlplane: ")
    assert err.rstrip().endswith(f"({listen})")
    assert "Traceback" not in err
