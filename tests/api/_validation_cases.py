"""What the validation tests share: expected-error builders and the cluster the update cases change."""

from __future__ import annotations

import msgspec

from controlplane.api import Cluster, ClusterSpec, FieldError, NodeGroup

from ._fixtures import cluster, imported_spec, lt_node_group, node_group, spec, spot_node_group

WHO = "prod-use1 (id: c-abc12)"  # "[%s (id: %s)]": displayName and metadata.name
S = "spec.eksConfig"
NG0 = f"{S}.nodeGroups[0]"


def E(path: str, rule: str, message: str) -> FieldError:
    return FieldError(path=path, rule=rule, message=message)


def nil_cluster(field: str) -> FieldError:
    return E(f"{S}.{field}", "required", f"field [{field}] cannot be nil for non-import cluster [{WHO}]")


def nil_ng(field: str, path: str | None = None, name: str = "ng1") -> FieldError:
    return E(
        path or f"{NG0}.{field}",
        "required",
        f"field [{field}] cannot be nil for nodegroup [{name}] in non-nil cluster [{WHO}]",
    )


def with_ng(ng: NodeGroup, **changes: object) -> Cluster:
    return cluster(spec(node_groups=[ng], **changes))


def imported_ng(ng: NodeGroup, **changes: object) -> Cluster:
    return cluster(imported_spec(node_groups=[ng], **changes))


def bare(**fields: object) -> NodeGroup:
    return NodeGroup(nodegroup_name="ng1", **fields)  # type: ignore[arg-type]


BASE = cluster(
    spec(
        ip_family="ipv4",
        secrets_encryption=True,
        kms_key="arn:aws:kms:us-east-1:123456789012:key/abc",
        subnets=["subnet-1", "subnet-2"],
        security_groups=["sg-1"],
        service_role="eks-service",
        node_groups=[
            node_group(
                subnets=["subnet-1"],
                node_role="arn:aws:iam::123456789012:role/nodes",
                spot_instance_types=None,
            ),
            lt_node_group("lt"),
            spot_node_group("spot"),
        ],
    )
)


def changed(**changes: object) -> Cluster:
    return msgspec.structs.replace(
        BASE,
        spec=ClusterSpec(eks_config=msgspec.structs.replace(BASE.spec.eks_config, **changes)),
    )


def changed_ng(index: int, **changes: object) -> Cluster:
    groups = list(BASE.spec.eks_config.node_groups or [])
    groups[index] = msgspec.structs.replace(groups[index], **changes)
    return changed(node_groups=groups)


def noupdate(field: str) -> list[FieldError]:
    return [E(f"{S}.{field}", "noupdate", f"cannot modify EKS {field} after creation")]


def ng_noupdate(index: int, name: str, field: str) -> list[FieldError]:
    path = f"{S}.nodeGroups[{index}].{field}"
    return [E(path, "noupdate", f"cannot modify EKS nodegroup [{name}] {field} after creation")]
