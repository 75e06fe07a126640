"""``tick-lag.png``: tick lag (p50/p99 per sample interval) and AWS call rate over the run."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path

from . import _prom
from ._sampler import Sample


def series(samples: Sequence[Sample]) -> dict[str, list[float]]:
    """Per-interval figures between consecutive samples (pure; NaN where nothing was observed)."""
    out: dict[str, list[float]] = {
        "t": [],
        "lag_p50": [],
        "lag_p99": [],
        "calls_per_s": [],
        "refresh_per_s": [],
    }
    for a, b in itertools.pairwise(samples):
        dt = b.t - a.t
        if dt <= 0:
            continue
        d = _prom.delta_buckets(b.lag, a.lag)
        out["t"].append(b.t)
        out["lag_p50"].append(_prom.quantile(0.5, d))
        out["lag_p99"].append(_prom.quantile(0.99, d))
        out["calls_per_s"].append(max(0, b.aws_calls - a.aws_calls) / dt)
        out["refresh_per_s"].append(max(0.0, b.refreshed - a.refreshed) / dt)
    return out


def draw(
    samples: Sequence[Sample], path: Path, *, title: str, marks: Sequence[tuple[float, str]] = ()
) -> None:
    import matplotlib  # noqa: PLC0415 - heavy; only when drawing

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    s = series(samples)
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(10, 6.5))
    try:
        lag50 = [v * 1000 if not math.isnan(v) else math.nan for v in s["lag_p50"]]
        lag99 = [v * 1000 if not math.isnan(v) else math.nan for v in s["lag_p99"]]
        top.plot(s["t"], lag50, label="tick lag p50", linewidth=1)
        top.plot(s["t"], lag99, label="tick lag p99", linewidth=1)
        top.set_ylabel("tick lag (ms, per interval)")
        top.set_yscale("symlog", linthresh=1.0)
        top.legend(loc="upper left")
        top.set_title(title)
        bottom.plot(s["t"], s["calls_per_s"], label="AWS calls/s (simulator)", linewidth=1)
        bottom.plot(s["t"], s["refresh_per_s"], label="refreshes/s", linewidth=1)
        bottom.set_ylabel("rate (1/s)")
        bottom.set_xlabel("seconds since sampling started (control plane up, before the import)")
        bottom.legend(loc="upper left")
        for ax in (top, bottom):
            for at, label in marks:
                ax.axvline(at, color="grey", linestyle=":", linewidth=0.8)
                if ax is top:
                    ax.annotate(label, (at, 1.0), xycoords=("data", "axes fraction"), fontsize=7, rotation=90,
                                va="top", ha="right")  # fmt: skip
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
