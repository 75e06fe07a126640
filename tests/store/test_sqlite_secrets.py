"""Secrets at rest in the SQLite backend: the generated key file, rows written before encryption existed,
and the raw file bytes."""

from __future__ import annotations

import base64
import os
import sqlite3
from pathlib import Path

import pytest

from controlplane.api import Credential
from controlplane.store import SQLiteStore, StoreError, StoreSettings
from controlplane.store._crypto import PREFIX, WrongKey
from controlplane.store._sqlite_schema import migrate

from ._helpers import cluster

pytestmark = pytest.mark.anyio

SECRET_KEY = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.service-account-token"


def _files(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))


async def test_key_file_is_generated_owner_only_beside_the_database(tmp_path: Path) -> None:
    db = tmp_path / "state" / "store.db"
    old = os.umask(0)
    try:
        async with SQLiteStore(db):
            pass
    finally:
        os.umask(old)
    key_file = db.parent / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(base64.b64decode(key_file.read_bytes().strip())) == 32
    before = key_file.read_bytes()
    async with SQLiteStore(db):  # reused, never replaced
        pass
    assert key_file.read_bytes() == before


async def test_the_file_never_holds_a_secret_in_plaintext(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    async with SQLiteStore(db, StoreSettings(synchronous="full")) as store:
        await store.put_credential(
            Credential(namespace="ns", name="c", access_key="AKIAEXAMPLE", secret_key=SECRET_KEY)
        )
        await store.put_secret("a/token", {"token": TOKEN})
        # Read back through the store: sealed at rest, plain to the caller.
        got = await store.get_credential("ns", "c")
        assert got is not None and got.secret_key == SECRET_KEY
        assert await store.get_secret("a/token") == {"token": TOKEN}
        raw = _files(db)  # the WAL too: it holds the newest pages
    after_close = _files(db)
    for blob in (raw, after_close):
        assert SECRET_KEY.encode() not in blob
        assert TOKEN.encode() not in blob
        assert b"AKIAEXAMPLE" not in blob


async def test_rows_written_before_encryption_are_sealed_on_first_open(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    migrate(conn)  # the current schema, but rows as an older release wrote them: plaintext JSON
    cred = b'{"namespace":"ns","name":"c","accessKey":"AKIAOLD","secretKey":"%s"}' % SECRET_KEY.encode()
    conn.execute("INSERT INTO credentials (namespace, name, data) VALUES ('ns', 'c', ?)", (cred,))
    conn.execute(
        "INSERT INTO secrets (name, data) VALUES ('a/token', ?)", (b'{"token":"%s"}' % TOKEN.encode(),)
    )
    conn.close()
    async with SQLiteStore(db) as store:
        got = await store.get_credential("ns", "c")
        assert got is not None and (got.access_key, got.secret_key) == ("AKIAOLD", SECRET_KEY)
        assert await store.get_secret("a/token") == {"token": TOKEN}
    conn = sqlite3.connect(db)
    try:
        rows = [r[0] for r in conn.execute("SELECT data FROM credentials UNION ALL SELECT data FROM secrets")]
        conn.execute("VACUUM")  # drop the free pages that still hold the old plaintext
    finally:
        conn.close()
    assert len(rows) == 2 and all(bytes(r).startswith(PREFIX) for r in rows)
    assert SECRET_KEY.encode() not in _files(db)


async def test_a_wrong_key_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    async with SQLiteStore(db) as store:
        await store.create_cluster(cluster("a"))
        await store.put_secret("a/token", {"token": TOKEN})
    other = tmp_path / "other.key"
    other.write_bytes(base64.b64encode(os.urandom(32)))
    before = _files(db)
    with pytest.raises(WrongKey, match=r"other\.key.*not the key.*nothing was changed"):
        async with SQLiteStore(db, secret_key_file=other):
            pass
    assert _files(db) == before
    async with SQLiteStore(db) as store:  # the right key still opens it
        assert await store.get_secret("a/token") == {"token": TOKEN}


async def test_a_missing_key_of_an_encrypted_database_is_not_regenerated(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    async with SQLiteStore(db) as store:
        await store.put_secret("s", {"k": "v"})
    (tmp_path / "secret.key").unlink()
    with pytest.raises(StoreError, match=r"secret key file .* does not exist"):
        async with SQLiteStore(db):
            pass
    assert not (tmp_path / "secret.key").exists()


@pytest.mark.parametrize("content", [b"", b"not base64!", base64.b64encode(b"short")])
async def test_a_key_file_without_a_key_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    key = tmp_path / "bad.key"
    key.write_bytes(content)
    with pytest.raises(StoreError, match=r"bad\.key does not hold a key: expected 32 random bytes"):
        async with SQLiteStore(tmp_path / "store.db", secret_key_file=key):
            pass
