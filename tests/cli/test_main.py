"""Argument parsing: usage errors exit 2."""

from __future__ import annotations

import pytest

from ._support import cli

pytestmark = pytest.mark.anyio


async def test_usage_errors_exit_2() -> None:
    code, _, err = await cli(None, "get", "-o", "xml")
    assert code == 2
    assert "invalid choice" in err
    code, _, err = await cli(None)
    assert code == 2
