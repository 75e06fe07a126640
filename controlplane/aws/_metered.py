"""The metered call: rate limit, in-flight gauge, latency, outcome, retry and throttle metrics.

Metric label children are resolved once per operation (``labels()`` costs more than ``inc()``), so a
call does a dict lookup and a few increments around the request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

from botocore.exceptions import ClientError
from prometheus_client import Counter

from controlplane.metrics import (
    AWS_IN_FLIGHT,
    AWS_RATE_LIMIT_WAIT_SECONDS,
    AWS_REQUEST_SECONDS,
    AWS_REQUESTS,
    AWS_RETRIES,
    AWS_THROTTLES,
)

from ._errors import THROTTLE_CODES, classify
from ._limits import Limiter
from ._operations import Operation


class _OpStats:
    """Metric children of one operation, resolved once (``labels()`` costs more than ``inc()``). Made
    when the operation is first called, and each outcome when it first happens: the exposition holds
    the series that exist, not one per registered operation and outcome (that was most of /metrics)."""

    __slots__ = ("_op", "in_flight", "outcomes", "retries", "seconds", "wait")

    def __init__(self, op: Operation) -> None:
        self._op = op
        self.outcomes: dict[str, Counter] = {}
        self.seconds = AWS_REQUEST_SECONDS.labels(op.service, op.name)
        self.retries = AWS_RETRIES.labels(op.service)
        self.in_flight = AWS_IN_FLIGHT.labels(op.service)
        self.wait = AWS_RATE_LIMIT_WAIT_SECONDS.labels(op.service)

    def outcome(self, outcome: str) -> Counter:
        child = self.outcomes.get(outcome)
        if child is None:
            child = self.outcomes[outcome] = AWS_REQUESTS.labels(self._op.service, self._op.name, outcome)
        return child


_STATS: dict[tuple[str, str], _OpStats] = {}


def _stats(op: Operation) -> _OpStats:
    stats = _STATS.get((op.service, op.name))
    if stats is None:
        stats = _STATS[(op.service, op.name)] = _OpStats(op)
    return stats


def _retry_attempts(response: Any) -> int:
    meta = response.get("ResponseMetadata") if isinstance(response, dict) else None
    return int(meta.get("RetryAttempts") or 0) if meta else 0


def throttle_hook(service: str) -> Callable[..., None]:
    """A botocore ``needs-retry`` handler that counts the throttled attempts of ``service``'s calls."""
    counter = AWS_THROTTLES.labels(service)

    def on_needs_retry(response: Any = None, **_: Any) -> None:
        # Runs after every attempt, before botocore's retry handler decides; never returns a value
        # so it cannot alter that decision.
        if response is None:
            return
        http, parsed = response
        code = (parsed.get("Error") or {}).get("Code") if isinstance(parsed, dict) else None
        if code in THROTTLE_CODES or getattr(http, "status_code", 0) == 429:
            counter.inc()

    return on_needs_retry


async def invoke(op: Operation, limiter: Limiter, request: Callable[[], Awaitable[Any]]) -> Any:
    """Send ``request`` (one call of ``op``) under ``limiter``, counting it; ``None`` when it was a
    paginator's end. Raises a typed ``AwsError`` classified from botocore's exception."""
    stats = _stats(op)
    started = perf_counter()
    await limiter.acquire()
    sent = perf_counter()
    stats.wait.observe(sent - started)
    stats.in_flight.inc()
    try:
        response = await request()
    except StopAsyncIteration:
        limiter.refund()  # the paginator ended without a request: give the token back
        limiter.release()
        stats.in_flight.dec()
        return None
    except Exception as exc:
        limiter.release()
        stats.in_flight.dec()
        stats.seconds.observe(perf_counter() - sent)
        error = classify(exc, op.service, op.name)
        if isinstance(exc, ClientError) and (retries := _retry_attempts(exc.response)):
            stats.retries.inc(retries)
        stats.outcome(error.outcome).inc()
        raise error from exc
    except BaseException:
        limiter.release()
        stats.in_flight.dec()
        raise
    limiter.release()
    stats.in_flight.dec()
    stats.seconds.observe(perf_counter() - sent)
    if retries := _retry_attempts(response):
        stats.retries.inc(retries)
    stats.outcome("ok").inc()
    return response
