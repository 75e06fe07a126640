"""Request bodies of the EKS operations the simulator serves (botocore's JSON names; unknown keys ignored)."""

from __future__ import annotations

from typing import Any

import msgspec


class _In(msgspec.Struct, kw_only=True, omit_defaults=True):
    pass


class VpcConfigIn(_In):
    subnetIds: list[str] | None = None
    securityGroupIds: list[str] | None = None
    endpointPublicAccess: bool | None = None
    endpointPrivateAccess: bool | None = None
    publicAccessCidrs: list[str] | None = None


class LogSetupIn(_In):
    types: list[str] = []
    enabled: bool | None = None


class LoggingIn(_In):
    clusterLogging: list[LogSetupIn] = []


class NetworkIn(_In):
    serviceIpv4Cidr: str | None = None
    ipFamily: str | None = None


class ProviderIn(_In):
    keyArn: str | None = None


class EncryptionIn(_In):
    resources: list[str] = []
    provider: ProviderIn | None = None


class AccessConfigIn(_In):
    bootstrapClusterCreatorAdminPermissions: bool | None = None
    authenticationMode: str | None = None


class UpgradePolicyIn(_In):
    supportType: str | None = None


class CreateClusterIn(_In):
    name: str
    roleArn: str
    resourcesVpcConfig: VpcConfigIn
    version: str | None = None
    kubernetesNetworkConfig: NetworkIn | None = None
    logging: LoggingIn | None = None
    clientRequestToken: str | None = None
    tags: dict[str, str] | None = None
    encryptionConfig: list[EncryptionIn] | None = None
    accessConfig: AccessConfigIn | None = None
    upgradePolicy: UpgradePolicyIn | None = None
    deletionProtection: bool | None = None


class UpdateClusterConfigIn(_In):
    resourcesVpcConfig: VpcConfigIn | None = None
    logging: LoggingIn | None = None
    clientRequestToken: str | None = None
    accessConfig: AccessConfigIn | None = None
    upgradePolicy: UpgradePolicyIn | None = None
    zonalShiftConfig: dict[str, Any] | None = None
    computeConfig: dict[str, Any] | None = None
    kubernetesNetworkConfig: dict[str, Any] | None = None
    storageConfig: dict[str, Any] | None = None
    remoteNetworkConfig: dict[str, Any] | None = None
    deletionProtection: bool | None = None


class UpdateClusterVersionIn(_In):
    version: str
    clientRequestToken: str | None = None
    force: bool = False


class ScalingIn(_In):
    minSize: int | None = None
    maxSize: int | None = None
    desiredSize: int | None = None


class TaintIn(_In):
    key: str
    effect: str
    value: str | None = None


class LaunchTemplateIn(_In):
    name: str | None = None
    version: str | None = None
    id: str | None = None


class RemoteAccessIn(_In):
    ec2SshKey: str | None = None
    sourceSecurityGroups: list[str] | None = None


class UpdateConfigIn(_In):
    maxUnavailable: int | None = None
    maxUnavailablePercentage: int | None = None


class CreateNodegroupIn(_In):
    nodegroupName: str
    subnets: list[str]
    nodeRole: str
    scalingConfig: ScalingIn | None = None
    diskSize: int | None = None
    instanceTypes: list[str] | None = None
    amiType: str | None = None
    remoteAccess: RemoteAccessIn | None = None
    labels: dict[str, str] | None = None
    taints: list[TaintIn] | None = None
    tags: dict[str, str] | None = None
    clientRequestToken: str | None = None
    launchTemplate: LaunchTemplateIn | None = None
    updateConfig: UpdateConfigIn | None = None
    capacityType: str | None = None
    version: str | None = None
    releaseVersion: str | None = None


class LabelsPayloadIn(_In):
    addOrUpdateLabels: dict[str, str] | None = None
    removeLabels: list[str] | None = None


class TaintsPayloadIn(_In):
    addOrUpdateTaints: list[TaintIn] | None = None
    removeTaints: list[TaintIn] | None = None


class UpdateNodegroupConfigIn(_In):
    labels: LabelsPayloadIn | None = None
    taints: TaintsPayloadIn | None = None
    scalingConfig: ScalingIn | None = None
    updateConfig: UpdateConfigIn | None = None
    clientRequestToken: str | None = None


class UpdateNodegroupVersionIn(_In):
    version: str | None = None
    releaseVersion: str | None = None
    launchTemplate: LaunchTemplateIn | None = None
    force: bool = False
    clientRequestToken: str | None = None


class TagResourceIn(_In):
    tags: dict[str, str]


class AddonPodIdentityIn(_In):
    serviceAccount: str
    roleArn: str


class CreateAddonIn(_In):
    addonName: str
    addonVersion: str | None = None
    serviceAccountRoleArn: str | None = None
    resolveConflicts: str | None = None
    clientRequestToken: str | None = None
    tags: dict[str, str] | None = None
    configurationValues: str | None = None
    podIdentityAssociations: list[AddonPodIdentityIn] | None = None


class UpdateAddonIn(_In):
    addonVersion: str | None = None
    serviceAccountRoleArn: str | None = None
    resolveConflicts: str | None = None
    clientRequestToken: str | None = None
    configurationValues: str | None = None
    podIdentityAssociations: list[AddonPodIdentityIn] | None = None


class CreateAccessEntryIn(_In):
    principalArn: str
    kubernetesGroups: list[str] | None = None
    tags: dict[str, str] | None = None
    clientRequestToken: str | None = None
    username: str | None = None
    type: str | None = None


class UpdateAccessEntryIn(_In):
    kubernetesGroups: list[str] | None = None
    clientRequestToken: str | None = None
    username: str | None = None


class AccessScopeIn(_In):
    type: str | None = None
    namespaces: list[str] | None = None


class AssociateAccessPolicyIn(_In):
    policyArn: str
    accessScope: AccessScopeIn


class CreatePodIdentityAssociationIn(_In):
    namespace: str
    serviceAccount: str
    roleArn: str
    clientRequestToken: str | None = None
    tags: dict[str, str] | None = None


class UpdatePodIdentityAssociationIn(_In):
    roleArn: str | None = None
    clientRequestToken: str | None = None


class FargateSelectorIn(_In):
    namespace: str | None = None
    labels: dict[str, str] | None = None


class CreateFargateProfileIn(_In):
    fargateProfileName: str
    podExecutionRoleArn: str
    subnets: list[str] | None = None
    selectors: list[FargateSelectorIn] | None = None
    clientRequestToken: str | None = None
    tags: dict[str, str] | None = None
