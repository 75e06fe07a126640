"""The ``eks-refresh-cron`` schedule: parsing, next firing, and per-cluster spreading. Pure; no I/O.

Accepted values (robfig/cron ``ParseStandard``, which Rancher uses for this setting):

* a standard 5-field cron expression (minute hour day-of-month month day-of-week), evaluated in UTC;
* a descriptor: ``@yearly``/``@annually``, ``@monthly``, ``@weekly``, ``@daily``/``@midnight``, ``@hourly``;
* ``@every <duration>`` in Go's ``time.ParseDuration`` syntax (``30s``, ``5m``, ``1h30m``, ``1.5s``), at
  least 1s. Unlike robfig (which truncates to whole seconds) the duration is kept exactly. Firings are
  aligned on multiples of the duration since the Unix epoch, so they do not move across restarts.

The scheduler fires a round at ``next_fire``, and hands each cluster its tick ``spread_offset(name,
period_at(fire))`` seconds later, so one round is spread evenly and stably over its period.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, datetime
from fractions import Fraction

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError, croniter

DEFAULT_REFRESH_CRON = "*/5 * * * *"
MIN_EVERY_SECONDS = 1.0

_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# Go's time.ParseDuration units, in seconds.
_UNITS: dict[str, Fraction] = {
    "ns": Fraction(1, 10**9),
    "us": Fraction(1, 10**6),
    "\u00b5s": Fraction(1, 10**6),  # micro sign
    "\u03bcs": Fraction(1, 10**6),  # Greek mu
    "ms": Fraction(1, 10**3),
    "s": Fraction(1),
    "m": Fraction(60),
    "h": Fraction(3600),
}
_COMPONENT = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([^\d.]+)")
_GO_MAX_DURATION = Fraction(2**63 - 1, 10**9)  # int64 nanoseconds
# croniter extensions that are random or hashed per job: not cron, and not deterministic.
_RANDOM_ELEMENT = re.compile(r"(?i)^(r|h)(\(.*|/.*)?$")
# Validation searches from a fixed instant so that the verdict never depends on the clock.
_VALIDATION_START = datetime(2000, 1, 1, tzinfo=UTC)


class InvalidRefreshCronError(ValueError):
    """The setting value is not a valid schedule; the message names the value and the rule."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"invalid eks-refresh-cron {_quote(value)}: {reason}")
        self.value = value
        self.reason = reason


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_go_duration(text: str) -> Fraction:
    """Seconds in a Go ``time.ParseDuration`` string; ValueError with the reason when invalid."""
    s = text
    negative = False
    if s[:1] in ("+", "-"):
        negative = s[0] == "-"
        s = s[1:]
    if s == "0":
        return Fraction(0)
    if not s:
        raise ValueError(f"invalid duration {text!r}")
    total = Fraction(0)
    pos = 0
    while pos < len(s):
        m = _COMPONENT.match(s, pos)
        if m is None:
            if re.fullmatch(r"[\d.]+", s[pos:]):
                raise ValueError(f"missing unit in duration {text!r}")
            raise ValueError(f"invalid duration {text!r}")
        number, unit = m.groups()
        if unit not in _UNITS:
            if unit.isalpha() or unit in ("\u00b5", "\u03bc"):
                raise ValueError(f"unknown unit {unit!r} in duration {text!r}")
            raise ValueError(f"invalid duration {text!r}")
        total += Fraction(number) * _UNITS[unit]
        pos = m.end()
    if total > _GO_MAX_DURATION:
        raise ValueError(f"invalid duration {text!r}")
    return -total if negative else total


def _validate_cron_fields(value: str, expression: str) -> str:
    fields = expression.split()
    if len(fields) != 5:
        raise InvalidRefreshCronError(
            value,
            f"expected exactly 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}",
        )
    for field in fields:
        for element in field.split(","):
            if _RANDOM_ELEMENT.match(element):
                raise InvalidRefreshCronError(value, f"random/hashed field {field!r} is not supported")
    normalized = " ".join(fields)
    try:
        croniter(normalized, _VALIDATION_START).get_next(datetime)
    except CroniterBadDateError:
        raise InvalidRefreshCronError(value, "the expression never fires") from None
    except (CroniterBadCronError, CroniterError, ValueError, KeyError) as exc:
        raise InvalidRefreshCronError(value, f"bad cron expression: {exc}") from None
    return normalized


