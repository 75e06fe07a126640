"""The admin bearer token: from configuration, or read from / generated into ``<data-dir>/admin-token``."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from ..config import AdminSettings

TOKEN_FILE = "admin-token"


class AdminTokenError(RuntimeError):
    """The token file exists but cannot be used (unreadable or empty); the message names the file."""


def admin_token(settings: AdminSettings, data_dir: str | Path) -> tuple[str, Path | None]:
    """The bearer token for ``/v1`` and the file it came from (``None`` when it came from configuration).

    The configured token (``admin.token`` or ``CONTROLPLANE_ADMIN_TOKEN``) wins. Otherwise the token file is
    read, or created with a fresh random token; it is created atomically with mode 0600 so that no other
    local user can ever read it, and a pre-existing file that is group/world accessible is tightened.
    """
    if settings.token:
        return settings.token, None
    directory = Path(data_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / TOKEN_FILE
    token = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_token(path), path
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token, path


def _read_token(path: Path) -> str:
    try:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
        token = path.read_text().strip()
    except OSError as exc:
        raise AdminTokenError(f"cannot read admin token file {path}: {exc.strerror}") from exc
    if not token:
        raise AdminTokenError(f"admin token file {path} is empty; delete it to generate a new token")
    return token
