"""Building the upstream spec: what AWS says the cluster is, as an ``EKSClusterConfigSpec``.

Two layers, as in the Go code:

* ``build_upstream_cluster_state`` is eks-operator's ``BuildUpstreamClusterState`` (controller/external.go):
  AWS state -> spec, no forced fields, raising ``UpstreamBuildError`` where the Go code returns an error.
* ``build_upstream_spec`` is Rancher's ``BuildEKSUpstreamSpec``: node-group health issues collected for the
  ``[Syncing error] ...`` condition, the operator function called with ``includeManagedLaunchTemplate=false``,
  then the seven forced fields copied from the current spec.

Both are pure: they read the JSON dicts botocore returns and never call AWS. The caller does the calls and
feeds the results (see the ``build_upstream_spec`` docstring for the exact inputs).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from controlplane.api import EKSClusterConfigSpec, LaunchTemplate, NodeGroup

from ._upstream_extras import Extras, cluster_fields, extra_fields, hide_shortcut_addon, taints, update_config

# Issue codes an update can fix (eks-operator's NodeGroupIssueIsUpdatable); any other code means the
# node group must be deleted and recreated.
UPDATABLE_ISSUE_CODES = frozenset(
    {"AsgInstanceLaunchFailures", "InstanceLimitExceeded", "InsufficientFreeAddresses", "ClusterUnreachable"}
)
MUST_RECREATE_SUFFIX = ": node group cannot be updated, must be deleted and recreated"
SYNCING_ERROR_PREFIX = "[Syncing error]"
SYNCING_FAILED_PREFIX = "[Syncing error: syncing failed]"

EBS_CSI_ADDON_NAME = "aws-ebs-csi-driver"
_EBS_ABSENT_STATUSES = frozenset({"CREATE_FAILED", "DEGRADED"})

AMI_GPU = "AL2023_x86_64_NVIDIA"
AMI_STANDARD = "AL2023_x86_64_STANDARD"
AMI_ARM = "AL2023_ARM_64_STANDARD"

# Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, int64 range; anything else (e.g.
# "$Latest", "$Default") is not a number and the launch template version becomes nil.
_GO_INT = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

LaunchTemplateVersions = Mapping[tuple[str, str], Mapping[str, Any] | None]
"""``(launch template id, version string) -> LaunchTemplateVersion dict | None`` (see build_upstream_spec)."""


class UpstreamBuildError(Exception):
    """The upstream spec could not be built at all (Rancher's total failure: ``[Syncing error: syncing
    failed] <message>``). The message is the Go code's text exactly."""


class UpstreamResult(msgspec.Struct, frozen=True):
    """The outcome of one upstream build (Rancher's ``BuildEKSUpstreamSpec``).

    ``spec`` is the upstream spec with the seven forced fields copied from the desired spec.
    ``health_issues`` holds one line per unhealthy node group, exactly as Rancher formats it; when it is
    non-empty the refresh is a partial failure (``Updated`` False ``[Syncing error] <health_error>``) and sync
    still proceeds. ``cluster_arn`` is ``cluster.arn`` (``""`` when absent).
    """

    spec: EKSClusterConfigSpec
    health_issues: list[str]
    cluster_arn: str
    cluster_name: str

    @property
    def health_error(self) -> str | None:
        """Rancher's partial-failure error text, or None when every node group is healthy."""
        if not self.health_issues:
            return None
        return f"error for cluster [{self.cluster_name}]: " + "\n".join(self.health_issues)


def syncing_error_message(result: UpstreamResult) -> str | None:
    """The ``Updated`` condition message for a partial failure (node-group health), or None."""
    err = result.health_error
    return None if err is None else f"{SYNCING_ERROR_PREFIX} {err}"


def syncing_failed_message(error: BaseException | str) -> str:
    """The ``Updated`` condition message for a total failure (no upstream spec could be built)."""
    return f"{SYNCING_FAILED_PREFIX} {error}"


def nodegroup_issue_is_updatable(code: str) -> bool:
    return code in UPDATABLE_ISSUE_CODES


def nodegroup_health_issues(nodegroups: Sequence[Mapping[str, Any]], cluster_name: str) -> list[str]:
    """One ``health error for node group [..] in cluster [..]: m1; m2<suffix>`` line per unhealthy group.

    Every described node group counts, including DELETING ones (Rancher checks before filtering).
    """
    lines: list[str] = []
    for ng in nodegroups:
        issues = (ng.get("health") or {}).get("issues") or []
        if not issues:
            continue
        messages = [str(issue.get("message") or "") for issue in issues]
        suffix = ""
        if any(not nodegroup_issue_is_updatable(str(issue.get("code") or "")) for issue in issues):
            suffix = MUST_RECREATE_SUFFIX
        lines.append(
            f"health error for node group [{ng.get('nodegroupName') or ''}] in cluster [{cluster_name}]: "
            f"{'; '.join(messages)}{suffix}"
        )
    return lines