def _aware_utc(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("Schedule needs a timezone-aware datetime")
    return t.astimezone(UTC)


class Schedule:
    """A parsed ``eks-refresh-cron`` value. Immutable; build it with ``parse_refresh_cron``."""

    __slots__ = ("_cron", "_every", "expression")

    def __init__(self, expression: str, *, cron: str | None = None, every: float | None = None) -> None:
        if (cron is None) == (every is None):
            raise ValueError("Schedule needs exactly one of cron or every")
        if every is not None and not every >= MIN_EVERY_SECONDS:
            raise ValueError(f"@every period must be at least {MIN_EVERY_SECONDS}s")
        self.expression = expression
        self._cron = cron
        self._every = every

    def __repr__(self) -> str:
        return f"Schedule({self.expression!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return (self._cron, self._every) == (other._cron, other._every)

    def __hash__(self) -> int:
        return hash((self._cron, self._every))

    @property
    def every(self) -> float | None:
        """The constant period of an ``@every`` schedule in seconds, None for cron schedules."""
        return self._every

    def next_fire(self, after: datetime) -> datetime:
        """The first firing strictly after ``after`` (timezone-aware), as a UTC datetime."""
        start = _aware_utc(after)
        if self._every is not None:
            period = self._every
            ts = start.timestamp()
            k = math.floor(ts / period) + 1
            fire = datetime.fromtimestamp(k * period, UTC)
            while fire <= start:  # float rounding at microsecond precision
                k += 1
                fire = datetime.fromtimestamp(k * period, UTC)
            return fire
        assert self._cron is not None
        nxt: datetime = croniter(self._cron, start).get_next(datetime)
        return nxt.astimezone(UTC)

    def period_at(self, t: datetime) -> float:
        """Seconds from ``t`` to the following firing; called at a firing, the length of that round."""
        return (self.next_fire(t) - _aware_utc(t)).total_seconds()

    @staticmethod
    def spread_offset(cluster_name: str, period: float) -> float:
        return spread_offset(cluster_name, period)


def spread_offset(cluster_name: str, period: float) -> float:
    """A stable offset in ``[0, period)`` for a cluster's tick within a round.

    Derived from blake2b of the name (not Python's per-process salted ``hash``), so it is the same across
    runs and processes, and uniform, so the ticks of one round spread evenly over the period.
    """
    if not period > 0 or math.isinf(period):
        raise ValueError(f"period must be a positive finite number of seconds, got {period!r}")
    digest = hashlib.blake2b(cluster_name.encode("utf-8"), digest_size=8).digest()
    fraction = (int.from_bytes(digest, "big") >> 11) / float(1 << 53)  # exactly representable, < 1
    offset = fraction * period
    return offset if offset < period else math.nextafter(period, 0.0)


def parse_refresh_cron(value: str) -> Schedule:
    """Parse an ``eks-refresh-cron`` value; InvalidRefreshCronError names the value and the rule broken."""
    text = value.strip()
    if not text:
        raise InvalidRefreshCronError(value, "the value is empty")
    if text.startswith("@"):
        head, _, rest = text.partition(" ")
        descriptor = head.lower()
        if descriptor == "@every":
            duration = rest.strip()
            if not duration:
                raise InvalidRefreshCronError(value, "@every needs a duration such as 30s, 5m or 1h30m")
            try:
                seconds = parse_go_duration(duration)
            except ValueError as exc:
                raise InvalidRefreshCronError(value, f"@every: {exc}") from None
            if seconds < MIN_EVERY_SECONDS:
                raise InvalidRefreshCronError(value, f"@every duration must be at least 1s, got {duration}")
            return Schedule(text, every=float(seconds))
        if descriptor not in _DESCRIPTORS:
            raise InvalidRefreshCronError(
                value,
                f"unknown descriptor {head!r} (use @yearly, @annually, @monthly, @weekly, @daily, "
                "@midnight, @hourly or @every <duration>)",
            )
        if rest.strip():
            raise InvalidRefreshCronError(value, f"{head} takes no arguments")
        return Schedule(text, cron=_DESCRIPTORS[descriptor])
    return Schedule(text, cron=_validate_cron_fields(value, text))


def validate_refresh_cron(value: str) -> str | None:
    """The error message for an invalid value, or None when it is valid (for the settings API)."""
    try:
        parse_refresh_cron(value)
    except InvalidRefreshCronError as exc:
        return str(exc)
    return None
