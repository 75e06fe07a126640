"""Client-side rate limiting: a token bucket plus an in-flight cap, O(1) per call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ._settings import ServiceLimits

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]


class TokenBucket:
    """A token bucket that hands out reservations instead of polling.

    ``reserve()`` takes one token now and returns how long the caller must wait before using it.
    The token count may go negative: each waiter is given the moment its token will have been
    refilled, so waiters start in arrival order at the configured rate with no timer per waiter
    and no loop (O(1) per call).
    """

    __slots__ = ("_clock", "_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        if not rate > 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def reserve(self) -> float:
        """Take a token; return the seconds to wait before it may be used (0.0 if available now)."""
        now = self._clock()
        tokens = self._tokens + (now - self._last) * self.rate
        tokens = min(tokens, self.burst)
        self._last = now
        tokens -= 1.0
        self._tokens = tokens
        return 0.0 if tokens >= 0.0 else -tokens / self.rate

    def refund(self) -> None:
        """Give back a reserved token (its holder was cancelled before using it)."""
        self._tokens = min(self.burst, self._tokens + 1.0)

    @property
    def tokens(self) -> float:
        """Tokens available now (negative while reservations are outstanding)."""
        return min(self.burst, self._tokens + (self._clock() - self._last) * self.rate)


class Limiter:
    """Rate (token bucket) and concurrency (semaphore) limits of one (account, region, service)."""

    __slots__ = ("_bucket", "_semaphore", "_sleep", "in_flight", "max_in_flight")

    def __init__(
        self,
        limits: ServiceLimits,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._bucket = TokenBucket(limits.rate, limits.burst, clock) if limits.rate is not None else None
        self._semaphore = asyncio.Semaphore(limits.max_in_flight)
        self._sleep = sleep
        self.max_in_flight = limits.max_in_flight
        self.in_flight = 0

    async def acquire(self) -> None:
        """Wait for a token, then for an in-flight slot. Pair with ``release()``."""
        bucket = self._bucket
        if bucket is not None:
            delay = bucket.reserve()
            if delay > 0.0:
                try:
                    await self._sleep(delay)
                except BaseException:
                    bucket.refund()
                    raise
        await self._semaphore.acquire()
        self.in_flight += 1

    def refund(self) -> None:
        """Give back the token of an acquisition that sent no request."""
        if self._bucket is not None:
            self._bucket.refund()

    def release(self) -> None:
        """Free the in-flight slot taken by ``acquire()``."""
        self.in_flight -= 1
        self._semaphore.release()
