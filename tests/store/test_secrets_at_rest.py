"""Credentials and secrets are encrypted at rest in every backend: what an operator can read of the
database (the SQLite files, ``pg_dump``) holds none of them, and a wrong key is refused at open, before
anything is written."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from controlplane.api import Credential
from controlplane.store import PostgresStore, StoreError, StoreSettings
from controlplane.store._crypto import WrongKey

from ._backends import Backend
from ._helpers import cluster

pytestmark = pytest.mark.anyio

SECRET_KEY = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.service-account-token"
DURABLE = StoreSettings(synchronous="full")


async def test_what_the_database_holds_shows_no_secret(backend: Backend) -> None:
    async with backend.open(DURABLE) as store:
        await store.create_cluster(cluster("a"))
        await store.put_credential(
            Credential(
                namespace="ns",
                name="c",
                access_key="AKIAEXAMPLE",
                secret_key=SECRET_KEY,
                session_token=SESSION_TOKEN,
            )
        )
        await store.put_secret("a/token", {"token": TOKEN})
        got = await store.get_credential("ns", "c")  # plain to the caller
        assert got is not None and (got.secret_key, got.session_token) == (SECRET_KEY, SESSION_TOKEN)
        assert [c.secret_key for c in await store.list_credentials()] == [SECRET_KEY]
        assert await store.get_secret("a/token") == {"token": TOKEN}
        while_open = await backend.dump()
    dump = await backend.dump()
    assert b"cluster_status" in dump or backend.kind == "sqlite"  # a real dump, not an empty one
    for blob in (while_open, dump):
        for secret in (SECRET_KEY, SESSION_TOKEN, TOKEN):
            assert secret.encode() not in blob, secret
    # Not even a plain SELECT of the rows shows them.
    raw = await backend.fetchval("SELECT data FROM credentials WHERE namespace = 'ns'")
    assert SECRET_KEY.encode() not in bytes(raw)


async def test_a_wrong_key_is_refused_at_open_and_nothing_changes(backend: Backend, tmp_path: Path) -> None:
    async with backend.open() as store:
        await store.create_cluster(cluster("a"))
        await store.put_secret("a/token", {"token": TOKEN})
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(base64.b64encode(os.urandom(32)))
    before = await backend.dump()
    with pytest.raises(WrongKey, match=r"wrong\.key is not the key .* was encrypted with"):
        async with backend.open(key_file=wrong):
            pass
    assert await backend.dump() == before
    async with backend.open() as store:
        assert await store.get_secret("a/token") == {"token": TOKEN}


async def test_postgres_requires_a_key_file(pg_url: str, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"needs \[store\] secret_key_file"):
        async with PostgresStore(pg_url):
            pass
    missing = tmp_path / "absent.key"
    with pytest.raises(StoreError, match=r"absent\.key does not exist.*same file on every replica"):
        async with PostgresStore(pg_url, secret_key_file=missing):
            pass
    assert not missing.exists()  # never generated for PostgreSQL: replicas must share one key
