"""The wire and storage model: msgspec structs with Rancher's exact JSON field names.

Null is meaningful. In ``eksConfig`` a null (or absent) field is *unmanaged*: the control plane neither
pushes it nor overwrites it on sync. ``[]`` and ``{}`` are managed and empty (``nodeGroups: []`` means "no
node groups"). Every optional field is ``X | None = None`` and encoded with ``omit_defaults``, so null and
absent both decode to ``None``, while ``[]``/``{}`` stay distinct through decode, store and encode.
The few fields that are plain strings/bools in Rancher's Go types (``displayName``, ``region``,
``amazonCredentialSecret``, ``imported``, ``instanceType``) keep that shape: they are never null.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import msgspec

API_VERSION = "eks-controlplane.io/v1"
KIND_CLUSTER = "Cluster"
RANCHER_API_VERSION = "eks.cattle.io/v1"
RANCHER_KIND = "EKSClusterConfig"


class _Spec(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True, rename="camel"):
    """Base of every spec struct: camelCase JSON, unknown fields refused, defaults omitted."""


class LaunchTemplate(_Spec):
    """A user-provided launch template for a node group (Rancher's ``LaunchTemplate``)."""

    id: str | None = None
    name: str | None = None
    version: int | None = None


class Taint(_Spec):
    """A Kubernetes taint EKS puts on a node group's nodes; keyed by (``key``, ``effect``)."""

    key: str | None = None
    value: str | None = None
    effect: str | None = None


class NodeGroupUpdateConfig(_Spec):
    """How many nodes a node group's rolling update may take down at once: one of the two, never both."""

    max_unavailable: int | None = None
    max_unavailable_percentage: int | None = None


class AccessScope(_Spec):
    """Where an access policy applies: the whole cluster, or the listed namespaces."""

    type: str | None = None
    namespaces: list[str] | None = None


class AccessPolicy(_Spec):
    """An EKS access policy associated with an access entry; keyed by ``policyArn``."""

    policy_arn: str | None = None
    access_scope: AccessScope | None = None


class AccessEntry(_Spec):
    """An EKS access entry: an IAM principal allowed into the cluster; keyed by ``principalArn``."""

    principal_arn: str | None = None
    type: str | None = None
    kubernetes_groups: list[str] | None = None
    username: str | None = None
    tags: dict[str, str] | None = None
    access_policies: list[AccessPolicy] | None = None


class PodIdentityAssociation(_Spec):
    """An EKS Pod Identity association; keyed by (``namespace``, ``serviceAccount``)."""

    namespace: str | None = None
    service_account: str | None = None
    role_arn: str | None = None
    tags: dict[str, str] | None = None


class AddonPodIdentity(_Spec):
    """A Pod Identity association an add-on owns (in the add-on's namespace); keyed by ``serviceAccount``."""

    service_account: str | None = None
    role_arn: str | None = None


class Addon(_Spec):
    """An EKS add-on; keyed by ``name``. ``version`` is an explicit version, ``default`` or ``latest``
    (resolved for the cluster's Kubernetes version); ``resolveConflicts`` says how a push treats fields
    someone else changed in the cluster (it is an instruction, never read back)."""

    name: str | None = None
    version: str | None = None
    configuration_values: str | None = None
    service_account_role_arn: str | None = None
    pod_identity_associations: list[AddonPodIdentity] | None = None
    resolve_conflicts: str | None = None


class FargateSelector(_Spec):
    """Which pods a Fargate profile runs: a namespace and, optionally, labels they must carry."""

    namespace: str | None = None
    labels: dict[str, str] | None = None


class FargateProfile(_Spec):
    """An EKS Fargate profile; keyed by ``name``. Immutable in EKS: a change is a delete then a create."""

    name: str | None = None
    pod_execution_role_arn: str | None = None
    subnets: list[str] | None = None
    selectors: list[FargateSelector] | None = None
    tags: dict[str, str] | None = None


class UpgradePolicy(_Spec):
    """The cluster's support policy: ``STANDARD`` or ``EXTENDED`` (extended support costs extra)."""

    support_type: str | None = None


class NodeGroup(_Spec):
    """A managed node group (Rancher's ``NodeGroup``); ``nodegroupName`` is the diff key."""

    nodegroup_name: str | None = None
    gpu: bool | None = None
    arm: bool | None = None
    image_id: str | None = None
    disk_size: int | None = None
    instance_type: str = ""
    labels: dict[str, str | None] | None = None
    ec2_ssh_key: str | None = None
    desired_size: int | None = None
    max_size: int | None = None
    min_size: int | None = None
    subnets: list[str] | None = None
    tags: dict[str, str | None] | None = None
    resource_tags: dict[str, str] | None = None
    user_data: str | None = None
    version: str | None = None
    launch_template: LaunchTemplate | None = None
    request_spot_instances: bool | None = None
    spot_instance_types: list[str] | None = None
    node_role: str | None = None
    taints: list[Taint] | None = None
    update_config: NodeGroupUpdateConfig | None = None


class EKSClusterConfigSpec(_Spec):
    """Rancher's ``EKSClusterConfigSpec``: the desired EKS cluster. JSON names are Rancher's exactly."""

    amazon_credential_secret: str = ""
    display_name: str = ""
    region: str = ""
    ip_family: str | None = None
    imported: bool = False
    kubernetes_version: str | None = None
    tags: dict[str, str] | None = None
    secrets_encryption: bool | None = None
    kms_key: str | None = None
    public_access: bool | None = None
    private_access: bool | None = None
    ebs_csi_driver: bool | None = msgspec.field(default=None, name="ebsCSIDriver")
    public_access_sources: list[str] | None = None
    logging_types: list[str] | None = None
    subnets: list[str] | None = None
    security_groups: list[str] | None = None
    service_role: str | None = None
    node_groups: list[NodeGroup] | None = None
    authentication_mode: str | None = None
    bootstrap_cluster_creator_admin_permissions: bool | None = None
    access_entries: list[AccessEntry] | None = None
    pod_identity_associations: list[PodIdentityAssociation] | None = None
    addons: list[Addon] | None = None
    fargate_profiles: list[FargateProfile] | None = None
    upgrade_policy: UpgradePolicy | None = None
    deletion_protection: bool | None = None


class SyncPolicy(StrEnum):
    """How upstream (AWS) changes and local spec changes are reconciled on each refresh."""

    THREE_WAY = "three-way"
    RANCHER = "rancher"
    DESIRED_WINS = "desired-wins"
    OBSERVE = "observe"


class Phase(StrEnum):
    """The cluster actor's phases (eks-operator's, plus ``deleting``)."""

    NEW = ""
    CREATING = "creating"
    IMPORTING = "importing"
    ACTIVE = "active"
    UPDATING = "updating"
    DELETING = "deleting"


class Metadata(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True, rename="camel"):
    """Object metadata. ``resourceVersion`` changes on every write; ``generation`` on every spec change."""

    name: str
    resource_version: str = ""
    generation: int = 0
    creation_timestamp: str = ""
    deletion_timestamp: str = ""
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    annotations: dict[str, str] = msgspec.field(default_factory=dict)


class ClusterSpec(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True, rename="camel"):
    """What the user wants: the EKS config and how to reconcile it with upstream changes."""

    eks_config: EKSClusterConfigSpec
    sync_policy: SyncPolicy = SyncPolicy.THREE_WAY


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(msgspec.Struct, rename="camel"):
    """A Rancher-style condition; absent reads as ``Unknown`` with an empty message.

    Encoded with every field, defaults included: Kubernetes and Rancher clients treat a condition
    without ``status`` as malformed, so an ``Unknown`` one must say so on the wire."""

    type: str
    status: ConditionStatus = "Unknown"
    message: str = ""
    reason: str = ""
    last_update_time: str = ""
    last_transition_time: str = ""


class EKSStatus(msgspec.Struct, omit_defaults=True, rename="camel"):
    """Rancher's ``status.eksStatus`` plus the operator's launch-template bookkeeping."""

    upstream_spec: EKSClusterConfigSpec | None = None
    virtual_network: str = ""
    subnets: list[str] = msgspec.field(default_factory=list)
    security_groups: list[str] = msgspec.field(default_factory=list)
    private_requires_tunnel: bool | None = None
    managed_launch_template_id: str = msgspec.field(default="", name="managedLaunchTemplateID")
    managed_launch_template_versions: dict[str, str] = msgspec.field(default_factory=dict)
    generated_node_role: str = ""
    version_support: str = ""
    """EKS's support status of ``versionSupportOf`` (``STANDARD_SUPPORT``, ``EXTENDED_SUPPORT``,
    ``UNSUPPORTED``; DescribeClusterVersions), read once per Kubernetes version the cluster runs."""
    version_support_of: str = ""
    """The Kubernetes version ``versionSupport`` is about."""


class ClusterStatus(msgspec.Struct, omit_defaults=True, rename="camel"):
    """Everything the control plane observed and recorded about a cluster."""

    phase: Phase = Phase.NEW
    failure_message: str = ""
    conditions: list[Condition] = msgspec.field(default_factory=list)
    eks_status: EKSStatus = msgspec.field(default_factory=EKSStatus)
    api_endpoint: str = ""
    ca_cert: str = ""
    service_account_token_secret: str = ""
    applied_spec: EKSClusterConfigSpec | None = None
    network_fields_source: str = ""
    template_versions_to_delete: list[str] = msgspec.field(default_factory=list)
    completed_update_ids: list[str] = msgspec.field(default_factory=list, name="completedUpdateIDs")
    last_sync_time: str = ""
    observed_generation: int = 0
    generated_service_role: str = ""
    """The service role name when we created it (delete removes its stack); empty when user-provided."""
    create_request_token: str = ""
    """Client request token of our CreateCluster, persisted before the call: after a crash, a cluster
    of this name that EKS created with our role is ours to adopt (the operator's re-entry trap)."""
    created_oidc_provider_arn: str = ""
    """The IAM OIDC provider we created for the EBS CSI addon (delete removes it); empty if reused."""
    sync_conflicts: list[str] = msgspec.field(default_factory=list)
    """Fields changed both locally and upstream at the last three-way merge (local value kept)."""
    replica: str = ""
    """The replica whose actor wrote this status (the shard's lease holder at the time)."""
    intents: dict[str, int] = msgspec.field(default_factory=dict)
    """Per mutating intent (``CreateNodegroup/ng1``...), how many calls of it went through: with the
    cluster's identity and generation it derives the idempotency token of the next call, so a retry
    after a crash or a fail-over repeats the token (AWS answers it without acting twice)."""


class Cluster(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """A managed cluster, as stored and served (``apiVersion`` and ``kind`` are always encoded)."""

    api_version: str = API_VERSION
    kind: str = KIND_CLUSTER
    metadata: Metadata = msgspec.field(default_factory=lambda: Metadata(name=""))
    spec: ClusterSpec = msgspec.field(default_factory=lambda: ClusterSpec(eks_config=EKSClusterConfigSpec()))
    status: ClusterStatus = msgspec.field(default_factory=ClusterStatus)


class Event(msgspec.Struct, omit_defaults=True, rename="camel"):
    """One entry of a cluster's bounded event log (newest last when listed)."""

    time: str
    type: Literal["Normal", "Warning"]
    reason: str
    message: str
    cluster: str = ""


class Credential(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True, rename="camel"):
    """An AWS credential referenced by ``amazonCredentialSecret: "namespace:name"``.

    Secret values never leave through ``repr``/``str`` or the API encoding (see ``CredentialInfo``).
    """

    namespace: str
    name: str
    access_key: str
    secret_key: str
    session_token: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    created: str = ""
    updated: str = ""

    def __repr__(self) -> str:
        return (
            f"Credential(namespace={self.namespace!r}, name={self.name!r}, "
            f"access_key={self.access_key!r}, secret_key='***', "
            f"session_token={'***' if self.session_token else None}, role_arn={self.role_arn!r}, "
            f"external_id={'***' if self.external_id else None})"
        )

    __str__ = __repr__

    @property
    def ref(self) -> str:
        return f"{self.namespace}:{self.name}"

    def info(self) -> CredentialInfo:
        return CredentialInfo(
            namespace=self.namespace,
            name=self.name,
            access_key_id=self.access_key,
            has_session_token=self.session_token is not None,
            role_arn=self.role_arn,
            has_external_id=self.external_id is not None,
            created=self.created,
            updated=self.updated,
        )


class CredentialInfo(msgspec.Struct, omit_defaults=True, rename="camel"):
    """The API's view of a credential: metadata only, never a secret value."""

    namespace: str
    name: str
    access_key_id: str
    has_session_token: bool = False
    role_arn: str | None = None
    has_external_id: bool = False
    created: str = ""
    updated: str = ""


class RancherManifest(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Rancher's ``EKSClusterConfig`` object (``eks.cattle.io/v1``), accepted and converted."""

    api_version: str
    kind: str
    metadata: Metadata
    spec: EKSClusterConfigSpec
    status: dict[str, object] | None = None
