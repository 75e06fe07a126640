"""Builders and raw-database peeks shared by the store tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec

from controlplane.api import (
    Cluster,
    ClusterSpec,
    ClusterStatus,
    Condition,
    EKSClusterConfigSpec,
    Metadata,
    NodeGroup,
    Phase,
)
from controlplane.metrics import REGISTRY


def spec(version: str = "1.31", *, desired: int = 2) -> ClusterSpec:
    return ClusterSpec(
        eks_config=EKSClusterConfigSpec(
            amazon_credential_secret="cattle-global-data:aws",
            display_name="prod",
            region="us-east-1",
            kubernetes_version=version,
            tags={"team": "platform"},
            node_groups=[NodeGroup(nodegroup_name="ng1", instance_type="m5.large", desired_size=desired)],
            subnets=None,
        )
    )


def cluster(name: str, *, labels: dict[str, str] | None = None) -> Cluster:
    return Cluster(metadata=Metadata(name=name, labels=labels or {}), spec=spec())


def status(phase: Phase = Phase.ACTIVE, marker: str = "") -> ClusterStatus:
    return ClusterStatus(
        phase=phase,
        last_sync_time=marker,
        conditions=[Condition(type="Provisioned", status="True")],
        api_endpoint="https://example.eks.amazonaws.com",
    )


def raw_status(path: Path, name: str) -> ClusterStatus | None:
    """The status as committed in the file, read through a separate plain connection."""
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT status FROM cluster_status WHERE name = ?", (name,)).fetchone()
    finally:
        conn.close()
    return None if row is None else msgspec.json.decode(row[0], type=ClusterStatus)


def sample(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    return 0.0 if value is None else value
