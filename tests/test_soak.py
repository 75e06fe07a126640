"""The soak's pure parts: the RSS slope, the warm-up, the figures and the options it implies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from controlplane.loadtest import parse_args
from controlplane.loadtest._soak import SoakPoint, figures, slope_per_hour, summary, warmup_seconds

ROOT = Path(__file__).resolve().parents[1]


def point(t: float, rss: int, **kw: float) -> SoakPoint:
    return SoakPoint(
        t=t,
        rss=rss,
        fds=int(kw.get("fds", 50)),
        threads=9,
        tasks=kw.get("tasks", 100.0),
        actors=10.0,
        clusters=10.0,
        mailbox={"cluster": kw.get("mailbox", 0.0)},
        db_bytes=1000,
        wal_bytes=int(kw.get("wal", 10)),
        pending_writes=0.0,
    )


def test_slope_is_per_hour_and_needs_three_points() -> None:
    assert slope_per_hour([(0.0, 0.0), (1.0, 1.0)]) is None
    assert slope_per_hour([(0.0, 5.0), (60.0, 5.0), (120.0, 5.0)]) == 0.0
    assert slope_per_hour([(0.0, 0.0), (1800.0, 1000.0), (3600.0, 2000.0)]) == pytest.approx(2000.0)


def test_warmup_is_a_third_capped_at_ten_minutes() -> None:
    assert warmup_seconds(90.0) == 30.0
    assert warmup_seconds(3600.0) == 600.0


def test_figures_leave_the_warmup_out_of_the_slope() -> None:
    # RSS climbs during the warm-up (first third), then stays flat: no leak.
    points = [point(t, 100 + (min(t, 30) * 10)) for t in range(0, 91, 5)]
    points[-1] = point(90, 400, fds=52, tasks=120, mailbox=7, wal=99)
    f = figures(points[:-1], 90.0)
    assert f["rss_slope_bytes_per_hour"] == 0.0
    f = figures(points, 90.0)
    assert f["fds_start"] == 50 and f["fds_end"] == 52 and f["tasks_end"] == 120
    assert f["mailbox_depth_max"] == {"cluster": 7.0} and f["wal_bytes_max"] == 99
    assert "RSS slope after warm-up" in summary(f | {"rounds_completed": 1, "churn": {}})


def test_soak_options_default_to_the_issue_sizes_unless_given() -> None:
    o = parse_args(["--soak", "30"])
    assert (o.clusters, o.churn_percent, o.throttle_percent) == (10_000, 5.0, 5.0)
    assert o.skip_baselines and o.skip_restart
    o = parse_args(["--soak", "1", "--clusters", "40", "--throttle-percent=0"])
    assert (o.clusters, o.throttle_percent) == (40, 0.0)
    assert o.deadline > 60
    with pytest.raises(SystemExit):
        parse_args(["--soak", "1", "--replicas", "2"])


def test_tiny_soak_reports_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "soak"
    argv = [
        sys.executable, "-m", "controlplane.cli", "load", "--soak", "0.2",
        "--clusters", "20", "--nodegroups", "1", "--period", "2", "--time-scale", "0.01",
        "--initial-spread", "0.5", "--churn-percent", "15", "--out", str(out), "--timeout", "90",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        output, _ = proc.communicate(timeout=110)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"soak timed out:\n{output.decode(errors='replace')[-3000:]}")
    text = output.decode(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    soak = json.loads((out / "result.json").read_text())["soak"]
    assert soak["samples"] >= 10 and len(soak["points"]) == soak["samples"]
    assert soak["rss_slope_bytes_per_hour"] is not None
    assert soak["fds_end"] > 0 and soak["tasks_max"] > 0 and soak["threads_end"] > 0
    assert soak["store_bytes_end"] > 0 and "cluster" in soak["mailbox_depth_max"]
    assert soak["churn"]["created"] >= 1 and soak["churn"]["failed"] == 0
    assert (out / "soak.png").stat().st_size > 10_000
    assert "RSS slope after warm-up" in text