def managed_launch_template_versions_needed(
    nodegroups: Sequence[Mapping[str, Any]], managed_launch_template_id: str
) -> list[tuple[str, str]]:
    """The ``(template id, version)`` pairs to fetch with DescribeLaunchTemplateVersions before building.

    These are the node groups (not DELETING) whose launch template is the Rancher-managed one; the caller
    fetches each pair and passes the results as ``launch_template_versions``. Order follows the node groups,
    duplicates removed.
    """
    if not managed_launch_template_id:
        return []
    seen: dict[tuple[str, str], None] = {}
    for ng in nodegroups:
        if ng.get("status") == "DELETING":
            continue
        lt = ng.get("launchTemplate")
        if lt and lt.get("id") == managed_launch_template_id:
            seen.setdefault((managed_launch_template_id, str(lt.get("version") or "")), None)
    return list(seen)


def ebs_csi_driver_installed(addon: Mapping[str, Any] | None) -> bool:
    """The operator's ``CheckEBSAddon``: ``addon`` is DescribeAddon's ``response["addon"]`` or None when
    AWS answered ResourceNotFoundException. CREATE_FAILED and DEGRADED count as absent."""
    if addon is None or addon.get("status") in _EBS_ABSENT_STATUSES:
        return False
    return EBS_CSI_ADDON_NAME in str(addon.get("addonArn") or "")


def _parse_go_int64(text: str | None) -> int | None:
    if text is None or not _GO_INT.fullmatch(text):
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def _instance_tags(tag_specs: Sequence[Mapping[str, Any]] | None) -> dict[str, str]:
    """eks-operator's ``utils.GetInstanceTags``: the ``instance`` tag specifications' tags, or ``{}``."""
    tags: dict[str, str] = {}
    for spec in tag_specs or []:
        if spec.get("ResourceType") == "instance":
            for tag in spec.get("Tags") or []:
                tags[str(tag.get("Key") or "")] = str(tag.get("Value") or "")
    return tags


def _decode_user_data(encoded: str) -> str | None:
    # Go's base64.StdEncoding is strict (padding required, no stray characters). A decode failure only
    # logs a warning in the operator; the field then stays null.
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.decode("utf-8", errors="replace")


def _lift_managed_template(
    ng: dict[str, Any],
    name: str,
    display_name: str,
    data: Mapping[str, Any],
) -> None:
    block_devices = data.get("BlockDeviceMappings") or []
    if not block_devices:
        raise UpstreamBuildError(
            f"launch template for node group [{name}] in cluster [{display_name}] is malformed"
        )
    ng["disk_size"] = (block_devices[0].get("Ebs") or {}).get("VolumeSize")
    ng["ec2_ssh_key"] = data.get("KeyName")
    ng["image_id"] = data.get("ImageId")
    ng["instance_type"] = str(data.get("InstanceType") or "")
    ng["resource_tags"] = _instance_tags(data.get("TagSpecifications"))
    user_data = data.get("UserData") or ""
    if user_data:
        decoded = _decode_user_data(user_data)
        if decoded is not None:
            ng["user_data"] = decoded


