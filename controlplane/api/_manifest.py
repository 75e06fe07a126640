"""Manifest decoding (YAML or JSON, native ``Cluster`` or Rancher ``EKSClusterConfig``) and encoding.

Everything goes through ``msgspec.convert(..., strict=True)`` so a manifest obeys exactly the rules of the
JSON wire format: unknown fields are refused, and no value is coerced from one type to another. YAML's own
implicit typing is narrowed to a YAML 1.2-like core schema (see ``_Loader``) so that an unquoted scalar can
never silently mean something other than what was written: ``010`` is not octal 8, ``no`` is not ``false``,
``2024-01-01`` is not a date. What stays typed (``1.30`` is a float, ``true`` a bool) is refused for string
fields with an error that names the field and says to quote the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
import yaml

from ._types import (
    API_VERSION,
    KIND_CLUSTER,
    RANCHER_API_VERSION,
    RANCHER_KIND,
    Cluster,
    ClusterSpec,
    Metadata,
    RancherManifest,
)

try:  # libyaml is much faster; the pure-Python classes behave the same.
    from yaml import CSafeDumper as _BaseDumper
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

__all__ = [
    "MAX_MANIFEST_DEPTH",
    "MAX_MANIFEST_NODES",
    "ManifestError",
    "convert_manifest",
    "decode_cluster",
    "decode_manifests",
    "encode_json",
    "encode_yaml",
    "encode_yaml_all",
]

MAX_MANIFEST_NODES = 200_000
"""Most values (mappings, lists, scalars) one document may expand to; YAML aliases can make a small
input expand exponentially ("billion laughs"), and the typed conversion walks the expanded tree."""

MAX_MANIFEST_DEPTH = 64
"""Most levels of nesting a document may have (a manifest has about eight); deeper is refused before the
typed conversion, and a parser that would recurse past Python's limit is stopped the same way."""
_TOO_DEEP = f"document is nested too deeply (more than {MAX_MANIFEST_DEPTH} levels)"

_KUBE_METADATA = frozenset(
    {
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "finalizers",
        "managedFields",
        "ownerReferences",
        "selfLink",
        "generateName",
        "annotations",
    }
)
"""Kubernetes ObjectMeta fields of an exported ``EKSClusterConfig`` that mean nothing here and are dropped
(``kubectl get -o yaml`` output must be accepted as is). Anything else in its metadata is refused."""


