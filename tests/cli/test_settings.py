"""``settings get/set`` against a real admin API."""

from __future__ import annotations

import pytest

from ..admin._support import Api
from ._support import Run

pytestmark = pytest.mark.anyio


async def test_settings(api: Api, run: Run) -> None:
    code, out, err = await run("settings", "get")
    assert code == 0, err
    assert out.splitlines()[1].split(None, 1) == ["eks-refresh-cron", "*/5 * * * *"]
    code, out, err = await run("settings", "set", "eks-refresh-cron", "@every 1m")
    assert code == 0, err
    assert "@every 1m" in out
    code, out, _ = await run("settings", "get", "eks-refresh-cron")
    assert out.strip() == "@every 1m"
    code, _, err = await run("settings", "set", "eks-refresh-cron", "not a cron")
    assert code == 1
    assert "422" in err
    assert "eks-refresh-cron" in err
    assert await api.store.get_setting("eks-refresh-cron") == "@every 1m"
