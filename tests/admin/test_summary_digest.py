"""A summary page reads digests (``api.ClusterDigest``), a watch whole clusters: both must give the same
summary row and the same filter verdicts for every stored cluster, through the store's own codec."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from controlplane.admin._listing import summarize
from controlplane.api import (
    Cluster,
    ClusterSpec,
    ClusterStatus,
    Condition,
    EKSClusterConfigSpec,
    EKSStatus,
    Metadata,
    NodeGroup,
    Phase,
)
from controlplane.store import ClusterQuery, LabelOp, LabelRequirement, matches
from controlplane.store._codec import ENCODE, decode_cluster, decode_digest

KEYS = ("env", "tier")
VALUES = ("prod", "dev")

versions = st.none() | st.sampled_from(["1.30", "1.31", ""])
node_groups = st.none() | st.lists(
    st.builds(NodeGroup, nodegroup_name=st.sampled_from(["ng1", "ng2"]), desired_size=st.integers(0, 3)),
    max_size=3,
)
configs = st.builds(
    EKSClusterConfigSpec,
    kubernetes_version=versions,
    node_groups=node_groups,
    region=st.just("us-east-1"),
    tags=st.dictionaries(st.sampled_from(["a", "b"]), st.text(max_size=3), max_size=2),
)
conditions = st.lists(
    st.builds(
        Condition,
        type=st.sampled_from(["Provisioned", "Conflict", "Updated", "Waiting"]),
        status=st.sampled_from(["True", "False", "Unknown"]),
        message=st.sampled_from(["", "x", "  spaced\n  out  "]),
    ),
    max_size=4,
)
clusters = st.builds(
    Cluster,
    metadata=st.builds(
        Metadata,
        name=st.sampled_from(["a", "b-1", "prod-eu"]),
        deletion_timestamp=st.sampled_from(["", "2026-01-01T00:00:00Z"]),
        labels=st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=2),
        annotations=st.dictionaries(st.just("note"), st.text(max_size=4), max_size=1),
    ),
    spec=st.builds(ClusterSpec, eks_config=configs),
    status=st.builds(
        ClusterStatus,
        phase=st.sampled_from(list(Phase)),
        failure_message=st.sampled_from(["", "boom"]),
        conditions=conditions,
        eks_status=st.builds(EKSStatus, upstream_spec=st.none() | configs, subnets=st.just(["s-1"])),
        applied_spec=st.none() | configs,
        last_sync_time=st.sampled_from(["", "2026-01-01T00:00:00Z"]),
    ),
)
queries = st.builds(
    ClusterQuery,
    labels=st.lists(
        st.builds(
            LabelRequirement, key=st.sampled_from(KEYS), op=st.just(LabelOp.EQUALS), values=st.just(("prod",))
        ),
        max_size=1,
    ).map(tuple),
    phase=st.none() | st.sampled_from(list(Phase)),
    name_prefix=st.sampled_from(["", "b", "prod"]),
    conflict=st.booleans(),
    failing=st.booleans(),
)


def _row(cluster: Cluster) -> tuple[object, ...]:
    """The row the store reads (``CLUSTER_COLUMNS``), encoded as the store writes it."""
    metadata = msgspec.structs.replace(cluster.metadata, resource_version="", generation=0)
    return (
        cluster.metadata.name,
        3,
        2,
        ENCODE(metadata),
        ENCODE(cluster.spec),
        ENCODE(cluster.status),
        7,
    )


@given(cluster=clusters, query=queries)
def test_a_digest_summarises_and_filters_like_its_cluster(cluster: Cluster, query: ClusterQuery) -> None:
    whole, seq = decode_cluster(_row(cluster))
    digest, digest_seq = decode_digest(_row(cluster))
    assert digest_seq == seq
    assert summarize(digest) == summarize(whole)
    assert matches(query, digest) == matches(query, whole)


def test_a_summary_row_from_a_digest_on_the_wire() -> None:
    cluster = Cluster(
        metadata=Metadata(name="prod-eu", labels={"env": "prod"}),
        spec=ClusterSpec(eks_config=EKSClusterConfigSpec(node_groups=None)),
        status=ClusterStatus(
            phase=Phase.ACTIVE,
            conditions=[Condition(type="Updated", status="False", message="rolling  ng1")],
            eks_status=EKSStatus(
                upstream_spec=EKSClusterConfigSpec(
                    kubernetes_version="1.31", node_groups=[NodeGroup(), NodeGroup()]
                )
            ),
            last_sync_time="2026-01-01T00:00:00Z",
        ),
    )
    digest, _ = decode_digest(_row(cluster))
    assert msgspec.json.decode(ENCODE(summarize(digest))) == {
        "name": "prod-eu",
        "phase": "active",
        "version": "1.31",
        "nodeGroups": 2,
        "lastSyncTime": "2026-01-01T00:00:00Z",
        "message": "Updated: rolling ng1",
        "conflict": False,
        "labels": {"env": "prod"},
    }
