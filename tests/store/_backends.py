"""Each store backend behind one small interface, so the contract tests run unchanged against all of them:
open a store (several may share one database, as processes do), and peek at what is committed through a
separate plain connection."""

from __future__ import annotations

import base64
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import msgspec
import pytest

from controlplane.api import ClusterStatus
from controlplane.store import PostgresStore, SQLiteStore, Store, StoreSettings, _pg_ops, _sqlite_ops

from .. import _pg
from ._helpers import raw_status as sqlite_raw_status

BACKENDS = ("sqlite", "postgresql")


def _pg_dump() -> str:
    try:
        return str(_pg.bindir() / "pg_dump")
    except RuntimeError:
        found = shutil.which("pg_dump")
        if found is None:
            raise
        return found


class Backend:
    """One database of one backend for one test."""

    def __init__(self, kind: str, tmp_path: Path, pg_url: str = "") -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.db = tmp_path / "state" / "store.db"
        self.pg_url = pg_url
        self.key_file = tmp_path / "state" / "secret.key"
        if kind == "postgresql":
            self.key_file.parent.mkdir(parents=True, exist_ok=True)
            self.key_file.write_bytes(base64.b64encode(os.urandom(32)))

    def __repr__(self) -> str:
        return self.kind

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}" if self.kind == "sqlite" else self.pg_url

    def open(
        self, settings: StoreSettings | None = None, *, shards: int = 256, key_file: Path | None = None
    ) -> Store:
        """A new (unopened) store on this test's database."""
        if self.kind == "sqlite":
            return SQLiteStore(self.db, settings, shards=shards, secret_key_file=key_file)
        return PostgresStore(self.pg_url, settings, shards=shards, secret_key_file=key_file or self.key_file)

    async def raw_status(self, name: str) -> ClusterStatus | None:
        """The status as committed, read through a separate plain connection."""
        if self.kind == "sqlite":
            return sqlite_raw_status(self.db, name)
        row = await self.fetchval("SELECT status FROM cluster_status WHERE name = $1", name)
        return None if row is None else msgspec.json.decode(row, type=ClusterStatus)

    async def fetchval(self, query: str, *args: Any) -> Any:
        """One value through a plain connection (``$1`` placeholders; SQLite gets them as ``?``)."""
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.db)
            try:
                row = conn.execute(query.replace("$1", "?").replace("$2", "?"), args).fetchone()
            finally:
                conn.close()
            return None if row is None else row[0]
        pg = await asyncpg.connect(self.pg_url)
        try:
            return await pg.fetchval(query, *args)
        finally:
            await pg.close()

    async def execute(self, statement: str) -> None:
        """A raw statement through a plain connection (committed at once)."""
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.db)
            try:
                conn.execute(statement)
                conn.commit()
            finally:
                conn.close()
            return
        pg = await asyncpg.connect(self.pg_url)
        try:
            await pg.execute(statement)
        finally:
            await pg.close()

    async def dump(self) -> bytes:
        """Everything the database holds, as an operator could read it: the SQLite files (with the WAL),
        or ``pg_dump``'s output."""
        if self.kind == "sqlite":
            files = sorted(p for p in self.db.parent.iterdir() if p.name.startswith(self.db.name))
            return b"".join(p.read_bytes() for p in files)
        done = await anyio.run_process([_pg_dump(), "--no-owner", "--dbname", self.pg_url], check=True)
        # pg_dump brackets its script with \restrict/\unrestrict lines holding a random key each run.
        lines = done.stdout.splitlines(keepends=True)
        return b"".join(line for line in lines if not line.startswith((b"\\restrict", b"\\unrestrict")))

    def patch_status_batches(self, monkeypatch: pytest.MonkeyPatch, wrap: Callable[[Any], Any]) -> None:
        """Replace the backend's batch-commit function with ``wrap(real)``."""
        module: Any = _sqlite_ops if self.kind == "sqlite" else _pg_ops
        monkeypatch.setattr(module, "write_statuses", wrap(module.write_statuses))
