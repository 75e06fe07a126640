"""Fleet load test: the same code as ``controlplane load`` (see ``controlplane/loadtest``).

    python benchmarks/bench_fleet.py --clusters 10000 --nodegroups 2 --rounds 3 --period 60 \
        --out benchmarks/results/fleet-10000

Starts the simulator and the control plane as separate processes, imports the clusters through the admin
API, measures the sync rounds, runs the bare-aiobotocore floor and a boto3 thread-pool poller against the
same clusters, restarts the control plane, prints the table and writes OUT/result.json and
OUT/tick-lag.png. ``--help`` lists every flag (latency, throttling, churn, time scale, --profile).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controlplane.loadtest import main  # after the path set-up

if __name__ == "__main__":
    sys.exit(main())
