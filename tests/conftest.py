from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from . import _pg

# Every wait, requeue and backoff of the control plane is multiplied by this; tests run fast.
os.environ.setdefault("CONTROLPLANE_TIME_SCALE", "0.01")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of a PostgreSQL server for this test session (see ``tests/_pg.py``): started on first
    use, stopped at the end of the session."""
    with _pg.server() as url:
        yield url


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database for one test (process-level tests may hand it to a
    child process); dropped afterwards."""
    with _pg.fresh_database(pg_server) as url:
        yield url
