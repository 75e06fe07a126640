"""Supervision policy: exponential restart backoff and an OTP-style restart intensity limit."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Supervision:
    """How an actor whose hook or handler raised is restarted.

    The n-th consecutive failure waits ``min(backoff_max, backoff_base * 2**(n-1))`` before the
    restart; a successfully handled message resets n. More than ``max_restarts`` restarts within
    ``within`` seconds means the actor gives up: it is stopped (``on_stop`` runs) and reported to
    the observer; the system and other actors are unaffected. ``max_restarts=None`` never gives up.
    """

    backoff_base: float = 0.005
    backoff_max: float = 30.0
    max_restarts: int | None = 10
    within: float = 60.0

    def __post_init__(self) -> None:
        if not (self.backoff_base >= 0 and math.isfinite(self.backoff_base)):
            raise ValueError(f"backoff_base must be a finite number >= 0, got {self.backoff_base!r}")
        if not self.backoff_max >= self.backoff_base:
            raise ValueError(f"backoff_max must be >= backoff_base, got {self.backoff_max!r}")
        if self.max_restarts is not None and self.max_restarts < 0:
            raise ValueError(f"max_restarts must be >= 0 or None, got {self.max_restarts!r}")
        if not self.within > 0:
            raise ValueError(f"within must be > 0, got {self.within!r}")

    def backoff(self, consecutive_failures: int) -> float:
        """Delay before the restart that follows the ``consecutive_failures``-th failure in a row."""
        exponent = min(max(consecutive_failures - 1, 0), 64)  # 2**64 * base is past any sane max
        return min(self.backoff_max, self.backoff_base * (2.0**exponent))


def allow_restart(history: deque[float], now: float, policy: Supervision) -> bool:
    """Record a restart at ``now`` in ``history`` and say whether it is within the intensity limit.

    ``history`` holds the times of earlier restarts still inside the window; it is pruned here.
    """
    limit = policy.max_restarts
    if limit is None:
        return True
    horizon = now - policy.within
    while history and history[0] <= horizon:
        history.popleft()
    if len(history) >= limit:
        return False
    history.append(now)
    return True
