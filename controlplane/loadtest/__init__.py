"""``controlplane load``: a load test of the control plane against the simulator, with baselines.

The simulator and the control plane run as separate processes; N existing clusters with K node groups
are created in the simulator and imported through the admin API, S sync rounds are measured at
``@every <period>s`` (optionally with latency, throttling and churn), then a bare-aiobotocore floor and a
boto3 thread-pool poller refresh the same clusters in their own processes, and the control plane is
restarted on the same data directory. Prints a table (figures, ratios, targets), writes
``DIR/result.json`` and draws ``DIR/tick-lag.png``. Targets are reported, never asserted.

    controlplane load --clusters 2000 --nodegroups 2 --rounds 3 --period 60 --out load-out
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from types import FrameType

from ._options import LoadOptions, build_parser, parse_args
from ._prom import quantile as histogram_quantile
from ._report import RESULT_KEYS, Target, targets
from ._run import LoadTestError, run_load, summary

__all__ = [
    "RESULT_KEYS",
    "LoadOptions",
    "LoadTestError",
    "Target",
    "build_parser",
    "histogram_quantile",
    "main",
    "parse_args",
    "run_load",
    "targets",
]


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``controlplane load``: 0 when the run completed (targets met or not), 1 when a
    phase failed (result.json still holds what was measured), 2 on bad arguments."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--chaos" in args:
        from ._chaos import main as chaos_main  # noqa: PLC0415 - `load --chaos` is `chaos`

        code: int = chaos_main([a for a in args if a != "--chaos"])
        return code
    opts = parse_args(args)
    # Signal handlers can only be installed from the main thread (a test may run us in a worker).
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        result = asyncio.run(run_load(opts))
    except (LoadTestError, OSError, RuntimeError) as exc:
        print(f"controlplane load: {exc}", file=sys.stderr)
        return 1
    except ExceptionGroup as group:  # a phase failed inside a task group (e.g. the deadline)
        for inner in group.exceptions:
            print(f"controlplane load: {inner}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    print(summary(result, opts), flush=True)
    print(f"\nwrote {opts.out}/result.json and {opts.out}/tick-lag.png", file=sys.stderr)
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM behaves like Ctrl-C: asyncio.run cancels the run, whose finally stops every child.
    raise KeyboardInterrupt
