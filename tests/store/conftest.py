from __future__ import annotations

from pathlib import Path

import pytest

from ._backends import BACKENDS, Backend


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each backend in turn, with a database of its own for this test (PostgreSQL: a fresh database on
    the session's throwaway server)."""
    if request.param == "postgresql":
        return Backend("postgresql", tmp_path, request.getfixturevalue("pg_url"))
    return Backend("sqlite", tmp_path)
