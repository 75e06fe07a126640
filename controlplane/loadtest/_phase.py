"""What every phase of a load test shares: the progress line, the phase error and the fleet's names."""

from __future__ import annotations

import sys
import time

PREFIX = "load-"


class LoadTestError(RuntimeError):
    """A phase could not complete; the message names the phase (result.json holds what was measured)."""


def progress(message: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
