"""Pure planning for node groups: what to create, update and delete, the managed launch template's data,
and UpdateNodegroupConfig's parameters (labels, scaling, taints, update config). Re-exported by ``_plan``."""

from __future__ import annotations

import base64
from typing import Any

import msgspec

from controlplane.api import EKSClusterConfigSpec, NodeGroup, NodeGroupUpdateConfig, SyncPolicy, Taint
from controlplane.sync import NODE_GROUPS, TAINTS, KeyedDiff, keyed_diff


def tag_changes(desired: dict[str, str], upstream: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """(tags to add or update, keys to remove) to make ``upstream`` equal ``desired``."""
    add = {k: v for k, v in desired.items() if upstream.get(k) != v}
    remove = sorted(k for k in upstream if k not in desired)
    return add, remove


def nodegroup_version(ng: NodeGroup, cluster_version: str | None) -> str | None:
    """The node group's desired version: "" means the cluster's; None means unmanaged."""
    if ng.version is None:
        return None
    return ng.version or cluster_version


def _every_pair(path: str, want: NodeGroup, have: NodeGroup) -> list[str]:
    return [path]


# The update step compares what the operator compares (launch template, version, scaling, labels, tags),
# which is not the managed-field diff, so every node group present on both sides goes to it.
_NODEGROUP_PLAN = msgspec.structs.replace(NODE_GROUPS, changes=_every_pair)


def _named(groups: list[NodeGroup] | None) -> list[NodeGroup] | None:
    """Validation refuses unnamed and repeated node groups; were one to get here, an unnamed group is
    skipped and the last of a repeated name kept, as a map by name would."""
    if groups is None:
        return None
    return list({ng.nodegroup_name: ng for ng in groups if ng.nodegroup_name}.values())


def nodegroup_plan(desired: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec) -> KeyedDiff[NodeGroup]:
    """Node groups to create (desired order) and delete (upstream order) so that upstream holds the desired
    ones, and the (desired, upstream) pairs of the rest for the update step, in upstream order.

    ``desired`` is the spec after the merge policy ran, so this is the keyed diff under ``desired-wins``;
    a null ``nodeGroups`` is unmanaged and plans nothing.
    """
    return keyed_diff(
        _NODEGROUP_PLAN,
        policy=SyncPolicy.DESIRED_WINS,
        desired=_named(desired.node_groups),
        upstream=_named(upstream.node_groups),
    )


def ami_type(ng: NodeGroup) -> str | None:
    if ng.image_id:
        return None
    if ng.launch_template is not None:
        return "CUSTOM"
    if ng.arm:
        return "AL2023_ARM_64_STANDARD"
    if ng.gpu:
        return "AL2023_x86_64_NVIDIA"
    return "AL2023_x86_64_STANDARD"


class UserDataError(ValueError):
    pass


def launch_template_data(ng: NodeGroup, root_device_name: str) -> dict[str, Any]:
    """``LaunchTemplateData`` for a Rancher-managed node group (``buildLaunchTemplateData``)."""
    data: dict[str, Any] = {}
    if ng.image_id:
        data["ImageId"] = ng.image_id
    if ng.ec2_ssh_key:
        data["KeyName"] = ng.ec2_ssh_key
    if ng.user_data:
        if "Content-Type: multipart/mixed" not in ng.user_data:
            raise UserDataError(
                f"userdata for nodegroup [{ng.nodegroup_name}] is not of mime time multipart/mixed"
            )
        data["UserData"] = base64.b64encode(ng.user_data.encode()).decode()
    ebs: dict[str, Any] = {}
    if ng.disk_size is not None:
        ebs["VolumeSize"] = ng.disk_size
    data["BlockDeviceMappings"] = [{"DeviceName": root_device_name, "Ebs": ebs}]
    if ng.resource_tags:
        tags = [{"Key": k, "Value": v} for k, v in sorted(ng.resource_tags.items())]
        data["TagSpecifications"] = [
            {"ResourceType": rt, "Tags": tags} for rt in ("instance", "volume", "spot-instances-request")
        ]
    if not ng.request_spot_instances and ng.instance_type:
        data["InstanceType"] = ng.instance_type
    return data


def launch_template_differs(desired: NodeGroup, upstream: NodeGroup) -> bool:
    """Whether a Rancher-managed node group needs a new launch-template version."""
    if (desired.user_data or "") != (upstream.user_data or ""):
        return True
    if (desired.ec2_ssh_key or "") != (upstream.ec2_ssh_key or ""):
        return True
    if desired.disk_size != upstream.disk_size and desired.disk_size is not None:
        return True
    if (desired.image_id or "") != (upstream.image_id or ""):
        return True
    if not upstream.request_spot_instances and desired.instance_type != upstream.instance_type:
        return True
    return (desired.resource_tags or {}) != (upstream.resource_tags or {})


def nodegroup_config_update(
    desired: NodeGroup, upstream: NodeGroup, *, full_scaling: bool = False
) -> dict[str, Any] | None:
    """``UpdateNodegroupConfig`` parameters (labels, scaling, taints as addOrUpdate/remove by (key, effect),
    update config), or None when nothing differs.

    ``full_scaling`` is the operator's rule: every update carries the spec's whole scaling config, so a
    label edit also resets ``desiredSize`` to the spec. Without it (three-way sync) the sizes go only
    when one of them differs: a label edit never undoes what an autoscaler or the console set."""
    params: dict[str, Any] = {}
    if desired.labels is not None:
        have = upstream.labels or {}
        want = {k: v or "" for k, v in desired.labels.items()}
        add = {k: v for k, v in want.items() if (have.get(k) or "") != v or k not in have}
        remove = [k for k in have if k not in want]
        if add or remove:
            labels: dict[str, Any] = {}
            if add:
                labels["addOrUpdateLabels"] = add
            if remove:
                labels["removeLabels"] = remove
            params["labels"] = labels
    scaling: dict[str, int] = {}
    differs = False
    for key, want_size, have_size in (
        ("desiredSize", desired.desired_size, upstream.desired_size),
        ("maxSize", desired.max_size, upstream.max_size),
        ("minSize", desired.min_size, upstream.min_size),
    ):
        if want_size is not None:
            scaling[key] = want_size
            differs = differs or want_size != have_size
    taints = keyed_diff(
        TAINTS, policy=SyncPolicy.DESIRED_WINS, desired=desired.taints, upstream=upstream.taints or []
    )
    if taints.mutates:
        payload: dict[str, Any] = {}
        put = [*taints.creates, *(u.want for u in taints.updates)]
        if put:
            payload["addOrUpdateTaints"] = wire_taints(put)
        if taints.deletes:
            payload["removeTaints"] = wire_taints(taints.deletes)
        params["taints"] = payload
    config = desired.update_config
    if config is not None and config != upstream.update_config:
        params["updateConfig"] = wire_update_config(config)
    if scaling and (differs or (full_scaling and params)):
        params["scalingConfig"] = scaling
    return params or None


def wire_taints(taints: list[Taint]) -> list[dict[str, str]]:
    """Taints as EKS takes them (no ``value`` when there is none)."""
    return [
        {k: v for k, v in (("key", t.key), ("value", t.value), ("effect", t.effect)) if v}  # "" is no value
        for t in taints
    ]


def wire_update_config(config: NodeGroupUpdateConfig) -> dict[str, int]:
    if config.max_unavailable_percentage is not None:
        return {"maxUnavailablePercentage": config.max_unavailable_percentage}
    return {"maxUnavailable": config.max_unavailable or 1}


def nodegroup_tag_changes(desired: NodeGroup, upstream: NodeGroup) -> tuple[dict[str, str], list[str]] | None:
    if desired.tags is None:
        return None
    want = {k: v or "" for k, v in desired.tags.items()}
    have = {k: v or "" for k, v in (upstream.tags or {}).items()}
    add, remove = tag_changes(want, have)
    return (add, remove) if add or remove else None
