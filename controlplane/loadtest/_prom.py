"""Reading the Prometheus text format: series values, histogram deltas and quantiles (pure functions)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

Labels = tuple[tuple[str, str], ...]
Series = dict[tuple[str, Labels], float]


def _labels(text: str) -> Labels:
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        eq = text.index("=", i)
        key = text[i:eq].strip().lstrip(",").strip()
        j = eq + 2  # past ="
        value: list[str] = []
        while text[j] != '"':
            if text[j] == "\\":
                j += 1
                value.append({"n": "\n"}.get(text[j], text[j]))
            else:
                value.append(text[j])
            j += 1
        out.append((key, "".join(value)))
        i = j + 1
    return tuple(sorted(out))


def parse(text: str, prefixes: Iterable[str] = ("",)) -> Series:
    """Samples whose name starts with one of ``prefixes``, keyed by (name, sorted labels)."""
    wanted = tuple(prefixes)
    series: Series = {}
    for line in text.splitlines():
        if not line or line[0] == "#" or not line.startswith(wanted):
            continue
        brace = line.find("{")
        if brace >= 0:
            close = line.rindex("}")
            name, labels, rest = line[:brace], _labels(line[brace + 1 : close]), line[close + 1 :]
        else:
            name, _, rest = line.partition(" ")
            labels = ()
        parts = rest.split()
        if parts:
            series[(name, labels)] = float(parts[0])
    return series


def value(series: Mapping[tuple[str, Labels], float], name: str, **match: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``match``."""
    total = 0.0
    for (n, labels), v in series.items():
        if n == name and all((k, val) in labels for k, val in match.items()):
            total += v
    return total


def buckets(series: Mapping[tuple[str, Labels], float], name: str) -> list[tuple[float, float]]:
    """Cumulative (upper bound, count) pairs of histogram ``name`` (summed over other labels), sorted."""
    acc: dict[float, float] = {}
    for (n, labels), v in series.items():
        if n != f"{name}_bucket":
            continue
        le = dict(labels)["le"]
        bound = math.inf if le == "+Inf" else float(le)
        acc[bound] = acc.get(bound, 0.0) + v
    return sorted(acc.items())


def delta_buckets(
    after: list[tuple[float, float]], before: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """Observations between two scrapes of the same histogram."""
    prior = dict(before)
    return [(bound, count - prior.get(bound, 0.0)) for bound, count in after]


def quantile(q: float, cumulative: list[tuple[float, float]]) -> float:
    """``histogram_quantile`` as Prometheus computes it: linear interpolation inside the bucket that
    holds the rank; the lowest bucket starts at 0; a rank in the +Inf bucket yields the largest finite
    bound. NaN when the histogram is empty."""
    if not cumulative or cumulative[-1][1] <= 0:
        return math.nan
    total = cumulative[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in cumulative:
        if count >= rank and count > lower_count:
            if math.isinf(bound):
                return lower_bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


def max_bound(cumulative: list[tuple[float, float]]) -> float:
    """Upper bound of the highest non-empty bucket: a ceiling of the largest observation (inf when it
    fell in +Inf, NaN when empty)."""
    previous = 0.0
    highest = math.nan
    for bound, count in cumulative:
        if count > previous:
            highest = bound
        previous = count
    return highest
