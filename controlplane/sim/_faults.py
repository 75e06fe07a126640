"""Fault decisions for AWS requests: latency, throttling (probability and token bucket), 5xx, resets."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Literal

from ._settings import FaultSettings

Fault = Literal["reset", "throttle", "error"]


class _Bucket:
    __slots__ = ("last", "tokens")

    def __init__(self, tokens: float, last: float) -> None:
        self.tokens = tokens
        self.last = last


class FaultInjector:
    """Decides, per request, whether and how it fails. Replaced wholesale on ``PUT /_sim/faults``."""

    def __init__(self, settings: FaultSettings, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.active = settings.active
        self._clock = clock
        self._rng = random.Random(settings.seed)
        self._buckets: dict[str, _Bucket] = {}
        self.counts: dict[str, int] = {"latency": 0, "throttle": 0, "error": 0, "reset": 0}

    def applies_to(self, service: str) -> bool:
        s = self.settings.services
        return self.active and (s is None or service in s)

    def latency(self) -> float:
        s = self.settings
        if s.latency == "none":
            return 0.0
        if s.latency == "fixed":
            d = s.latency_seconds
        elif s.latency == "uniform":
            d = self._rng.uniform(s.latency_seconds, max(s.latency_seconds, s.latency_max_seconds))
        else:
            median = max(s.latency_seconds, 1e-6)
            d = self._rng.lognormvariate(math.log(median), s.latency_sigma)
            if s.latency_max_seconds > 0:
                d = min(d, s.latency_max_seconds)
        if d > 0:
            self.counts["latency"] += 1
        return max(d, 0.0)

    def _bucket_allows(self, service: str) -> bool:
        rate = self.settings.throttle_rate
        if rate is None:
            return True
        now = self._clock()
        burst = max(self.settings.throttle_burst, 1.0)
        b = self._buckets.get(service)
        if b is None:
            b = self._buckets[service] = _Bucket(burst, now)
        b.tokens = min(burst, b.tokens + (now - b.last) * rate)
        b.last = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return True
        return False

    def decide(self, service: str) -> Fault | None:
        s = self.settings
        rng = self._rng
        fault: Fault | None = None
        if s.reset_probability > 0 and rng.random() < s.reset_probability:
            fault = "reset"
        elif (s.throttle_probability > 0 and rng.random() < s.throttle_probability) or (
            not self._bucket_allows(service)
        ):
            fault = "throttle"
        elif s.error_probability > 0 and rng.random() < s.error_probability:
            fault = "error"
        if fault is not None:
            self.counts[fault] += 1
        return fault
