"""Encryption at rest of the rows that hold secrets (credentials, the ``secrets`` table), for every backend.

AES-256-GCM (``cryptography``'s ``AESGCM``) rather than Fernet: it is an AEAD, so each ciphertext is bound
to the row it belongs to (the associated data names the table and the row's key, and a blob copied into
another row does not decrypt), it is smaller (28 bytes of overhead, no base64) and faster, and the key is
32 plain random bytes. A random 96-bit nonce per write is safe far beyond the number of writes a control
plane makes with one key.

The key lives in a file (``[store] secret_key_file``): 32 random bytes, base64-encoded on one line. Every
process that opens the same database must use the same key; the database keeps a known value encrypted
with it (the *key check*), so a wrong key is refused at open, before anything is written.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._errors import StoreError

PREFIX = b"cpenc1:"
"""Every sealed value starts with this (format version 1); anything else is plaintext from before
encryption at rest (SQLite databases written by older releases)."""
_NONCE = 12
_KEY_BYTES = 32
_CHECK_PLAINTEXT = b"eks-controlplane secret key check"
_CHECK_CONTEXT = b"meta\x00key-check"
KEY_CHECK = "crypto.key_check"
"""The ``meta`` key under which a database keeps its key check."""
KEY_HELP = "32 random bytes, base64-encoded (e.g. `head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE`)"


class WrongKey(StoreError):
    """The secret key does not decrypt this database's key check: it was written with another key."""


def credential_context(namespace: str, name: str) -> bytes:
    """Associated data of a credential row."""
    return b"credential\x00" + namespace.encode() + b"\x00" + name.encode()


def secret_context(name: str) -> bytes:
    """Associated data of a ``secrets`` row."""
    return b"secret\x00" + name.encode()


class SecretBox:
    """Seals and opens values with one key. Never shows the key (not in ``repr``, not in errors)."""

    __slots__ = ("_aead", "source")

    def __init__(self, key: bytes, *, source: str = "") -> None:
        if len(key) != _KEY_BYTES:
            raise ValueError(f"a secret key is {_KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(key)
        self.source = source
        """Where the key came from (a file path), for error messages."""

    def __repr__(self) -> str:
        return f"SecretBox(source={self.source!r})"

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return PREFIX + nonce + self._aead.encrypt(nonce, plaintext, context)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        """The plaintext of ``sealed``; ``StoreError`` if it is not sealed, or not by this key for this
        row (the message names neither the value nor the key)."""
        if not is_sealed(sealed):
            raise StoreError("a stored secret is not encrypted (the database was altered outside the store)")
        body = sealed[len(PREFIX) :]
        try:
            return self._aead.decrypt(body[:_NONCE], body[_NONCE:], context)
        except InvalidTag:
            raise StoreError(
                "a stored secret does not decrypt with the secret key (wrong key, or the row was altered)"
            ) from None

    def key_check(self) -> str:
        """A fresh key check to keep in the database (text: it goes in a TEXT column)."""
        return base64.b64encode(self.seal(_CHECK_PLAINTEXT, _CHECK_CONTEXT)).decode()

    def verify(self, check: str, database: str) -> None:
        """Raise ``WrongKey`` unless ``check`` (from the database) was made with this key."""
        try:
            sealed = base64.b64decode(check, validate=True)
            if self.open(sealed, _CHECK_CONTEXT) == _CHECK_PLAINTEXT:
                return
        except (StoreError, binascii.Error):
            pass
        raise WrongKey(
            f"the secret key in {self.source or 'the given key'} is not the key {database} was encrypted "
            "with: every process sharing a database needs the same [store] secret_key_file "
            "(nothing was changed)"
        )


def is_sealed(value: bytes) -> bool:
    return value.startswith(PREFIX)


def parse_key(text: bytes, source: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        key = b""
    if len(key) != _KEY_BYTES:
        raise StoreError(f"secret key file {source} does not hold a key: expected {KEY_HELP}")
    return key


def read_key_file(path: Path) -> SecretBox | None:
    """The key in ``path``, or ``None`` if there is no such file. ``StoreError`` if it is unreadable or
    does not hold a key."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read secret key file {path}: {exc.strerror}") from None
    return SecretBox(parse_key(text, str(path)), source=str(path))


def new_key() -> bytes:
    return secrets.token_bytes(_KEY_BYTES)


def write_key_file(path: Path, key: bytes) -> None:
    """Create ``path`` owner-only (0600, whatever the umask) holding ``key``; never replaces a file."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise StoreError(f"secret key file {path} appeared while the store was opening") from None
    except OSError as exc:
        raise StoreError(f"cannot create secret key file {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, base64.b64encode(key) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def key_file_is_private(path: Path) -> bool:
    """Whether only the owner may read ``path`` (a wider key file deserves a warning)."""
    try:
        return not stat.S_IMODE(path.stat().st_mode) & 0o077
    except OSError:
        return True
