"""EKS REST-JSON routing: path + method -> operation, request decoding, answer encoding."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from . import _eks
from ._backend import EksBackend
from ._shapes import (
    CreateAddonIn,
    CreateClusterIn,
    CreateNodegroupIn,
    TagResourceIn,
    UpdateClusterConfigIn,
    UpdateClusterVersionIn,
    UpdateNodegroupConfigIn,
    UpdateNodegroupVersionIn,
)
from ._wire import Json, QueryReader, decode

Handler = Callable[[EksBackend, str, list[str], QueryReader, bytes], "Json | bytes"]


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


def _list_updates(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.list_updates(
        b,
        r,
        s[1],
        nodegroup=q.get("nodegroupName"),
        addon=q.get("addonName"),
        max_results=q.int("maxResults"),
        token=q.get("nextToken"),
    )


def _describe_update(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.describe_update(b, r, s[1], s[3], nodegroup=q.get("nodegroupName"), addon=q.get("addonName"))


def _create_ng(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.create_nodegroup(b, r, s[1], decode(body, CreateNodegroupIn))


def _list_ngs(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.list_nodegroups(b, r, s[1], q.int("maxResults"), q.get("nextToken"))


def _describe_ng(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.describe_nodegroup(b, r, s[1], s[3])


def _delete_ng(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.delete_nodegroup(b, r, s[1], s[3])


def _ng_config(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.update_nodegroup_config(b, r, s[1], s[3], decode(body, UpdateNodegroupConfigIn))


def _ng_version(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.update_nodegroup_version(b, r, s[1], s[3], decode(body, UpdateNodegroupVersionIn))


def _create_addon(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.create_addon(b, r, s[1], decode(body, CreateAddonIn))


def _list_addons(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.list_addons(b, r, s[1], q.int("maxResults"), q.get("nextToken"))


def _describe_addon(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.describe_addon(b, r, s[1], s[3])


def _delete_addon(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.delete_addon(b, r, s[1], s[3])


def _addon_versions(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.describe_addon_versions(
        b, q.get("kubernetesVersion"), q.get("addonName"), q.int("maxResults"), q.get("nextToken")
    )


def _tag(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.tag_resource(b, s[1], decode(body, TagResourceIn).tags)


def _untag(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.untag_resource(b, s[1], q.all("tagKeys"))


def _list_tags(b: EksBackend, r: str, s: list[str], q: QueryReader, body: bytes) -> Json | bytes:
    return _eks.list_tags(b, s[1])


# (method, shape) -> (operation, handler); a shape is the path with variable segments as "*".
_ROUTES: dict[tuple[str, tuple[str, ...]], tuple[str, Handler]] = {
    ("POST", ("clusters",)): ("CreateCluster", _create_cluster),
    ("GET", ("clusters",)): ("ListClusters", _list_clusters),
    ("GET", ("clusters", "*")): ("DescribeCluster", _describe_cluster),
    ("DELETE", ("clusters", "*")): ("DeleteCluster", _delete_cluster),
    ("POST", ("clusters", "*", "updates")): ("UpdateClusterVersion", _update_version),
    ("GET", ("clusters", "*", "updates")): ("ListUpdates", _list_updates),
    ("GET", ("clusters", "*", "updates", "*")): ("DescribeUpdate", _describe_update),
    ("POST", ("clusters", "*", "update-config")): ("UpdateClusterConfig", _update_config),
    ("POST", ("clusters", "*", "node-groups")): ("CreateNodegroup", _create_ng),
    ("GET", ("clusters", "*", "node-groups")): ("ListNodegroups", _list_ngs),
    ("GET", ("clusters", "*", "node-groups", "*")): ("DescribeNodegroup", _describe_ng),
    ("DELETE", ("clusters", "*", "node-groups", "*")): ("DeleteNodegroup", _delete_ng),
    ("POST", ("clusters", "*", "node-groups", "*", "update-config")): ("UpdateNodegroupConfig", _ng_config),
    ("POST", ("clusters", "*", "node-groups", "*", "update-version")): (
        "UpdateNodegroupVersion",
        _ng_version,
    ),
    ("POST", ("clusters", "*", "addons")): ("CreateAddon", _create_addon),
    ("GET", ("clusters", "*", "addons")): ("ListAddons", _list_addons),
    ("GET", ("clusters", "*", "addons", "*")): ("DescribeAddon", _describe_addon),
    ("DELETE", ("clusters", "*", "addons", "*")): ("DeleteAddon", _delete_addon),
    ("GET", ("addons", "supported-versions")): ("DescribeAddonVersions", _addon_versions),
    ("POST", ("tags", "*")): ("TagResource", _tag),
    ("DELETE", ("tags", "*")): ("UntagResource", _untag),
    ("GET", ("tags", "*")): ("ListTagsForResource", _list_tags),
}
_FIXED = {
    "clusters",
    "updates",
    "update-config",
    "node-groups",
    "addons",
    "update-version",
    "tags",
    "supported-versions",
}


def route(method: str, raw_path: str) -> tuple[str, Handler, list[str]] | None:
    """The operation for a request, or None. Variable segments are percent-decoded."""
    path = raw_path.split("?", 1)[0]
    segs = path.strip("/").split("/")
    if segs[0] == "tags" and len(segs) > 2:  # an unencoded ARN contains slashes
        segs = ["tags", "/".join(segs[1:])]
    shape = tuple(
        s if (i % 2 == 0 or (segs[0] == "addons" and i == 1)) and s in _FIXED else "*"
        for i, s in enumerate(segs)
    )
    found = _ROUTES.get((method, shape))
    if found is None:
        return None
    segs = [unquote(s) if "%" in s else s for s in segs]
    return found[0], found[1], segs
