"""The eks-refresh-cron schedule: parsing, next firing, period and per-cluster spreading."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

import pytest

from controlplane.schedule import (
    DEFAULT_REFRESH_CRON,
    InvalidRefreshCronError,
    Schedule,
    parse_go_duration,
    parse_refresh_cron,
    spread_offset,
    validate_refresh_cron,
)

T0 = datetime(2024, 3, 1, 12, 3, 17, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "fire", "period"),
    [
        (DEFAULT_REFRESH_CRON, datetime(2024, 3, 1, 12, 5, tzinfo=UTC), 60 + 43),
        ("0 * * * *", datetime(2024, 3, 1, 13, 0, tzinfo=UTC), 3600 - 197),
        ("@hourly", datetime(2024, 3, 1, 13, 0, tzinfo=UTC), 3600 - 197),
        ("@daily", datetime(2024, 3, 2, tzinfo=UTC), None),
        ("@midnight", datetime(2024, 3, 2, tzinfo=UTC), None),
        ("@weekly", datetime(2024, 3, 3, tzinfo=UTC), None),  # Sunday
        ("@monthly", datetime(2024, 4, 1, tzinfo=UTC), None),
        ("@yearly", datetime(2025, 1, 1, tzinfo=UTC), None),
        ("@ANNUALLY", datetime(2025, 1, 1, tzinfo=UTC), None),
        ("  */10   *  * * MON-FRI ", datetime(2024, 3, 1, 12, 10, tzinfo=UTC), None),
        ("@every 30s", datetime(2024, 3, 1, 12, 3, 30, tzinfo=UTC), 13),
        ("@every 1h30m", datetime(2024, 3, 1, 13, 30, tzinfo=UTC), None),  # aligned on the epoch
    ],
)
def test_good_values(value: str, fire: datetime, period: float | None) -> None:
    assert validate_refresh_cron(value) is None
    schedule = parse_refresh_cron(value)
    assert schedule.next_fire(T0) == fire
    if period is not None:
        assert schedule.period_at(T0) == pytest.approx(period)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "the value is empty"),
        ("* * * *", "expected exactly 5 fields (minute hour day-of-month month day-of-week), got 4"),
        ("0 */5 * * * *", "expected exactly 5 fields"),
        ("61 * * * *", "bad cron expression"),
        ("*/0 * * * *", "bad cron expression"),
        ("a b c d e", "bad cron expression"),
        ("0 0 30 2 *", "the expression never fires"),
        ("H * * * *", "random/hashed field 'H' is not supported"),
        ("R * * * *", "random/hashed field 'R' is not supported"),
        ("@reboot", "unknown descriptor '@reboot'"),
        ("@daily now", "@daily takes no arguments"),
        ("@every", "@every needs a duration"),
        ("@every 5", "missing unit in duration '5'"),
        ("@every 5x", "unknown unit 'x' in duration '5x'"),
        ("@every 1.2.3s", "invalid duration"),
        ("@every 500ms", "@every duration must be at least 1s, got 500ms"),
        ("@every 0", "@every duration must be at least 1s"),
        ("@every -5m", "@every duration must be at least 1s"),
    ],
)
def test_bad_values_name_the_value_and_the_rule(value: str, reason: str) -> None:
    message = validate_refresh_cron(value)
    assert message is not None
    assert message.startswith(f'invalid eks-refresh-cron "{value}": ')
    assert reason in message
    with pytest.raises(InvalidRefreshCronError) as info:
        parse_refresh_cron(value)
    assert str(info.value) == message and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("1.5s", Fraction(3, 2)),
        (".5m", 30),
        ("1.s", 1),
        ("1h2m3s4ms5us6ns", Fraction(3723004005006, 10**9)),
        ("2\u00b5s", Fraction(2, 10**6)),
        ("+2h", 7200),
        ("-1m", -60),
        ("0", 0),
    ],
)
def test_go_durations(text: str, seconds: Fraction | int) -> None:
    assert parse_go_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "1", "1d", ".s", "1.2.3s", "3000000h", "1h 30m"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_go_duration(text)


def test_every_fractional_period_and_strictly_after() -> None:
    schedule = parse_refresh_cron("@every 1.5s")
    assert schedule.every == 1.5
    t = datetime(2024, 1, 1, tzinfo=UTC)  # a multiple of 1.5 s since the epoch
    fires = [t]
    for _ in range(4):
        fires.append(schedule.next_fire(fires[-1]))
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(fires)] == [1.5] * 4
    assert schedule.period_at(fires[1]) == 1.5


def test_cron_next_fire_is_strictly_after_and_in_utc() -> None:
    schedule = parse_refresh_cron(DEFAULT_REFRESH_CRON)
    on_the_dot = datetime(2024, 3, 1, 12, 5, tzinfo=UTC)
    assert schedule.next_fire(on_the_dot) == datetime(2024, 3, 1, 12, 10, tzinfo=UTC)
    assert schedule.period_at(on_the_dot) == 300
    paris = timezone(timedelta(hours=1))
    local = datetime(2024, 3, 1, 13, 3, tzinfo=paris)  # 12:03 UTC
    nxt = schedule.next_fire(local)
    assert nxt == datetime(2024, 3, 1, 12, 5, tzinfo=UTC) and nxt.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule.next_fire(datetime(2024, 3, 1))


def test_irregular_cron_period() -> None:
    schedule = parse_refresh_cron("0 9,17 * * *")
    nine = datetime(2024, 3, 1, 9, tzinfo=UTC)
    assert schedule.period_at(nine) == 8 * 3600
    assert schedule.period_at(schedule.next_fire(nine)) == 16 * 3600


def test_schedule_equality_and_constructor_misuse() -> None:
    assert parse_refresh_cron("@hourly") == parse_refresh_cron("0 * * * *")
    assert parse_refresh_cron("@every 60s") == parse_refresh_cron("@every 1m")
    assert parse_refresh_cron("@every 60s") != parse_refresh_cron("* * * * *")
    with pytest.raises(ValueError, match="exactly one"):
        Schedule("x")
    with pytest.raises(ValueError, match="at least"):
        Schedule("x", every=0.5)


def test_spread_offset_is_stable_and_in_range() -> None:
    # Fixed values: blake2b, not Python's per-process salted hash, so these hold in every process.
    assert spread_offset("prod-use1", 300.0) == spread_offset("prod-use1", 300.0)
    assert spread_offset("prod-use1", 300.0) == pytest.approx(_expected("prod-use1", 300.0))
    assert spread_offset("prod-use1", 300.0) != spread_offset("prod-use2", 300.0)
    assert Schedule.spread_offset("x", 10.0) == spread_offset("x", 10.0)
    for name in ("", "a", "é", "x" * 300):
        assert 0.0 <= spread_offset(name, 1.0) < 1.0
    tiny = 1e-300
    assert 0.0 <= spread_offset("a", tiny) < tiny
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="period"):
            spread_offset("a", bad)


def _expected(name: str, period: float) -> float:
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") >> 11) / 2**53 * period


def test_spread_offsets_cover_the_period_evenly() -> None:
    period = 300.0
    buckets = [0] * 10
    for i in range(10_000):
        offset = spread_offset(f"cluster-{i:05d}", period)
        buckets[int(offset / period * 10)] += 1
    assert all(950 <= b <= 1050 for b in buckets), buckets
