"""The secret key of a SQLite database: checked (or set up) at open, inside the migration transaction.

Runs on the writer's thread. A database is *keyed* once its ``meta`` table holds a key check; from then on
every credential and ``secrets`` row is sealed with that key. A database written before encryption at rest
(no key check) is keyed on its first open: every plaintext row is sealed in the same transaction.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from ._crypto import (
    KEY_CHECK,
    SecretBox,
    credential_context,
    is_sealed,
    key_file_is_private,
    new_key,
    read_key_file,
    secret_context,
    write_key_file,
)
from ._errors import StoreError

logger = logging.getLogger("controlplane.store")


def ensure_key(conn: sqlite3.Connection, key_file: Path, database: str) -> SecretBox:
    """The key of this database, from ``key_file``: verified against the key check, or (for a database
    never keyed) generated into ``key_file`` when absent, with every plaintext row sealed. ``WrongKey`` or
    ``StoreError`` before anything is written. Call inside the open's write transaction."""
    box = read_key_file(key_file)
    if box is not None and not key_file_is_private(key_file):
        logger.warning("secret key file %s is readable by other users; make it mode 0600", key_file)
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (KEY_CHECK,)).fetchone()
    if row is not None:
        if box is None:
            raise StoreError(
                f"{database} holds encrypted secrets, but its secret key file {key_file} does not exist"
            )
        box.verify(str(row[0]), database)
        return box
    key = None
    if box is None:
        key = new_key()
        box = SecretBox(key, source=str(key_file))
    sealed = seal_plaintext_rows(conn, box)
    if sealed:
        logger.info("sealed %d plaintext secret rows of %s with the secret key", sealed, database)
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (KEY_CHECK, box.key_check()))
    if key is not None:
        # Last: if the file cannot be written, the transaction rolls back and nothing was keyed.
        write_key_file(key_file, key)
        logger.info("generated secret key file %s", key_file)
    return box


def seal_plaintext_rows(conn: sqlite3.Connection, box: SecretBox) -> int:
    """Seal every credential and secret still stored in plaintext; returns how many."""
    count = 0
    for namespace, name, data in conn.execute("SELECT namespace, name, data FROM credentials").fetchall():
        if not is_sealed(bytes(data)):
            conn.execute(
                "UPDATE credentials SET data = ? WHERE namespace = ? AND name = ?",
                (box.seal(bytes(data), credential_context(namespace, name)), namespace, name),
            )
            count += 1
    for name, data in conn.execute("SELECT name, data FROM secrets").fetchall():
        if not is_sealed(bytes(data)):
            conn.execute(
                "UPDATE secrets SET data = ? WHERE name = ?",
                (box.seal(bytes(data), secret_context(name)), name),
            )
            count += 1
    return count
