"""EKS REST-JSON routing: path + method -> operation, request decoding, answer encoding."""

from __future__ import annotations

from urllib.parse import unquote

from . import _eks
from ._backend import EksBackend, Handler
from ._eks import RESOURCES
from ._shapes import (
    CreateClusterIn,
    UpdateClusterConfigIn,
    UpdateClusterVersionIn,
)
from ._wire import Json, QueryReader, decode


# Each handler gets (backend, region, path segments, query, body).
def _create_cluster(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.create_cluster(b, r, decode(body, CreateClusterIn))


def _list_clusters(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.list_clusters(b, r, q.int("maxResults"), q.get("nextToken"))


def _describe_cluster(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.describe_cluster(b, r, s[1])


def _delete_cluster(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.delete_cluster(b, r, s[1])


def _update_version(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.update_cluster_version(b, r, s[1], decode(body, UpdateClusterVersionIn))


def _update_config(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.update_cluster_config(b, r, s[1], decode(body, UpdateClusterConfigIn))


# (method, shape) -> (operation, handler); a shape is the path with variable segments as "*".
_ROUTES: dict[tuple[str, tuple[str, ...]], tuple[str, Handler]] = {
    ("POST", ("clusters",)): ("CreateCluster", _create_cluster),
    ("GET", ("clusters",)): ("ListClusters", _list_clusters),
    ("GET", ("clusters", "*")): ("DescribeCluster", _describe_cluster),
    ("DELETE", ("clusters", "*")): ("DeleteCluster", _delete_cluster),
    ("POST", ("clusters", "*", "updates")): ("UpdateClusterVersion", _update_version),
    ("POST", ("clusters", "*", "update-config")): ("UpdateClusterConfig", _update_config),
}
_ROUTES.update((key, op) for r in RESOURCES for key, op in r.routes.items())
# Every path shape's prefixes: a segment is a fixed word where a route has it after the same
# prefix, else a variable (a cluster may be named "updates").
_PREFIXES = {shape[: i + 1] for _, shape in _ROUTES for i in range(len(shape))}


def route(method: str, raw_path: str) -> tuple[str, Handler, list[str]] | None:
    """The operation for a request, or None. Variable segments are percent-decoded."""
    path = raw_path.split("?", 1)[0]
    segs = path.strip("/").split("/")
    if segs[0] == "tags" and len(segs) > 2:  # an unencoded ARN contains slashes
        segs = ["tags", "/".join(segs[1:])]
    shape: tuple[str, ...] = ()
    for s in segs:
        fixed = (*shape, s)
        shape = fixed if fixed in _PREFIXES else (*shape, "*")
    found = _ROUTES.get((method, shape))
    if found is None:
        return None
    segs = [unquote(s) if "%" in s else s for s in segs]
    return found[0], found[1], segs
