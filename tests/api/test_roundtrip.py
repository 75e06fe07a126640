"""Property: null (absent), empty and value stay distinct through decode -> encode -> decode, JSON and YAML.

Strategies are derived from the structs' own msgspec type info, so a field added later is covered too.
Strings include the YAML traps (``1.30``, ``no``, ``010``, ``~``, ...) and arbitrary text.
"""

from __future__ import annotations

from typing import Any

import msgspec
import msgspec.inspect as mi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controlplane.api import (
    API_VERSION,
    KIND_CLUSTER,
    RANCHER_API_VERSION,
    RANCHER_KIND,
    Cluster,
    ClusterSpec,
    EKSClusterConfigSpec,
    NodeGroup,
    decode_cluster,
    encode_json,
    encode_yaml,
)

TRICKY = [
    "", "1.30", "1.3", "1", "-1", "0", "010", "0x1F", "0o7", "1_000", "1:30", "1e3", "1.0e+3", ".5", ".inf",
    ".nan", "yes", "no", "on", "off", "y", "n", "true", "False", "null", "Null", "~", "2024-01-01",
    "2024-01-01T00:00:00Z", "=", "<<", "-", "- x", ": x", "a: b", "#c", "'q'", '"d"', "a\nb", "a\n", "\n",
    " lead", "trail ", "\t", "*a", "&a", "!tag", "%x", "@x", "`x", "{}", "[]", "...", "---", "\ufeff", "é",
    "\x00", "\r\n", "\u2028",
]  # fmt: skip

TEXT = st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(codec="utf-8"), max_size=12),
)
INT64 = st.integers(-(2**63), 2**63 - 1)

Overrides = dict[tuple[type, str], st.SearchStrategy[Any]]


def strategy_for(t: mi.Type, overrides: Overrides) -> st.SearchStrategy[Any]:
    if isinstance(t, mi.NoneType):
        return st.none()
    if isinstance(t, mi.StrType):
        return TEXT
    if isinstance(t, mi.IntType):
        return INT64
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.ListType):
        return st.lists(strategy_for(t.item_type, overrides), max_size=2)
    if isinstance(t, mi.DictType):
        return st.dictionaries(
            strategy_for(t.key_type, overrides), strategy_for(t.value_type, overrides), max_size=2
        )
    if isinstance(t, mi.UnionType):
        return st.one_of(*(strategy_for(x, overrides) for x in t.types))
    if isinstance(t, mi.EnumType):
        return st.sampled_from(list(t.cls))
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(list(t.values))
    if isinstance(t, mi.StructType):
        fields = {
            f.name: overrides[(t.cls, f.name)]
            if (t.cls, f.name) in overrides
            else strategy_for(f.type, overrides)
            for f in t.fields
        }
        return st.builds(t.cls, **fields)
    raise NotImplementedError(t)


def structs(cls: type[msgspec.Struct], overrides: Overrides | None = None) -> st.SearchStrategy[Any]:
    return strategy_for(mi.type_info(cls), overrides or {})


CLUSTER_OVERRIDES: Overrides = {
    (Cluster, "api_version"): st.just(API_VERSION),
    (Cluster, "kind"): st.just(KIND_CLUSTER),
}

SETTINGS = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _json_roundtrip(value: msgspec.Struct) -> None:
    cls = type(value)
    assert msgspec.json.decode(encode_json(value), type=cls) == value
    assert msgspec.convert(msgspec.to_builtins(value), cls, strict=True) == value


@SETTINGS
@given(structs(NodeGroup))
def test_node_group_json(ng: NodeGroup) -> None:
    _json_roundtrip(ng)


@SETTINGS
@given(structs(EKSClusterConfigSpec))
def test_spec_json(spec: EKSClusterConfigSpec) -> None:
    _json_roundtrip(spec)


@settings(SETTINGS, max_examples=40)
@given(structs(Cluster, CLUSTER_OVERRIDES))
def test_cluster_json_and_yaml(cluster: Cluster) -> None:
    _json_roundtrip(cluster)
    assert decode_cluster(encode_json(cluster)) == cluster
    assert decode_cluster(encode_yaml(cluster)) == cluster


@SETTINGS
@given(structs(EKSClusterConfigSpec), TEXT)
def test_spec_through_the_rancher_yaml_form(spec: EKSClusterConfigSpec, name: str) -> None:
    doc = {"apiVersion": RANCHER_API_VERSION, "kind": RANCHER_KIND, "metadata": {"name": name}, "spec": spec}
    cluster = decode_cluster(encode_yaml(doc))
    assert cluster.spec.eks_config == spec
    assert cluster.metadata.name == name


def test_null_absent_empty_and_value_are_distinct() -> None:
    """The three states, spelled out (the properties above would also catch a collapse)."""
    docs = {
        "absent": "{}",
        "null": '{"nodeGroups": null, "tags": null}',
        "empty": '{"nodeGroups": [], "tags": {}}',
        "value": '{"nodeGroups": [{"nodegroupName": "a"}], "tags": {"k": "v"}}',
    }
    decoded = {k: msgspec.json.decode(v, type=EKSClusterConfigSpec) for k, v in docs.items()}
    assert decoded["absent"] == decoded["null"] == EKSClusterConfigSpec()
    assert decoded["empty"].node_groups == [] and decoded["empty"].tags == {}
    assert decoded["value"].node_groups == [NodeGroup(nodegroup_name="a")]
    assert encode_json(decoded["null"]) == b"{}"
    assert encode_json(decoded["empty"]) == b'{"tags":{},"nodeGroups":[]}'
    for spec in decoded.values():
        assert decode_cluster(encode_yaml(Cluster(spec=_spec(spec)))).spec.eks_config == spec


def _spec(eks: EKSClusterConfigSpec) -> ClusterSpec:
    return ClusterSpec(eks_config=eks)
