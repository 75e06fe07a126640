"""Telling the controller about a write that is already persisted."""

from __future__ import annotations

from collections.abc import Awaitable

from aiohttp import web

from ._keys import LOGGER


async def notify(request: web.Request, what: str, subject: str, call: Awaitable[None]) -> None:
    """Await a controller notification; a failure is logged, never turned into an error answer.

    The write is durable by now, so answering 500 would make a client retry a write that succeeded (and get
    409). The actor reads the persisted state when it (re)starts, so a lost notification delays, never loses.
    """
    try:
        await call
    except Exception as exc:
        request.app[LOGGER].warning(
            "controller notification failed",
            extra={"notification": what, "subject": subject, "error_type": type(exc).__name__},
        )
