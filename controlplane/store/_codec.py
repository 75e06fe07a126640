"""What every backend does the same way with stored rows: msgspec encoders and decoders, a cluster from
its row, the EKS identity columns, and the pure rules of spec and deletion writes. No I/O."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import msgspec

from controlplane.api import (
    Cluster,
    ClusterDigest,
    ClusterSpec,
    ClusterStatus,
    Credential,
    DigestMetadata,
    DigestSpec,
    DigestStatus,
    Event,
    Metadata,
)

ENCODE = msgspec.json.Encoder().encode
METADATA = msgspec.json.Decoder(Metadata)
SPEC = msgspec.json.Decoder(ClusterSpec)
STATUS = msgspec.json.Decoder(ClusterStatus)
EVENT = msgspec.json.Decoder(Event)
CREDENTIAL = msgspec.json.Decoder(Credential)
SECRET = msgspec.json.Decoder(dict[str, str])
DIGEST_METADATA = msgspec.json.Decoder(DigestMetadata)
DIGEST_SPEC = msgspec.json.Decoder(DigestSpec)
DIGEST_STATUS = msgspec.json.Decoder(DigestStatus)

CLUSTER_COLUMNS = "c.name, c.resource_version, c.generation, c.metadata, c.spec, s.status, s.status_seq"
"""The columns ``decode_cluster`` reads, in its order (``c``: clusters, ``s``: cluster_status)."""
_BULK_DECODE = 256  # rows; see _collection_paused


class Row(Protocol):
    """A database row, indexed by column position (a ``sqlite3`` tuple or an ``asyncpg.Record``)."""

    def __getitem__(self, index: int, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


def decode_cluster(row: Row) -> tuple[Cluster, int]:
    """A cluster and its row's status sequence number from a row of ``CLUSTER_COLUMNS``."""
    name, resource_version, generation, metadata_json, spec_json, status_json, status_seq = row
    metadata = METADATA.decode(metadata_json)
    metadata.name = name
    metadata.resource_version = str(resource_version)
    metadata.generation = int(generation)
    cluster = Cluster(metadata=metadata, spec=SPEC.decode(spec_json), status=STATUS.decode(status_json))
    return cluster, int(status_seq)


def decode_digest(row: Row) -> tuple[ClusterDigest, int]:
    """A cluster's digest and its row's status sequence number from a row of ``CLUSTER_COLUMNS``."""
    name, _resource_version, _generation, metadata_json, spec_json, status_json, status_seq = row
    metadata = DIGEST_METADATA.decode(metadata_json)
    metadata.name = name
    digest = ClusterDigest(metadata, DIGEST_SPEC.decode(spec_json), DIGEST_STATUS.decode(status_json))
    return digest, int(status_seq)


RAW_COLUMNS = f"{CLUSTER_COLUMNS}, s.phase"
"""``CLUSTER_COLUMNS`` plus the status's phase: what ``raw_cluster`` reads."""


RawRow = tuple[str, str, bytes, bytes, int]
"""(name, phase, the cluster's JSON up to its status, the status's JSON, status sequence)."""


def raw_cluster(row: Row) -> RawRow:
    """A row of ``RAW_COLUMNS`` still encoded, decoding only the small metadata (the columns are
    authoritative for name, resourceVersion and generation). ``compose`` makes the ``Cluster``'s JSON."""
    name, resource_version, generation, metadata_json, spec_json, status_json, status_seq, phase = row
    metadata = METADATA.decode(metadata_json)
    metadata.name = name
    metadata.resource_version = str(resource_version)
    metadata.generation = int(generation)
    head = b'{"metadata":' + ENCODE(metadata) + b',"spec":' + bytes(spec_json)
    return str(name), str(phase), head, bytes(status_json), int(status_seq)


def compose(head: bytes, status: bytes) -> bytes:
    """A ``Cluster``'s JSON from ``raw_cluster``'s head and a status's JSON."""
    return head + b',"status":' + status + b"}"


def decode_clusters(rows: Sequence[Row]) -> list[tuple[Cluster, int]]:
    with _collection_paused(len(rows) >= _BULK_DECODE):
        return [decode_cluster(row) for row in rows]


def decode_digests(rows: Sequence[Row]) -> list[tuple[ClusterDigest, int]]:
    # Digests are not tracked by the cyclic GC (gc=False), but their lists and dicts are.
    with _collection_paused(len(rows) >= _BULK_DECODE):
        return [decode_digest(row) for row in rows]


@contextmanager
def _collection_paused(pause: bool) -> Iterator[None]:
    """Pause CPython's cyclic GC while decoding many clusters.

    Each decoded cluster is ~100 tracked containers; with thousands of them the generational GC keeps
    re-running full collections over the growing heap (listing 10,000 clusters took 5x longer). Pausing
    defers collection, it does not leak: cycles are collected by the next collection. Restores the
    previous state, so a process that disabled GC itself keeps it disabled.
    """
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def identity(spec: ClusterSpec) -> tuple[str, str, str]:
    """The indexed columns of a spec: (EKS display name, region, credential reference)."""
    eks = spec.eks_config
    return eks.display_name or "", eks.region or "", eks.amazon_credential_secret or ""


def spec_update(
    row: Row,
    spec_json: bytes,
    labels: dict[str, str] | None,
    annotations: dict[str, str] | None,
) -> tuple[Metadata, bytes] | None:
    """The metadata and spec to write over ``row`` (of ``CLUSTER_COLUMNS``) for a spec write, or
    ``None`` if it changes nothing. resourceVersion moves on any change; generation only when the spec
    really changed (decoded structs are compared, not bytes: dict key order may differ)."""
    metadata = METADATA.decode(row[3])
    spec_changed = SPEC.decode(row[4]) != SPEC.decode(spec_json)
    labels_changed = labels is not None and labels != metadata.labels
    annotations_changed = annotations is not None and annotations != metadata.annotations
    if not (spec_changed or labels_changed or annotations_changed):
        return None
    metadata.resource_version = str(int(row[1]) + 1)
    metadata.generation = int(row[2]) + 1 if spec_changed else int(row[2])
    if labels is not None:
        metadata.labels = dict(labels)
    if annotations is not None:
        metadata.annotations = dict(annotations)
    return metadata, spec_json if spec_changed else bytes(row[4])


def deletion_update(row: Row, now: str) -> Metadata | None:
    """The metadata marking ``row`` for deletion, or ``None`` if it is marked already (once only)."""
    metadata = METADATA.decode(row[3])
    if metadata.deletion_timestamp:
        return None
    metadata.deletion_timestamp = now
    metadata.resource_version = str(int(row[1]) + 1)
    metadata.generation = int(row[2])
    return metadata


def with_metadata(row: Row, metadata: Metadata, spec_json: bytes) -> tuple[Any, ...]:
    """``row`` as it reads after writing ``metadata`` and ``spec_json`` over it."""
    name, _, _, _, _, status_json, status_seq = row
    return (
        name,
        int(metadata.resource_version),
        metadata.generation,
        ENCODE(metadata),
        spec_json,
        status_json,
        status_seq,
    )
