from __future__ import annotations

import os

import pytest

# Every wait, requeue and backoff of the control plane is multiplied by this; tests run fast.
os.environ.setdefault("CONTROLPLANE_TIME_SCALE", "0.01")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
