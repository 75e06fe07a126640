"""A cluster's digest: the few fields that list filters and summary rows read, decoded without the rest.

A stored cluster is a few kilobytes of JSON (spec, node groups, the upstream and applied specs, launch
template bookkeeping...). A summary page of 500 needs its name, labels, phase, version, node-group
count, last sync and messages: decoding whole clusters for it cost four times as much as decoding
these. msgspec skips the fields a struct does not name without building them. Each field has the
name, type and default of the same field of ``Cluster``, so what reads a digest reads a cluster too.
"""

from __future__ import annotations

import msgspec

from ._types import Condition, Phase


class DigestEKSConfig(msgspec.Struct, rename="camel", gc=False):
    """``EKSClusterConfigSpec``: the version, and the node groups still encoded (only counted)."""

    kubernetes_version: str | None = None
    node_groups: list[msgspec.Raw] | None = None


class DigestMetadata(msgspec.Struct, rename="camel", gc=False):
    name: str = ""
    deletion_timestamp: str = ""
    labels: dict[str, str] = msgspec.field(default_factory=dict)


class DigestSpec(msgspec.Struct, rename="camel", gc=False):
    eks_config: DigestEKSConfig = msgspec.field(default_factory=DigestEKSConfig)


class DigestEKSStatus(msgspec.Struct, rename="camel", gc=False):
    upstream_spec: DigestEKSConfig | None = None


class DigestStatus(msgspec.Struct, rename="camel", gc=False):
    phase: Phase = Phase.NEW
    failure_message: str = ""
    conditions: list[Condition] = msgspec.field(default_factory=list)
    eks_status: DigestEKSStatus = msgspec.field(default_factory=DigestEKSStatus)
    last_sync_time: str = ""


class ClusterDigest(msgspec.Struct, gc=False):
    """What lists filter on and summary rows show of a ``Cluster`` (see the module docstring)."""

    metadata: DigestMetadata
    spec: DigestSpec
    status: DigestStatus