def _build_nodegroup(
    raw: Mapping[str, Any],
    display_name: str,
    managed_launch_template_id: str,
    launch_template_versions: LaunchTemplateVersions,
    include_managed_launch_template: bool,
) -> NodeGroup:
    name = str(raw.get("nodegroupName") or "")
    scaling = raw.get("scalingConfig") or {}
    spot = raw.get("capacityType") == "SPOT"
    fields: dict[str, Any] = {
        "nodegroup_name": raw.get("nodegroupName"),
        "disk_size": raw.get("diskSize"),
        # Go converts with aws.StringMap, which always yields a (possibly empty) map.
        "labels": dict(raw.get("labels") or {}),
        "desired_size": scaling.get("desiredSize"),
        "max_size": scaling.get("maxSize"),
        "min_size": scaling.get("minSize"),
        "node_role": raw.get("nodeRole"),
        "subnets": list(raw["subnets"]) if raw.get("subnets") is not None else None,
        "tags": dict(raw.get("tags") or {}),
        "request_spot_instances": spot,
        # The Go clause "unless updating to a version different from the control plane" compares string
        # pointers and is dead code: any UPDATING node group loses its version.
        "version": None if raw.get("status") == "UPDATING" else raw.get("version"),
        "taints": taints(raw),
        "update_config": update_config(raw),
    }
    if spot and raw.get("instanceTypes") is not None:
        fields["spot_instance_types"] = list(raw["instanceTypes"])

    lt = raw.get("launchTemplate")
    if lt is not None:
        version_text = lt.get("version")
        fields["launch_template"] = LaunchTemplate(
            id=lt.get("id"), name=lt.get("name"), version=_parse_go_int64(version_text)
        )
        # Deliberate deviation: with an empty managed id (no managed template recorded) nothing is
        # "managed"; the Go code would match a template without an id and fail on the lookup.
        if managed_launch_template_id and lt.get("id") == managed_launch_template_id:
            key = (managed_launch_template_id, str(version_text or ""))
            if key in launch_template_versions and launch_template_versions[key] is None:
                if include_managed_launch_template:
                    fields["launch_template"] = LaunchTemplate(
                        id=None, name=lt.get("name"), version=_parse_go_int64(version_text)
                    )
                    # The Go code `continue`s here: gpu/arm from the AMI type are not set either.
                    return _node_group(fields)
                raise UpstreamBuildError(
                    f"rancher-managed launch template for node group [{name}] in cluster [{display_name}] "
                    "not found, must create new node group and destroy existing"
                )
            version = launch_template_versions.get(key)
            if version is None:
                raise UpstreamBuildError(
                    f"error getting launch template info for node group [{name}] in cluster [{display_name}]"
                )
            _lift_managed_template(fields, name, display_name, version.get("LaunchTemplateData") or {})
            if not include_managed_launch_template:
                fields["launch_template"] = None
    else:
        instance_types = raw.get("instanceTypes") or []
        if not spot and instance_types:
            fields["instance_type"] = str(instance_types[0])
        remote = raw.get("remoteAccess")
        if remote is not None:
            fields["ec2_ssh_key"] = remote.get("ec2SshKey")

    ami_type = raw.get("amiType")
    if ami_type == AMI_GPU:
        fields["gpu"] = True
    elif ami_type == AMI_STANDARD:
        fields["gpu"] = False
    elif ami_type == AMI_ARM:
        fields["arm"] = True
    return _node_group(fields)


def _node_group(fields: dict[str, Any]) -> NodeGroup:
    launch_template = fields.pop("launch_template", None)
    fields = {k: v for k, v in fields.items() if v is not None}
    return NodeGroup(**fields, launch_template=launch_template)


def build_upstream_cluster_state(
    cluster: Mapping[str, Any],
    nodegroups: Sequence[Mapping[str, Any]],
    launch_template_versions: LaunchTemplateVersions | None = None,
    *,
    display_name: str,
    managed_launch_template_id: str = "",
    ebs_addon: Mapping[str, Any] | None = None,
    include_managed_launch_template: bool = False,
    extras: Extras | None = None,
) -> EKSClusterConfigSpec:
    """eks-operator's ``BuildUpstreamClusterState`` over botocore dicts (inputs as in build_upstream_spec).

    ``display_name`` is used in error messages and as ``displayName``. With
    ``include_managed_launch_template`` (the operator's own use), node groups on the managed template keep
    their ``launchTemplate`` and a missing managed template is tolerated (``launchTemplate.id`` null);
    without it (Rancher's use) the template is replaced by the lifted fields and a missing one is an error.
    ``extras`` holds what was read beyond the operator's reads (access entries, add-ons...; see
    ``Extras``): a field it does not hold is null. Raises UpstreamBuildError with the Go messages.
    """
    versions: LaunchTemplateVersions = launch_template_versions or {}
    version = cluster.get("version") or ""
    if not version:
        raise UpstreamBuildError(f"cannot detect cluster [{display_name}] upstream kubernetes version")
    vpc = cluster.get("resourcesVpcConfig") or {}
    network = cluster.get("kubernetesNetworkConfig")
    logging_types: list[str] = []
    cluster_logging = (cluster.get("logging") or {}).get("clusterLogging") or []
    if cluster_logging and cluster_logging[0].get("enabled"):
        # Only the first setup is read (operator quirk 15): a disabled group listed first hides the types.
        logging_types = list(cluster_logging[0].get("types") or [])
    encryption = cluster.get("encryptionConfig") or []
    kms_key = ""
    if encryption:
        kms_key = str((encryption[0].get("provider") or {}).get("keyArn") or "")

    node_groups = [
        _build_nodegroup(
            ng, display_name, managed_launch_template_id, versions, include_managed_launch_template
        )
        for ng in nodegroups
        if ng.get("status") != "DELETING"
    ]
    return EKSClusterConfigSpec(
        display_name=display_name,
        imported=True,
        ip_family=network.get("ipFamily") if network is not None else None,
        kubernetes_version=version,
        tags=dict(cluster.get("tags") or {}),
        public_access=bool(vpc.get("endpointPublicAccess", False)),
        private_access=bool(vpc.get("endpointPrivateAccess", False)),
        public_access_sources=list(vpc.get("publicAccessCidrs") or []),
        logging_types=logging_types,
        ebs_csi_driver=ebs_csi_driver_installed(ebs_addon),
        subnets=list(vpc["subnetIds"]) if vpc.get("subnetIds") is not None else None,
        security_groups=list(vpc["securityGroupIds"]) if vpc.get("securityGroupIds") is not None else None,
        secrets_encryption=bool(encryption),
        kms_key=kms_key,
        service_role=str(cluster.get("roleArn") or ""),
        node_groups=node_groups,
        **cluster_fields(cluster),
        **extra_fields(extras or Extras(), nodegroups),
    )