class ManifestError(ValueError):
    """A manifest document could not be decoded; ``index`` is the 0-based document position in the input."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"document {index}: {message}")
        self.index = index
        self.message = message


# --- YAML -----------------------------------------------------------------------------------------------


class _Loader(_BaseLoader):
    """Safe loader with a YAML 1.2 core-like schema and duplicate keys refused.

    Every scalar this loader types (null, true/false, decimal integers, floats with a dot) is also typed by
    PyYAML's YAML 1.1 resolver, which the dumper uses to decide what to quote; so a string we dump is never
    read back as something else.
    """

    yaml_implicit_resolvers: dict[Any, Any] = {}

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key_node.value!r}",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])


class _Dumper(_BaseDumper):
    """Safe dumper; multi-line strings (user data) are written as literal blocks when YAML allows it."""


def _represent_str(dumper: _Dumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


_OPEN_EVENTS = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE_EVENTS = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def _check_depth(text: str) -> None:
    """Refuse YAML nested deeper than ``MAX_MANIFEST_DEPTH`` before it is composed: libyaml's parser walks
    the text with explicit stacks, but PyYAML's composer recurses once per level, in C with the C loader
    (thousands of ``[`` overflow the stack and kill the process) or in Python without it."""
    depth = 0
    index = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, _OPEN_EVENTS):
                depth += 1
                if depth > MAX_MANIFEST_DEPTH:
                    raise ManifestError(index, _TOO_DEEP)
            elif isinstance(event, _CLOSE_EVENTS):
                depth -= 1
            elif isinstance(event, yaml.DocumentEndEvent):
                index += 1
    except yaml.YAMLError as exc:
        raise ManifestError(index, f"invalid YAML: {exc}") from None


def _load_yaml(text: str) -> Iterator[tuple[int, Any]]:
    index = 0
    try:
        _check_depth(text)
        for doc in yaml.load_all(text, Loader=_Loader):  # _Loader is a SafeLoader
            yield index, doc
            index += 1
    except yaml.YAMLError as exc:
        raise ManifestError(index, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise ManifestError(index, _TOO_DEEP) from None


# --- JSON -----------------------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _load_json(text: str) -> list[Any] | None:
    """The JSON documents in ``text`` (a top-level array is a list of documents), or None if not JSON."""
    try:
        # Stdlib json for its duplicate-key hook; manifests are small and this is not a hot path.
        obj = json.loads(text, object_pairs_hook=_no_duplicates)
    except ValueError:
        return None
    except RecursionError:  # the stdlib decoder recurses once per level
        raise ManifestError(0, _TOO_DEEP) from None
    return obj if isinstance(obj, list) else [obj]


# --- conversion -----------------------------------------------------------------------------------------

_TYPE_HINT = re.compile(r"^Expected `str[^`]*`, got `(float|int|bool)`")


def _validation_message(exc: msgspec.ValidationError) -> str:
    message = str(exc)
    if _TYPE_HINT.match(message):
        message += (
            " (an unquoted YAML value is read as a number or boolean;"
            ' quote it, e.g. kubernetesVersion: "1.30")'
        )
    return message


def _count_nodes(obj: Any, index: int) -> None:
    budget = MAX_MANIFEST_NODES
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise ManifestError(index, f"document is too large (more than {MAX_MANIFEST_NODES} values)")
        if depth > MAX_MANIFEST_DEPTH:
            raise ManifestError(index, _TOO_DEEP)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def _rancher_to_cluster(obj: dict[str, Any]) -> Cluster:
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k not in _KUBE_METADATA}}
    rancher = msgspec.convert(obj, RancherManifest, strict=True)
    return Cluster(
        metadata=Metadata(name=rancher.metadata.name, labels=rancher.metadata.labels),
        spec=ClusterSpec(eks_config=rancher.spec),
    )


def convert_manifest(obj: Any, index: int = 0) -> Cluster:
    """One already-parsed manifest document (a mapping) as a ``Cluster``.

    Raises ``ManifestError`` naming ``index`` and, for field problems, the JSON path of the field.
    """
    if not isinstance(obj, dict):
        raise ManifestError(index, f"a manifest must be a mapping, got {_type_name(obj)}")
    _count_nodes(obj, index)
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    try:
        if api_version == API_VERSION and kind == KIND_CLUSTER:
            return msgspec.convert(obj, Cluster, strict=True)
        if api_version == RANCHER_API_VERSION and kind == RANCHER_KIND:
            return _rancher_to_cluster(obj)
    except msgspec.ValidationError as exc:
        raise ManifestError(index, _validation_message(exc)) from None
    if api_version is None or kind is None:
        missing = "apiVersion" if api_version is None else "kind"
        raise ManifestError(
            index,
            f"missing `{missing}`; expected apiVersion {API_VERSION} kind {KIND_CLUSTER} "
            f"or apiVersion {RANCHER_API_VERSION} kind {RANCHER_KIND}",
        )
    raise ManifestError(
        index,
        f"unsupported apiVersion {api_version!r} kind {kind!r}; expected apiVersion {API_VERSION} "
        f"kind {KIND_CLUSTER} or apiVersion {RANCHER_API_VERSION} kind {RANCHER_KIND}",
    )


def _type_name(obj: Any) -> str:
    if obj is None:
        return "null"
    if isinstance(obj, list):
        return "a list"
    if isinstance(obj, str):
        return "a string"
    return type(obj).__name__


def _documents(data: bytes | str) -> Iterable[tuple[int, Any]]:
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ManifestError(0, f"manifest is not UTF-8: {exc}") from None
    else:
        text = data.removeprefix("\ufeff")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        docs = _load_json(stripped)
        if docs is not None:
            return enumerate(docs)
        # Not JSON: maybe a YAML flow collection; YAML errors then say what is wrong.
    return _load_yaml(text)


def decode_manifests(data: bytes | str) -> list[Cluster]:
    """Every manifest in ``data``: one JSON object, a JSON array of objects, or (multi-document) YAML.

    Both ``eks-controlplane.io/v1 Cluster`` and Rancher's ``eks.cattle.io/v1 EKSClusterConfig`` are
    accepted; the latter becomes a ``Cluster`` with its ``spec`` as ``spec.eksConfig``, the default sync
    policy, its name and labels, and no status. Empty YAML documents are skipped (but counted in indexes).
    """
    return [convert_manifest(doc, i) for i, doc in _documents(data) if doc is not None]


def decode_cluster(data: bytes | str) -> Cluster:
    """Exactly one manifest from ``data``; zero or several documents are a ``ManifestError``."""
    clusters = decode_manifests(data)
    if len(clusters) != 1:
        raise ManifestError(0, f"expected exactly one manifest document, got {len(clusters)}")
    return clusters[0]


# --- encoding -------------------------------------------------------------------------------------------


def encode_json(obj: Any) -> bytes:
    """``obj`` (a ``Cluster`` or any msgspec value) as JSON; null fields omitted, ``[]``/``{}`` kept."""
    return msgspec.json.encode(obj)


def encode_yaml(obj: Any) -> str:
    """``obj`` as one YAML document, field for field the same as ``encode_json`` (and decodable again)."""
    return yaml.dump(
        msgspec.to_builtins(obj),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
    )


def encode_yaml_all(objs: Iterable[Any]) -> str:
    """Several values as a multi-document YAML stream (``---`` between documents)."""
    return yaml.dump_all(
        (msgspec.to_builtins(o) for o in objs),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
    )
