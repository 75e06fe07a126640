"""Hypothesis fuzzing of manifest decoding, JSON and YAML, in both forms (``Cluster`` and Rancher's
``EKSClusterConfig``): whatever the input, the only exception is our ``ManifestError`` (a field error names
its field). YAML bombs (aliases that expand exponentially, deep nesting) and huge documents are refused
quickly and with bounded memory."""

from __future__ import annotations

import json
import os
import time
import tracemalloc
from typing import Any

import msgspec
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controlplane.api import MAX_MANIFEST_DEPTH, Cluster, ManifestError, decode_manifests

EXAMPLES = int(os.environ.get("CONTROLPLANE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

NATIVE = {"apiVersion": "eks-controlplane.io/v1", "kind": "Cluster"}
RANCHER = {"apiVersion": "eks.cattle.io/v1", "kind": "EKSClusterConfig"}
EKS_FIELDS = (
    "displayName", "region", "amazonCredentialSecret", "imported", "kubernetesVersion", "publicAccess",
    "privateAccess", "secretsEncryption", "kmsKey", "tags", "subnets", "securityGroups", "loggingTypes",
    "publicAccessSources", "serviceRole", "ebsCSIDriver", "nodeGroups",
)  # fmt: skip
GROUP_FIELDS = (
    "nodegroupName", "instanceType", "desiredSize", "minSize", "maxSize", "diskSize", "labels", "tags",
    "subnets", "version", "launchTemplate", "requestSpotInstances", "spotInstanceTypes", "userData", "gpu",
)  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)


@st.composite
def node_groups(draw: st.DrawFn) -> list[Any]:
    groups = []
    for _ in range(draw(st.integers(0, 3))):
        keys = draw(st.lists(st.sampled_from(GROUP_FIELDS), max_size=len(GROUP_FIELDS), unique=True))
        groups.append({k: draw(json_values) for k in keys})
    return groups


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    """Manifests near the real shape (so decoding gets past the envelope) with wrong values anywhere."""
    rancher = draw(st.booleans())
    keys = draw(st.lists(st.sampled_from(EKS_FIELDS), max_size=len(EKS_FIELDS), unique=True))
    eks: dict[str, Any] = {k: draw(json_values) for k in keys}
    if "nodeGroups" in eks and draw(st.booleans()):
        eks["nodeGroups"] = draw(node_groups())
    extra = draw(st.dictionaries(st.text(max_size=10), json_values, max_size=2))
    metadata = {
        "name": draw(st.text(max_size=20)),
        **draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2)),
    }
    doc: dict[str, Any] = dict(RANCHER if rancher else NATIVE)
    doc["metadata"] = metadata
    doc["spec"] = eks if rancher else {"eksConfig": eks, **extra}
    if draw(st.booleans()):
        doc[draw(st.sampled_from(["apiVersion", "kind", "status", "extra"]))] = draw(json_values)
    return doc


def _decode(data: bytes | str) -> list[Cluster]:
    try:
        return decode_manifests(data)
    except ManifestError as exc:
        assert str(exc).startswith("document ")
        return []


def _yaml(doc: Any) -> str:
    return yaml.safe_dump(doc, allow_unicode=True)


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes(data: bytes) -> None:
    _decode(data)


@FUZZ
@given(st.text(max_size=300))
def test_any_text(text: str) -> None:
    _decode(text)


@FUZZ
@given(json_values)
def test_any_json_value_in_both_syntaxes(value: Any) -> None:
    _decode(json.dumps(value))
    _decode(_yaml(value))


@FUZZ
@given(manifests(), st.booleans())
def test_near_manifests_in_both_forms_and_both_syntaxes(doc: dict[str, Any], as_yaml: bool) -> None:
    data = _yaml(doc) if as_yaml else json.dumps(doc)
    for cluster in _decode(data):
        # What decodes is a real Cluster that encodes again.
        assert isinstance(cluster, Cluster)
        msgspec.json.encode(cluster)


@FUZZ
@given(st.lists(manifests(), min_size=1, max_size=3))
def test_multi_document_yaml(docs: list[dict[str, Any]]) -> None:
    _decode(yaml.safe_dump_all(docs, allow_unicode=True))


# --- bombs and huge inputs ----------------------------------------------------------------------------------

BILLION_LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "apiVersion: eks-controlplane.io/v1",
        "kind: Cluster",
    ]
)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("billion laughs", BILLION_LAUGHS),
        ("quadratic blowup", "x: &x " + "a" * 100_000 + "\ny: [" + ", ".join(["*x"] * 10_000) + "]\n"),
        ("deep JSON arrays", "[" * 200_000 + "]" * 200_000),
        ("deep JSON objects", '{"a":' * 50_000 + "1" + "}" * 50_000),
        ("deep YAML flow", "a: " + "[" * 50_000 + "]" * 50_000),
        ("deep YAML blocks", "".join(" " * i + "a:\n" for i in range(2_000)) + " " * 2_000 + "b: 1\n"),
        (
            "deep but small",
            json.dumps(
                {
                    "apiVersion": "x",
                    "spec": eval("[" * (MAX_MANIFEST_DEPTH + 5) + "]" * (MAX_MANIFEST_DEPTH + 5)),
                }
            ),
        ),
        ("many documents", "---\n".join(["a: 1\n"] * 20_000)),
        ("wide mapping", "{" + ",".join(f'"k{i}": {i}' for i in range(300_000)) + "}"),
    ],
)
def test_bombs_are_refused_quickly_with_bounded_memory(name: str, data: str) -> None:
    tracemalloc.start()
    began = time.perf_counter()
    try:
        with pytest.raises(ManifestError):
            decode_manifests(data)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    elapsed = time.perf_counter() - began
    # Bounds are generous for a loaded machine (tracemalloc slows Python down about twice): what matters is
    # that an exponential input costs what its bytes cost, not what it expands to.
    assert elapsed < 20, f"{name}: {elapsed:.1f}s"
    assert peak < 64 * 2**20 + 40 * len(data), (
        f"{name}: {peak / 2**20:.0f} MiB for {len(data) / 2**20:.1f} MiB"
    )


def test_a_deep_document_names_the_limit() -> None:
    deep = {"apiVersion": "eks-controlplane.io/v1", "kind": "Cluster", "metadata": {"name": "x"}}
    node: Any = deep
    for _ in range(MAX_MANIFEST_DEPTH):
        node["spec"] = {}
        node = node["spec"]
    with pytest.raises(ManifestError, match=f"more than {MAX_MANIFEST_DEPTH} levels"):
        decode_manifests(json.dumps(deep))
