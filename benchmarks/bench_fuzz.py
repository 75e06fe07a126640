"""The long fuzz run: the suite's fuzz tests with many more examples, schemathesis's coverage phase (every
boundary of every field) on, and fresh random seeds.

- ``tests/admin/test_fuzz_api.py``: schemathesis against the live ``/openapi.json`` (no 5xx, every response
  matches the schema, no stack trace, no secret in a body or a log line), with and without the token;
- ``tests/api/test_fuzz_manifest.py``: hypothesis on manifest decoding (only ``ManifestError``) and the
  YAML bombs.

Prints a table (tests, examples per test, failures, seconds) and writes JSON.

    python benchmarks/bench_fuzz.py [--examples 1000] [--json benchmarks/results/fuzz.json]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[1]
SUITES = {
    "admin API (schemathesis)": "tests/admin/test_fuzz_api.py",
    "manifest decoding (hypothesis)": "tests/api/test_fuzz_manifest.py",
}


def run(path: str, examples: int) -> dict[str, object]:
    env = {
        **os.environ,
        "CONTROLPLANE_FUZZ_EXAMPLES": str(examples),
        "CONTROLPLANE_FUZZ_COVERAGE": "1",
        "CONTROLPLANE_FUZZ_RANDOM": "1",
        "PYTHONPATH": str(ROOT),
    }
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", path, "-q", "-p", "no:randomly", "-o", "timeout=0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - began
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|error)", tail)}
    failures = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    return {
        "path": path,
        "examples_per_test": examples,
        "passed": counts.get("passed", 0),
        "failed": counts.get("failed", 0) + counts.get("error", 0),
        "seconds": round(seconds, 1),
        "failures": failures[:20],
        "exit_code": done.returncode,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=1000, help="examples per test (default 1000)")
    p.add_argument("--json", default=None, help="write the result here as JSON")
    args = p.parse_args()
    results = {name: run(path, args.examples) for name, path in SUITES.items()}
    print(f"{'suite':34} {'tests':>6} {'examples/test':>14} {'failed':>7} {'seconds':>8}")
    for name, r in results.items():
        print(
            f"{name:34} {r['passed']!s:>6} {r['examples_per_test']!s:>14} "
            f"{r['failed']!s:>7} {r['seconds']!s:>8}"
        )
        for line in r["failures"]:  # type: ignore[attr-defined]
            print(f"  {line}")
    if args.json:
        Path(args.json).write_bytes(msgspec.json.format(msgspec.json.encode(results), indent=2))
    return 0 if all(r["exit_code"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