def build_upstream_spec(
    spec: EKSClusterConfigSpec,
    cluster: Mapping[str, Any],
    nodegroups: Sequence[Mapping[str, Any]],
    launch_template_versions: LaunchTemplateVersions | None = None,
    *,
    cluster_name: str,
    managed_launch_template_id: str = "",
    ebs_addon: Mapping[str, Any] | None = None,
    extras: Extras | None = None,
) -> UpstreamResult:
    """Rancher's ``BuildEKSUpstreamSpec``: the upstream spec used for display and for sync.

    Inputs (all exactly as botocore returns them, no conversion):

    * ``spec``: the cluster's current desired ``eksConfig``; the seven forced fields (``displayName``,
      ``region``, ``amazonCredentialSecret``, ``imported``, ``subnets``, ``securityGroups``,
      ``serviceRole``) are copied from it, so sync never changes them.
    * ``cluster``: ``DescribeCluster(name=spec.displayName)["cluster"]``.
    * ``nodegroups``: ``DescribeNodegroup(...)["nodegroup"]`` for every name ListNodegroups returned (all
      pages), in ListNodegroups order, DELETING ones included (they count for health, are skipped in the
      spec).
    * ``launch_template_versions``: for every pair of ``managed_launch_template_versions_needed(nodegroups,
      managed_launch_template_id)``: ``DescribeLaunchTemplateVersions(LaunchTemplateId=id,
      Versions=[version])["LaunchTemplateVersions"][0]`` (the dict holding ``LaunchTemplateData``), keyed by
      ``(id, version)`` with the version string as the node group reports it. Map the pair to ``None`` when
      AWS said the template or version does not exist (``InvalidLaunchTemplateId.NotFound``,
      ``InvalidLaunchTemplateId.VersionNotFound``, ``InvalidLaunchTemplateName.NotFoundException``...);
      leave it out when the answer held zero versions. Any other error: abort the refresh yourself.
    * ``cluster_name``: our cluster's name (``metadata.name``), used in the health messages as Rancher uses
      its cluster id there.
    * ``managed_launch_template_id``: ``status.eksStatus.managedLaunchTemplateID`` (``""`` when none).
    * ``ebs_addon``: ``DescribeAddon(clusterName, addonName="aws-ebs-csi-driver")["addon"]``, or None when
      AWS answered ResourceNotFoundException. Other errors abort the refresh.
    * ``extras``: the reads of access entries, Pod Identity associations, add-ons and Fargate profiles
      (``Extras``); what it leaves None is null upstream. With ``ebsCSIDriver: true`` and a managed
      ``addons`` list that does not name it, the EBS CSI add-on is left out of ``addons`` (the shortcut
      manages it).

    Raises UpstreamBuildError (total failure) with the Go messages; health issues are a partial failure
    reported in the result.
    """
    upstream = build_upstream_cluster_state(
        cluster,
        nodegroups,
        launch_template_versions,
        display_name=spec.display_name,
        managed_launch_template_id=managed_launch_template_id,
        ebs_addon=ebs_addon,
        include_managed_launch_template=False,
        extras=extras,
    )
    forced = msgspec.structs.replace(
        hide_shortcut_addon(spec, upstream),
        display_name=spec.display_name,
        region=spec.region,
        amazon_credential_secret=spec.amazon_credential_secret,
        imported=spec.imported,
        subnets=list(spec.subnets) if spec.subnets is not None else None,
        security_groups=list(spec.security_groups) if spec.security_groups is not None else None,
        service_role=spec.service_role,
    )
    return UpstreamResult(
        spec=forced,
        health_issues=nodegroup_health_issues(nodegroups, cluster_name),
        cluster_arn=str(cluster.get("arn") or ""),
        cluster_name=cluster_name,
    )
