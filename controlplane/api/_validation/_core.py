"""What every validation area shares: the error type, the rule names, common syntax and helpers."""

from __future__ import annotations

import re

import msgspec

from .._types import Cluster, EKSClusterConfigSpec, NodeGroup

SPEC = "spec.eksConfig"

# Rules: short stable identifiers clients can match on.
R_REQUIRED = "required"
R_UNIQUE = "unique"
R_FORMAT = "format"
R_VERSION_MATCH = "version-match"
R_VERSION_SKEW = "version-skew"
R_ACCESS = "endpoint-access"
R_SUBNETS = "subnets-with-security-groups"
R_SPOT = "spot"
R_MIME = "mime-multipart"
R_SIZE_ORDER = "min<=desired<=max"
R_RANGE = "range"
R_ENUM = "enum"
R_CIDR = "cidr"
R_LABEL = "label"
R_TAG = "tag"
R_NOUPDATE = "noupdate"
R_UNKNOWN = "unknown"


class FieldError(msgspec.Struct, frozen=True):
    """One validation failure: field path (``spec.eksConfig.nodeGroups[1].maxSize``), rule and message."""

    path: str
    rule: str
    message: str


# --- syntax shared by several areas ---------------------------------------------------------------------

DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
EKS_NAME = r"^[0-9A-Za-z][A-Za-z0-9\-_]*$"  # botocore's ClusterName pattern
K8S_VERSION = r"^\d+\.\d+$"
ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$"
# blang/semver's strict parse (semver.New), which the operator applies to "<version>.0".
_NUM = r"(?:0|[1-9]\d*)"
_PRE_ID = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(
    rf"^({_NUM})\.({_NUM})\.({_NUM})(?:-{_PRE_ID}(?:\.{_PRE_ID})*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)


def semver(version: str) -> tuple[int, int] | None:
    """(major, minor) if ``version + ".0"`` is strict semver (the operator's test), else None."""
    m = _SEMVER.match(f"{version}.0")
    return (int(m.group(1)), int(m.group(2))) if m else None


def quote(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def who(cluster: Cluster) -> str:
    """Rancher's ``%s (id: %s)``: the display name and ``metadata.name``."""
    return f"{cluster.spec.eks_config.display_name} (id: {cluster.metadata.name})"


def json_value(struct: msgspec.Struct, field: str) -> object:
    """The value of the field whose JSON name is ``field``."""
    info = _FIELD_BY_JSON_NAME[type(struct)][field]
    return getattr(struct, info)


def _json_names(cls: type[msgspec.Struct]) -> dict[str, str]:
    return {f.encode_name: f.name for f in msgspec.structs.fields(cls)}


_FIELD_BY_JSON_NAME: dict[type, dict[str, str]] = {
    EKSClusterConfigSpec: _json_names(EKSClusterConfigSpec),
    NodeGroup: _json_names(NodeGroup),
}


def managed(value: object) -> object | None:
    """The comparable managed value, or None when unmanaged (null, "", [])."""
    if value is None or (isinstance(value, str | list) and not value):
        return None
    if isinstance(value, list):
        return frozenset(value)  # order of subnets/security groups/instance types is irrelevant to AWS
    return value
