"""Structured logging: one JSON object (or ``key=value`` line) per event, the cluster named on each.

Use ``log = get_logger(__name__)`` and ``log.info("event", extra={"cluster": name, ...})``; every key of
``extra`` becomes a field. Secrets never reach here: callers log identifiers, never credential values.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

import msgspec

_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    for key, value in record.__dict__.items():
        if key not in _RESERVED and not key.startswith("_"):
            fields[key] = value
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        fields["error"] = f"{type(exc).__name__}: {exc}"
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line; unknown values are rendered with ``str``."""

    def format(self, record: logging.LogRecord) -> str:
        return _encoder.encode(_fields(record)).decode()


class KeyValueFormatter(logging.Formatter):
    """``ts=... level=info msg="..." cluster=prod`` lines for terminals."""

    def format(self, record: logging.LogRecord) -> str:
        parts = []
        for key, value in _fields(record).items():
            text = str(value)
            if not text or any(c in text for c in ' "='):
                text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
            parts.append(f"{key}={text}")
        return " ".join(parts)


def _default(obj: Any) -> Any:
    return str(obj)


_encoder = msgspec.json.Encoder(enc_hook=_default)


def configure_logging(level: str = "info", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Install one stderr handler on the root logger (idempotent: replaces an earlier one of ours)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_controlplane", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    handler._controlplane = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Libraries are chatty at debug; keep their noise out unless asked for.
    for noisy in ("botocore", "aiobotocore", "urllib3", "asyncio", "kubernetes_asyncio", "werkzeug"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
