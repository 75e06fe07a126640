"""A throwaway PostgreSQL server for the tests: ``initdb`` into a temporary directory, ``pg_ctl`` on a free
loopback port, one fresh database per test that asks for one, stopped at the end of the session.

``CONTROLPLANE_TEST_PG_URL`` (``postgresql://USER@HOST:PORT/DB`` of a role that may create databases)
uses that server instead. The server binaries come from Debian's ``postgresql`` package, which
``scripts/bootstrap test`` installs when they are missing.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from controlplane.loadtest._postgres import bindir, execute, throwaway_server, with_database

__all__ = ["ENV_URL", "bindir", "fresh_database", "server", "with_database"]

ENV_URL = "CONTROLPLANE_TEST_PG_URL"


@contextmanager
def server() -> Iterator[str]:
    """``CONTROLPLANE_TEST_PG_URL`` if set, else a throwaway local server."""
    given = os.environ.get(ENV_URL)
    if given:
        yield given
        return
    with throwaway_server() as url:
        yield url


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new empty database on the server for one test; dropped afterwards (connections still open to
    it are ended)."""
    name = f"cp_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(execute(server_url, f'CREATE DATABASE "{name}" TEMPLATE template0'))
    try:
        yield with_database(server_url, name)
    finally:
        asyncio.run(execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
