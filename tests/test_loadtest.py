"""The load-test harness: pure helpers, and one tiny end-to-end run in a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest

from controlplane.loadtest import RESULT_KEYS, LoadOptions, histogram_quantile, parse_args, targets
from controlplane.loadtest._api_bench import Watchers
from controlplane.loadtest._clients import AdminClient, calls_delta, update_patch
from controlplane.loadtest._prom import buckets, delta_buckets, max_bound, parse, value
from controlplane.loadtest._report import percentile, table
from controlplane.loadtest._restart import _delta_takeovers
from controlplane.loadtest._rounds import _per_period
from controlplane.loadtest._sampler import Sample

ROOT = Path(__file__).resolve().parents[1]

METRICS = """\
# HELP controlplane_sync_tick_lag_seconds Delay
# TYPE controlplane_sync_tick_lag_seconds histogram
controlplane_sync_tick_lag_seconds_bucket{le="0.1"} 50.0
controlplane_sync_tick_lag_seconds_bucket{le="1.0"} 90.0
controlplane_sync_tick_lag_seconds_bucket{le="10.0"} 100.0
controlplane_sync_tick_lag_seconds_bucket{le="+Inf"} 100.0
controlplane_sync_tick_lag_seconds_count 100.0
controlplane_sync_ticks_total{outcome="refreshed"} 7.0
controlplane_sync_ticks_total{outcome="skipped_busy"} 2.0
controlplane_clusters{phase="active"} 3.0
controlplane_clusters{phase="new"} 1.0
controlplane_weird{a="x\\"y",b="z,w"} 4.0
"""


def test_parse_reads_labels_values_and_escapes() -> None:
    s = parse(METRICS)
    assert value(s, "controlplane_sync_ticks_total", outcome="refreshed") == 7.0
    assert value(s, "controlplane_sync_ticks_total") == 9.0
    assert value(s, "controlplane_clusters") == 4.0
    assert value(s, "controlplane_weird", a='x"y', b="z,w") == 4.0
    assert parse(METRICS, ("controlplane_clusters",)).keys() == {
        ("controlplane_clusters", (("phase", "active"),)),
        ("controlplane_clusters", (("phase", "new"),)),
    }


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    b = buckets(parse(METRICS), "controlplane_sync_tick_lag_seconds")
    assert b == [(0.1, 50.0), (1.0, 90.0), (10.0, 100.0), (math.inf, 100.0)]
    assert histogram_quantile(0.5, b) == pytest.approx(0.1)  # rank 50 closes the first bucket
    assert histogram_quantile(0.25, b) == pytest.approx(0.05)  # lowest bucket starts at 0
    assert histogram_quantile(0.7, b) == pytest.approx(0.1 + 0.9 * 20 / 40)
    assert histogram_quantile(0.99, b) == pytest.approx(1.0 + 9.0 * 9 / 10)
    assert max_bound(b) == 10.0
    assert math.isnan(histogram_quantile(0.5, [(1.0, 0.0), (math.inf, 0.0)]))
    # A rank in +Inf yields the largest finite bound, as histogram_quantile does.
    assert histogram_quantile(0.99, [(1.0, 1.0), (math.inf, 10.0)]) == 1.0
    assert max_bound([(1.0, 1.0), (math.inf, 10.0)]) == math.inf


def test_delta_buckets_subtracts_the_earlier_scrape() -> None:
    before = [(0.1, 10.0), (1.0, 10.0), (math.inf, 10.0)]
    after = [(0.1, 10.0), (1.0, 30.0), (math.inf, 30.0)]
    d = delta_buckets(after, before)
    assert d == [(0.1, 0.0), (1.0, 20.0), (math.inf, 20.0)]
    assert histogram_quantile(0.5, d) == pytest.approx(0.55)
    assert max_bound(d) == 1.0


def test_percentile_and_calls_delta() -> None:
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 0.99) == 99.0
    assert math.isnan(percentile([], 0.5))
    after = {"eks": {"DescribeCluster": 10, "ListNodegroups": 4}, "sts": {"GetCallerIdentity": 1}}
    before = {"eks": {"DescribeCluster": 4, "ListNodegroups": 4}}
    assert calls_delta(after, before) == {"eks:DescribeCluster": 6, "sts:GetCallerIdentity": 1}


def test_update_patch_moves_one_desired_size_within_bounds() -> None:
    ng = {"nodegroupName": "ng-0", "minSize": 1, "maxSize": 3, "desiredSize": 2}
    cluster = {"status": {"eksStatus": {"upstreamSpec": {"nodeGroups": [ng]}}}}
    patch = update_patch(cluster, 4)
    eks = patch["spec"]["eksConfig"]
    assert eks["tags"] == {"load-round": "4"}
    assert eks["nodeGroups"][0]["desiredSize"] == 1
    assert ng["desiredSize"] == 2  # the input is not modified
    ng["desiredSize"] = 1
    assert update_patch(cluster, 5)["spec"]["eksConfig"]["nodeGroups"][0]["desiredSize"] == 2
    assert "nodeGroups" not in update_patch({"status": {}}, 1)["spec"]["eksConfig"]


def test_options_validate_and_derive() -> None:
    opts = parse_args(["--clusters", "90", "--period", "30", "--churn-percent", "10", "--rounds", "2"])
    assert opts.cron == "@every 30s"
    assert opts.churn_per_round() == (3, 3, 3)
    assert LoadOptions(clusters=10, churn_percent=50).churn_per_round() == (3, 1, 1)
    assert opts.deadline > 2 * 30
    with pytest.raises(ValueError, match="throttle"):
        LoadOptions(throttle_percent=101)
    with pytest.raises(SystemExit):
        parse_args(["--clusters", "0"])


def test_targets_judge_figures_and_table_names_every_key() -> None:
    r = dict.fromkeys(RESULT_KEYS)
    r |= {
        "clusters": 50_000,
        "nodegroups": 2,
        "rounds": 2,
        "rounds_completed": 2,
        "ticks_skipped_overrun": 0,
        "round_seconds_p99": 270.0,
        "tick_lag_seconds_p99": 0.4,
        "loop_lag_seconds_max": 1.5,
        "cpu_seconds_per_1000_refreshes": 2.0,
        "cpu_seconds_per_1000_refreshes_fleet": 1.2,
        "raw_floor_cpu_seconds_per_1000_refreshes": 1.5,
        "floor_cpu_seconds_per_1000_refreshes": 5.0,
        "aws_calls_per_refresh": 4.0,
        "rss_bytes_per_cluster": 25_000.0,
        "admin_p99_seconds": 0.01,
        "metrics_scrape_seconds_max": 0.2,
        "restart_admin_ready_seconds": 1.0,
        "import_clusters_per_second": 250.0,
    }
    met = {t.name: t.met for t in targets(r, 300.0)}
    assert met == {
        "fleet size": True,
        "rounds inside period": True,
        "tick lag p99": True,
        "event-loop stall (max)": False,
        "CPU/refresh (raw)": True,  # 2.0 <= 1.5 x 1.5
        "CPU/refresh (SDK)": True,  # 2.0 <= 0.5 x 5.0
        "CPU/refresh, fleet (raw)": True,  # 1.2 <= 1.5 x 1.5
        "CPU/refresh, fleet (SDK)": True,  # 1.2 <= 0.5 x 5.0
        "AWS calls per refresh": True,
        "RSS per cluster": False,
        "admin API p99": True,
        "/metrics scrape (max)": True,
        "restart: admin API up": True,
        "restart: all ticked": None,
        "import rate": False,
        "summary page p99": None,
        "watch fan-out": None,
    }
    assert {t.name: t.met for t in targets({**r, "clusters": 10_000}, 60.0)}["fleet size"] is None
    # The whole process's CPU and the fleet's own (without the admin API's threads) are judged apart.
    heavy = {t.name: t.met for t in targets({**r, "cpu_seconds_per_1000_refreshes": 2.3}, 300.0)}
    assert (heavy["CPU/refresh (raw)"], heavy["CPU/refresh, fleet (raw)"]) == (False, True)
    # A soak times no rounds: the goal is not judged, nor shown as zero rounds completed.
    untimed = {t.name: t for t in targets({**r, "rounds_completed": None}, 300.0)}["rounds inside period"]
    assert (untimed.met, untimed.value) == (None, "n/a")
    watched = {**r, "watchers": 100, "watch_fanout_lag_seconds_p99": 0.02, "watch_disconnects": 0}
    assert {t.name: t.met for t in targets({**watched, "watch_errors": 0}, 300.0)}["watch fan-out"] is True
    # A slow reader's aborted stream is an error on the client's side: still a watcher dropped.
    assert {t.name: t.met for t in targets({**watched, "watch_errors": 100}, 300.0)}["watch fan-out"] is False
    text = table(r, 300.0)
    for key in RESULT_KEYS:
        assert key in text
    assert "0.40x floor" in text


@pytest.mark.slow
def test_tiny_run_writes_every_key(tmp_path: Path) -> None:
    out = tmp_path / "load"
    argv = [
        sys.executable, "-m", "controlplane.cli", "load",
        "--clusters", "30", "--nodegroups", "1", "--rounds", "2", "--period", "2",
        "--time-scale", "0.01", "--initial-spread", "0.5", "--churn-percent", "10",
        "--admin-requests", "100", "--baseline-refreshes", "100", "--out", str(out), "--timeout", "80",
        "--watchers", "20", "--list-requests", "20",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Own session: on a timeout the whole group (harness, simulator, control plane) is killed.
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        output, _ = proc.communicate(timeout=100)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"load test timed out:\n{output.decode(errors='replace')[-3000:]}")
    text = output.decode(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    result = json.loads((out / "result.json").read_text())
    missing = [k for k in RESULT_KEYS if result.get(k) is None]
    assert not missing, (missing, text[-3000:])
    assert result["clusters"] == 30
    assert result["nodegroups"] == 1
    assert result["rounds"] == 2
    assert result["rounds_completed"] >= 1
    assert result["aws_calls_per_refresh"] > 0
    assert result["refreshes_measured"] > 0
    assert 0 < result["time_to_all_active_seconds"] < 60
    assert result["rss_bytes_peak"] > result["rss_bytes_idle"] > 0
    assert result["cpu_seconds_per_1000_refreshes"] > 0
    assert result["floor_cpu_seconds_per_1000_refreshes"] > 0
    assert result["boto3_cpu_seconds_per_1000_refreshes"] > 0
    assert result["raw_floor_cpu_seconds_per_1000_refreshes"] > 0
    # The admin API's threads served the harness's readers: some CPU, and never all of it.
    assert 0 < result["admin_cpu_seconds_measured"] < result["cpu_seconds_measured"]
    assert 0 < result["cpu_seconds_per_1000_refreshes_fleet"] < result["cpu_seconds_per_1000_refreshes"]
    assert result["baseline_raw"]["calls"] == 100 * 4 and result["baseline_raw"]["errors"] == 0
    assert result["import_clusters_per_second"] > 0
    assert 0 < result["restart_admin_ready_seconds"] <= result["restart_all_ticked_seconds"]
    assert result["baseline_aiobotocore"]["calls"] == 100 * 4  # DescribeCluster, List, 1 Describe, Addon
    assert result["admin_requests"] == 100
    assert result["list_summary_requests"] == 20
    assert result["watchers"] == 20
    assert result["watch_events_delivered"] > 0  # the rounds' status commits reached the watchers
    assert result["watch_disconnects"] == result["watch_errors"] == 0
    assert result["metrics_bytes"] > 1000
    assert 0 < result["restart_to_first_tick_seconds"] < 30
    assert result["churn"]["failed"] == 0
    assert result["churn"]["created"] >= 1
    assert (out / "tick-lag.png").stat().st_size > 10_000
    assert "restart: all ticked" in text  # the table was printed
    # Every child was stopped: no process still holds a log file open under the output directory.
    for name in ("simulator", "controlplane-1", "controlplane-2"):
        assert (out / f"{name}.log").exists()


def test_refreshes_per_period_counts_whole_periods_after_the_first_tick() -> None:
    def sample(t: float, refreshed: float) -> Sample:
        return Sample(
            t=t, rss=0, cpu=0.0, refreshed=refreshed, ticks=refreshed, active=0.0, clusters=0.0,
            rounds=0.0, round_sum=0.0, overrun=0.0, reconciles=0.0, lag=[], aws_calls=0,
            scrape_seconds=0.0, scrape_bytes=0,
        )  # fmt: skip

    samples = [sample(float(t), 10.0 * max(0, t - 2)) for t in range(0, 30)]
    first = samples[3]
    assert _per_period(samples, first, samples[-1], 10.0) == [100.0, 100.0]
    assert _per_period(samples, None, samples[-1], 10.0) == []
    assert _per_period(samples, first, samples[12], 10.0) == []  # no whole period before the end


@pytest.mark.slow
@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_tiny_run_with_two_replicas_and_a_failover(tmp_path: Path, store: str) -> None:
    out = tmp_path / "load"
    argv = [
        sys.executable, "-m", "controlplane.cli", "load",
        "--clusters", "20", "--nodegroups", "1", "--rounds", "1", "--period", "2",
        "--time-scale", "0.01", "--initial-spread", "0.5", "--admin-requests", "40",
        "--replicas", "2", "--failover", "--skip-baselines", "--out", str(out), "--timeout", "120",
        "--store", store,
    ]  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        # Shorter leases, so the fail-over takes seconds (the timing of a real run is the default's).
        "CONTROLPLANE_REPLICA_LEASE_DURATION": "3",
        "CONTROLPLANE_REPLICA_RENEW_DEADLINE": "2",
        "CONTROLPLANE_REPLICA_RETRY_PERIOD": "0.5",
        "CONTROLPLANE_REPLICA_LEASE_MARGIN": "0.2",
    }
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        output, _ = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"load test timed out:\n{output.decode(errors='replace')[-3000:]}")
    text = output.decode(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    result = json.loads((out / "result.json").read_text())
    assert result["replicas"] == 2
    assert result["refreshes_measured"] >= 20, text[-3000:]  # both replicas' refreshes are counted
    assert result["failover_clusters"] > 0
    assert 0 < result["failover_seconds"] < 30, text[-3000:]
    # The first orphan is refreshed after the lease expired (3 s here), and no later than the last.
    assert 2 < result["failover_first_refresh_seconds"] <= result["failover_seconds"], text[-3000:]
    # Where that time went: the victim's leases ran out within the 3 s lease of the kill, then every
    # shard of the victim's half ran on the survivor; the worst shard's bound is at least the mean.
    assert 0 < result["failover_leases_expired_seconds"] <= 3.5, text[-3000:]
    assert result["failover_shards_taken"] == 128, text[-3000:]
    assert 0 <= result["failover_shard_running_seconds_mean"] <= result["failover_shard_running_seconds_max"]
    assert "fail-over: orphans refreshed" in text
    # Where the CPU went during the take-over: the survivor and the simulator worked, within the machine.
    assert result["failover_survivors_cpu_seconds"] > 0 and result["failover_simulator_cpu_seconds"] > 0
    assert 0 < result["failover_machine_busy"] <= 1
    assert 0 < result["restart_to_first_tick_seconds"] < 60
    for name in ("controlplane-1-load-r1", "controlplane-1-load-r2", "controlplane-2-load-r1"):
        assert (out / f"{name}.log").exists()
    assert "failover_seconds" in text
    if store == "postgresql":
        # The run started its own server (durable defaults), and measured it during the rounds.
        assert "a throwaway PostgreSQL server" in text
        assert result["postgres_commits_per_second"] > 0
        assert result["postgres_rows_written_per_second"] > 0
        assert 0 < result["postgres_cpu_share"] < 1
        assert "postgres_cpu_share" in text
        assert not (out / "data" / "controlplane.db").exists()  # nothing went to SQLite
    else:
        assert "postgres_cpu_share" not in result


async def _watch_like_a_client() -> tuple[list[str], dict[str, Any]]:
    """A fake admin API: the first stream ends (the server's watch timeout), the second fails, the third
    blocks; returns the paths the watcher asked for and its figures."""
    paths: list[str] = []

    class FakeAdmin:
        async def watch(self, path: str) -> Any:
            paths.append(path)
            if len(paths) == 1:
                yield {"type": "MODIFIED", "resourceVersion": "7"}
                yield {"type": "BOOKMARK", "resourceVersion": "9"}
                return
            if len(paths) == 2:
                yield {"type": "MODIFIED", "resourceVersion": "10"}
                raise aiohttp.ClientPayloadError("cut")
            await asyncio.Event().wait()
            yield {}

    watchers = Watchers(cast(AdminClient, FakeAdmin()), 1)
    watcher = asyncio.create_task(watchers._one(cast(AdminClient, FakeAdmin())))
    for _ in range(500):  # the watcher backs off 1 s after the error
        if len(paths) == 3:
            break
        await asyncio.sleep(0.01)
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    return paths, watchers.figures()


def test_a_watcher_resumes_after_the_stream_ends_or_fails() -> None:
    paths, figures = asyncio.run(_watch_like_a_client())
    assert paths == [
        "/v1/clusters?watch=true&view=summary",
        "/v1/clusters?watch=true&view=summary&resourceVersion=9",  # from the bookmark
        "/v1/clusters?watch=true&view=summary",  # after an error: from the head
    ]
    assert figures["watch_events_delivered"] == 2
    assert figures["watch_disconnects"] == 1 and figures["watch_errors"] == 1
    assert figures["watch_error_kinds"] == {"ClientPayloadError": 1}
    assert figures["watch_resumed"] == 2


def _failover_histogram(counts: dict[str, int], total: float) -> str:
    name = "controlplane_replica_failover_seconds"
    lines = [f'{name}_bucket{{le="{le}"}} {n}' for le, n in counts.items()]
    return "\n".join([*lines, f"{name}_count {counts['+Inf']}", f"{name}_sum {total}"])


def test_the_take_over_figures_are_the_survivors_histogram_between_the_kill_and_the_end() -> None:
    before = parse(_failover_histogram({"0.5": 3, "1.0": 4, "2.0": 4, "+Inf": 4}, 1.5))
    after = parse(_failover_histogram({"0.5": 3, "1.0": 10, "2.0": 12, "+Inf": 12}, 11.5))
    # Eight shards since the first reading: 10 s in all, the worst between 1 and 2 s.
    assert _delta_takeovers(after, before) == (8, 1.25, 2.0)
    assert _delta_takeovers(before, before) == (0, None, None)
    late = parse(_failover_histogram({"0.5": 3, "1.0": 4, "2.0": 4, "+Inf": 5}, 201.5))
    assert _delta_takeovers(late, before) == (1, 200.0, None)  # past the last bucket: no bound to give
