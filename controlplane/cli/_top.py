"""``top``: a live fleet summary in the terminal, redrawn every few seconds from ``/v1/fleet``.

Totals by phase and version, what needs attention (conflicts, failures, versions out of support,
clusters never synced), refresh lag and the AWS call rate, then the clusters needing attention first
(``view=summary`` rows of ``conflict=true`` and ``failing=true``). ``--once`` prints one frame.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ._args import Subcommands, positive
from ._client import ApiClient, client_from_args
from ._output import age

CLEAR = "\x1b[H\x1b[2J"


def add_commands(sub: Subcommands, conn: argparse.ArgumentParser) -> None:
    top = sub.add_parser("top", parents=[conn], help="a live fleet summary (Ctrl-C to quit)")
    top.add_argument("--interval", type=positive, default=2.0, help="seconds between frames (%(default)s)")
    top.add_argument(
        "--attention", type=int, default=10, help="clusters needing attention shown (%(default)s)"
    )
    top.add_argument("--once", action="store_true", help="print one frame and exit")
    top.set_defaults(func=cmd_top)


def _counts(counts: dict[str, int]) -> str:
    return "   ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))) or "-"


def render(fleet: dict[str, Any], attention: list[dict[str, Any]], rate: float | None) -> str:
    """One frame of ``top`` (pure: the answers in, the text out)."""
    lag = fleet.get("refreshLag", {})
    older = lag.get("olderThan", {})
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(fleet.get("time", 0)))
    lines = [
        f"FLEET      {fleet['total']} clusters    replica {fleet.get('replica', '-')}    {stamp}",
        f"PHASE      {_counts(fleet.get('byPhase', {}))}",
        f"VERSION    {_counts(fleet.get('byVersion', {}))}",
        (
            f"ATTENTION  conflict {fleet.get('conflict', 0)}   failing {fleet.get('failing', 0)}   "
            f"extended support {fleet.get('extendedSupport', 0)}   "
            f"past extended support {fleet.get('pastExtendedSupport', 0)}   "
            f"never synced {lag.get('neverSynced', 0)}"
        ),
        (
            f"REFRESH    oldest sync {age(lag.get('oldestSyncTime', ''))}   "
            + "   ".join(f">{_seconds(k)} {v}" for k, v in older.items())
        ),
        f"AWS        {'-' if rate is None else f'{rate:.1f}'} calls/s (this replica)",
        "",
    ]
    if not attention:
        lines.append("Nothing needs attention.")
        return "\n".join(lines)
    rows = [["NAME", "PHASE", "VERSION", "LAST SYNC", "MESSAGE"]]
    for row in attention:
        flag = "conflict" if row.get("conflict") else "failing"
        message = row.get("message") or flag
        rows.append(
            [
                row["name"],
                row["phase"],
                row.get("version") or "-",
                age(row.get("lastSyncTime", "")),
                message[:70],
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def _seconds(key: str) -> str:
    seconds = int(key)
    return (
        f"{seconds // 3600}h"
        if seconds >= 3600 and seconds % 3600 == 0
        else (f"{seconds // 60}m" if seconds >= 60 and seconds % 60 == 0 else f"{seconds}s")
    )


def _attention(client: ApiClient, limit: int) -> list[dict[str, Any]]:
    if limit < 1:
        return []
    seen: dict[str, dict[str, Any]] = {}
    for flag in ("failing", "conflict"):
        answer = client.call("GET", f"/v1/clusters?view=summary&{flag}=true&limit={limit}")
        for row in answer["items"]:
            seen.setdefault(row["name"], row)
    return sorted(seen.values(), key=lambda r: r["name"])[:limit]


def cmd_top(args: argparse.Namespace) -> int:
    client = client_from_args(args)
    previous: tuple[float, float] | None = None
    while True:
        fleet = client.call("GET", "/v1/fleet")
        now, calls = float(fleet.get("time", time.time())), float(fleet.get("awsCallsTotal", 0.0))
        rate = None
        if previous is not None and now > previous[0] and calls >= previous[1]:
            rate = (calls - previous[1]) / (now - previous[0])
        previous = (now, calls)
        frame = render(fleet, _attention(client, args.attention), rate)
        if args.once:
            print(frame)
            return 0
        print((CLEAR if sys.stdout.isatty() else "\n") + frame, flush=True)
        time.sleep(args.interval)
