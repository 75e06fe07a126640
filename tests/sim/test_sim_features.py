"""The simulated EKS beyond Rancher's operations: access entries, Pod Identity, add-on updates and
schemas, Fargate profiles, access/upgrade/protection settings; what AWS refuses, it refuses.

``test_every_operation_we_call_passes_botocore_validation`` walks every EKS operation of the control
plane's registry through botocore: botocore validates each request against the model before sending it,
and each raw answer is checked against the operation's output shape here (every key a member of its
shape, every value of its type, every enum value one the model lists), so the simulator cannot answer
what AWS never would.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.model import ListShape, MapShape, Shape, StructureShape

from controlplane.aws import OPERATIONS

from .conftest import NODE_ROLE, SUBNETS, active_cluster, wait_for

pytestmark = pytest.mark.anyio

A = "123456789012"
ME = f"arn:aws:iam::{A}:user/moto"  # what moto's STS names the test's keys
OPS_ROLE = f"arn:aws:iam::{A}:role/ops"
POD_ROLE = f"arn:aws:iam::{A}:role/fargate-pods"
APP_ROLE = f"arn:aws:iam::{A}:role/app"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return e.value.response["Error"]["Code"]  # type: ignore[no-any-return]


def message(e: pytest.ExceptionInfo[ClientError]) -> str:
    return e.value.response["Error"]["Message"]  # type: ignore[no-any-return]


# --- the answers' shapes -----------------------------------------------------------------------------


def check_value(shape: Shape, value: Any, path: str) -> None:
    """``value`` (decoded JSON) is what botocore's model allows for ``shape``."""
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        assert isinstance(value, dict), path
        wire = {m.serialization.get("name", name): m for name, m in shape.members.items()}
        for key, item in value.items():
            assert key in wire, f"{path}.{key} is not in the model's {shape.name}"
            check_value(wire[key], item, f"{path}.{key}")
    elif isinstance(shape, ListShape):
        assert isinstance(value, list), path
        for i, item in enumerate(value):
            check_value(shape.member, item, f"{path}[{i}]")
    elif isinstance(shape, MapShape):
        assert isinstance(value, dict), path
        for key, item in value.items():
            check_value(shape.value, item, f"{path}[{key}]")
    elif kind == "string":
        assert isinstance(value, str), (path, value)
        if shape.enum:
            assert value in shape.enum, f"{path}: {value!r} is not one of {shape.enum}"
    elif kind == "boolean":
        assert isinstance(value, bool), (path, value)
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), (path, value)
    elif kind in ("double", "float"):
        assert isinstance(value, int | float), (path, value)
    elif kind == "timestamp":
        assert isinstance(value, int | float | str), (path, value)
    else:
        raise AssertionError(f"{path}: unchecked type {kind}")


class Recorder:
    """Checks every raw EKS answer against its operation's output shape, and records the operations."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        self.seen.add(operation_model.name)
        status = response_dict.get("status_code", 200)
        body = response_dict.get("body") or b""
        if status >= 300 or operation_model.output_shape is None:
            return
        doc = json.loads(body) if body else {}
        body_members = StructureShape(
            operation_model.output_shape.name,
            {
                "type": "structure",
                "members": {
                    name: {"shape": m.name}
                    for name, m in operation_model.output_shape.members.items()
                    if m.serialization.get("location") is None
                },
            },
            operation_model.output_shape._shape_resolver,
        )
        check_value(body_members, doc, operation_model.name)


async def _walk(eks: Any) -> None:
    """Every operation of the registry, in an order that makes each succeed."""
    c = await active_cluster(
        eks,
        "walk",
        accessConfig={
            "authenticationMode": "API_AND_CONFIG_MAP",
            "bootstrapClusterCreatorAdminPermissions": True,
        },
        upgradePolicy={"supportType": "STANDARD"},
        deletionProtection=True,
    )
    await eks.list_clusters()
    await eks.describe_cluster_versions(clusterVersions=["1.28", "1.32"])
    # Access entries and policies.
    await eks.create_access_entry(clusterName="walk", principalArn=OPS_ROLE, kubernetesGroups=["ops"])
    await eks.list_access_entries(clusterName="walk")
    await eks.describe_access_entry(clusterName="walk", principalArn=OPS_ROLE)
    await eks.update_access_entry(clusterName="walk", principalArn=OPS_ROLE, username="ops")
    await eks.associate_access_policy(
        clusterName="walk",
        principalArn=OPS_ROLE,
        policyArn=VIEW,
        accessScope={"type": "namespace", "namespaces": ["a"]},
    )
    await eks.list_associated_access_policies(clusterName="walk", principalArn=OPS_ROLE)
    await eks.disassociate_access_policy(clusterName="walk", principalArn=OPS_ROLE, policyArn=VIEW)
    await eks.delete_access_entry(clusterName="walk", principalArn=OPS_ROLE)
    # Pod Identity.
    a = (
        await eks.create_pod_identity_association(
            clusterName="walk", namespace="apps", serviceAccount="app", roleArn=APP_ROLE, tags={"t": "1"}
        )
    )["association"]
    await eks.list_pod_identity_associations(clusterName="walk")
    await eks.describe_pod_identity_association(clusterName="walk", associationId=a["associationId"])
    await eks.update_pod_identity_association(
        clusterName="walk", associationId=a["associationId"], roleArn=OPS_ROLE
    )
    await eks.delete_pod_identity_association(clusterName="walk", associationId=a["associationId"])
    # Add-ons.
    versions = await eks.describe_addon_versions(addonName="coredns", kubernetesVersion=c["version"])
    version = versions["addons"][0]["addonVersions"][0]["addonVersion"]
    await eks.describe_addon_configuration(addonName="coredns", addonVersion=version)
    await eks.create_addon(clusterName="walk", addonName="coredns", configurationValues='{"replicaCount": 2}')
    await wait_for(lambda: _addon_is(eks, "walk", "coredns", "ACTIVE"))
    await eks.describe_addon(clusterName="walk", addonName="coredns")
    await eks.list_addons(clusterName="walk")
    await eks.update_addon(clusterName="walk", addonName="coredns", configurationValues="replicaCount: 3")
    await wait_for(lambda: _addon_is(eks, "walk", "coredns", "ACTIVE"))
    # Fargate.
    await eks.create_fargate_profile(
        clusterName="walk",
        fargateProfileName="fp",
        podExecutionRoleArn=POD_ROLE,
        selectors=[{"namespace": "batch", "labels": {"k": "v"}}],
    )
    await eks.list_fargate_profiles(clusterName="walk")
    await eks.describe_fargate_profile(clusterName="walk", fargateProfileName="fp")
    await wait_for(lambda: _fargate_is(eks, "walk", "fp", "ACTIVE"))
    # Node groups with taints and an update config.
    await eks.create_nodegroup(
        clusterName="walk",
        nodegroupName="ng",
        subnets=SUBNETS,
        nodeRole=NODE_ROLE,
        taints=[{"key": "gpu", "value": "true", "effect": "NO_SCHEDULE"}],
        updateConfig={"maxUnavailablePercentage": 20},
    )
    await eks.list_nodegroups(clusterName="walk")
    await wait_for(lambda: _ng_is(eks, "walk", "ng", "ACTIVE"))
    u = await eks.update_nodegroup_config(
        clusterName="walk",
        nodegroupName="ng",
        taints={"addOrUpdateTaints": [{"key": "spot", "value": "yes", "effect": "NO_EXECUTE"}]},
        updateConfig={"maxUnavailable": 2},
        labels={"addOrUpdateLabels": {"a": "b"}},
        scalingConfig={"minSize": 1, "maxSize": 4, "desiredSize": 2},
    )
    await eks.describe_update(name="walk", updateId=u["update"]["id"], nodegroupName="ng")
    await wait_for(lambda: _ng_is(eks, "walk", "ng", "ACTIVE"))
    await eks.update_nodegroup_version(clusterName="walk", nodegroupName="ng")
    await wait_for(lambda: _ng_is(eks, "walk", "ng", "ACTIVE"))
    await eks.describe_nodegroup(clusterName="walk", nodegroupName="ng")
    await eks.tag_resource(resourceArn=c["arn"], tags={"k": "v"})
    await eks.list_tags_for_resource(resourceArn=c["arn"])
    await eks.untag_resource(resourceArn=c["arn"], tagKeys=["k"])
    # Cluster settings, each one update at a time.
    for config in (
        {"accessConfig": {"authenticationMode": "API"}},
        {"upgradePolicy": {"supportType": "EXTENDED"}},
        {"resourcesVpcConfig": {"endpointPrivateAccess": True}},
        {"logging": {"clusterLogging": [{"types": ["api"], "enabled": True}]}},
        {"deletionProtection": False},
    ):
        u = await eks.update_cluster_config(name="walk", **config)
        await eks.list_updates(name="walk")
        await eks.describe_update(name="walk", updateId=u["update"]["id"])
        await wait_for(lambda: _cluster_is(eks, "walk", "ACTIVE"))
    u = await eks.update_cluster_version(name="walk", version="1.33")
    await wait_for(lambda: _cluster_is(eks, "walk", "ACTIVE"))
    # Tear down, in the order EKS accepts.
    await eks.delete_addon(clusterName="walk", addonName="coredns")
    await eks.delete_fargate_profile(clusterName="walk", fargateProfileName="fp")
    await eks.delete_nodegroup(clusterName="walk", nodegroupName="ng")
    await wait_for(lambda: _nothing_attached(eks, "walk"))
    await eks.delete_cluster(name="walk")


async def test_every_operation_we_call_passes_botocore_validation(eks: Any) -> None:
    recorder = Recorder()
    eks.meta.events.register("before-parse.eks", recorder)
    await _walk(eks)
    called = {name for service, name in OPERATIONS if service == "eks"}
    assert called <= recorder.seen, f"not walked: {sorted(called - recorder.seen)}"


# --- what AWS refuses ----------------------------------------------------------------------------


async def test_access_entries_need_an_api_mode_and_the_mode_only_moves_forward(eks: Any) -> None:
    await active_cluster(eks, "cm")
    with pytest.raises(ClientError) as e:
        await eks.create_access_entry(clusterName="cm", principalArn=OPS_ROLE)
    assert code(e) == "InvalidRequestException"
    assert "[API, API_AND_CONFIG_MAP]" in message(e)
    with pytest.raises(ClientError) as e:
        await eks.list_access_entries(clusterName="cm")
    assert code(e) == "InvalidRequestException"
    await eks.update_cluster_config(name="cm", accessConfig={"authenticationMode": "API"})
    await wait_for(lambda: _cluster_is(eks, "cm", "ACTIVE"))
    # The creator got its cluster-admin entry when the cluster started using access entries.
    assert (await eks.list_access_entries(clusterName="cm"))["accessEntries"] == [ME]
    policies = await eks.list_associated_access_policies(clusterName="cm", principalArn=ME)
    assert [p["policyArn"] for p in policies["associatedAccessPolicies"]] == [ADMIN]
    with pytest.raises(ClientError) as e:
        await eks.update_cluster_config(name="cm", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
    assert code(e) == "InvalidParameterException"
    assert "Unsupported authentication mode update from API to API_AND_CONFIG_MAP" in message(e)


async def test_access_entry_rules(eks: Any) -> None:
    await active_cluster(
        eks,
        "ae",
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
    )
    assert (await eks.list_access_entries(clusterName="ae"))["accessEntries"] == []  # no bootstrap entry
    await eks.create_access_entry(clusterName="ae", principalArn=OPS_ROLE)
    with pytest.raises(ClientError) as e:
        await eks.create_access_entry(clusterName="ae", principalArn=OPS_ROLE)
    assert code(e) == "ResourceInUseException"
    with pytest.raises(ClientError) as e:
        await eks.create_access_entry(
            clusterName="ae", principalArn=APP_ROLE, kubernetesGroups=["system:masters"]
        )
    assert code(e) == "InvalidParameterException"
    await eks.create_access_entry(clusterName="ae", principalArn=NODE_ROLE, type="EC2_LINUX")
    with pytest.raises(ClientError) as e:
        await eks.associate_access_policy(
            clusterName="ae", principalArn=NODE_ROLE, policyArn=VIEW, accessScope={"type": "cluster"}
        )
    assert code(e) == "InvalidRequestException"
    entry = (await eks.describe_access_entry(clusterName="ae", principalArn=OPS_ROLE))["accessEntry"]
    assert entry["username"] == f"arn:aws:sts::{A}:assumed-role/ops/{{{{SessionName}}}}"
    assert entry["type"] == "STANDARD" and entry["kubernetesGroups"] == []
    await eks.tag_resource(resourceArn=entry["accessEntryArn"], tags={"team": "ops"})
    assert (await eks.list_tags_for_resource(resourceArn=entry["accessEntryArn"]))["tags"] == {"team": "ops"}
    with pytest.raises(ClientError) as e:
        await eks.create_cluster(
            name="bad",
            roleArn=NODE_ROLE,
            resourcesVpcConfig={"subnetIds": SUBNETS},
            accessConfig={
                "authenticationMode": "CONFIG_MAP",
                "bootstrapClusterCreatorAdminPermissions": False,
            },
        )
    assert code(e) == "InvalidParameterException"


async def test_a_second_fargate_profile_in_flight_is_refused(eks: Any) -> None:
    await active_cluster(eks, "fg")
    selectors = [{"namespace": "a"}]
    await eks.create_fargate_profile(
        clusterName="fg", fargateProfileName="one", podExecutionRoleArn=POD_ROLE, selectors=selectors
    )
    with pytest.raises(ClientError) as e:
        await eks.create_fargate_profile(
            clusterName="fg", fargateProfileName="two", podExecutionRoleArn=POD_ROLE, selectors=selectors
        )
    assert code(e) == "ResourceInUseException"
    assert message(e) == (
        "Cannot create Fargate Profile two because cluster fg currently has Fargate profile one in status "
        "CREATING"
    )
    await wait_for(lambda: _fargate_is(eks, "fg", "one", "ACTIVE"))
    await eks.create_fargate_profile(
        clusterName="fg", fargateProfileName="two", podExecutionRoleArn=POD_ROLE, selectors=selectors
    )
    with pytest.raises(ClientError) as e:
        await eks.delete_fargate_profile(clusterName="fg", fargateProfileName="one")
    assert code(e) == "ResourceInUseException" and "two in status CREATING" in message(e)
    await wait_for(lambda: _fargate_is(eks, "fg", "two", "ACTIVE"))
    await eks.delete_fargate_profile(clusterName="fg", fargateProfileName="one")
    with pytest.raises(ClientError) as e:
        await eks.delete_cluster(name="fg")
    assert code(e) == "ResourceInUseException" and "fargate profiles attached" in message(e)
    profile = (await eks.describe_fargate_profile(clusterName="fg", fargateProfileName="two"))[
        "fargateProfile"
    ]
    assert profile["subnets"] == SUBNETS  # the cluster's, when none are named


async def test_a_protected_cluster_is_not_deleted(eks: Any) -> None:
    await active_cluster(eks, "keep", deletionProtection=True)
    with pytest.raises(ClientError) as e:
        await eks.delete_cluster(name="keep")
    assert code(e) == "InvalidRequestException" and "deletion protection" in message(e)
    assert (await eks.describe_cluster(name="keep"))["cluster"]["status"] == "ACTIVE"
    await eks.update_cluster_config(name="keep", deletionProtection=False)
    await wait_for(lambda: _cluster_is(eks, "keep", "ACTIVE"))
    await eks.delete_cluster(name="keep")
    assert (await eks.describe_cluster(name="keep"))["cluster"]["status"] == "DELETING"


async def test_addon_versions_schemas_and_owned_associations(eks: Any) -> None:
    await active_cluster(eks, "ad", version="1.30")
    with pytest.raises(ClientError) as e:
        await eks.create_addon(clusterName="ad", addonName="kube-proxy", addonVersion="v1.31.0-eksbuild.2")
    assert code(e) == "InvalidParameterException" and "not supported on Kubernetes 1.30" in message(e)
    with pytest.raises(ClientError) as e:
        await eks.create_addon(
            clusterName="ad", addonName="coredns", configurationValues='{"replicaCount": "two"}'
        )
    assert code(e) == "InvalidParameterException"
    assert message(e).startswith(
        "ConfigurationValue provided in request is not supported: Json schema validation"
    )
    created = await eks.create_addon(
        clusterName="ad",
        addonName="aws-ebs-csi-driver",
        podIdentityAssociations=[{"serviceAccount": "ebs-csi-controller-sa", "roleArn": APP_ROLE}],
    )
    addon = created["addon"]
    assert addon["addonVersion"] == "v1.41.0-eksbuild.1"  # the default for 1.30
    (owned,) = (await eks.list_pod_identity_associations(clusterName="ad"))["associations"]
    assert owned["ownerArn"] == addon["addonArn"] and addon["podIdentityAssociations"] == [
        owned["associationArn"]
    ]
    with pytest.raises(ClientError) as e:
        await eks.delete_pod_identity_association(clusterName="ad", associationId=owned["associationId"])
    assert code(e) == "InvalidRequestException"
    await wait_for(lambda: _addon_is(eks, "ad", "aws-ebs-csi-driver", "ACTIVE"))
    await eks.update_addon(
        clusterName="ad",
        addonName="aws-ebs-csi-driver",
        addonVersion="v1.40.1-eksbuild.1",
        podIdentityAssociations=[],
    )
    assert await _addon_status(eks, "ad", "aws-ebs-csi-driver") == "UPDATING"
    updates = await eks.list_updates(name="ad", addonName="aws-ebs-csi-driver")
    assert len(updates["updateIds"]) == 1
    await wait_for(lambda: _addon_is(eks, "ad", "aws-ebs-csi-driver", "ACTIVE"))
    after = (await eks.describe_addon(clusterName="ad", addonName="aws-ebs-csi-driver"))["addon"]
    assert after["addonVersion"] == "v1.40.1-eksbuild.1" and "podIdentityAssociations" not in after
    assert (await eks.list_pod_identity_associations(clusterName="ad"))["associations"] == []
    versions = await eks.describe_addon_versions(addonName="kube-proxy", kubernetesVersion="1.30")
    (info,) = versions["addons"]
    assert [v["addonVersion"] for v in info["addonVersions"]] == ["v1.30.0-eksbuild.2"]
    cv = await eks.describe_cluster_versions(clusterVersions=["1.28", "1.32"])
    status = {v["clusterVersion"]: v["versionStatus"] for v in cv["clusterVersions"]}
    assert status == {"1.32": "STANDARD_SUPPORT", "1.28": "EXTENDED_SUPPORT"}


async def test_pod_identity_one_association_per_service_account(eks: Any) -> None:
    await active_cluster(eks, "pi")
    await eks.create_pod_identity_association(
        clusterName="pi", namespace="a", serviceAccount="s", roleArn=APP_ROLE
    )
    with pytest.raises(ClientError) as e:
        await eks.create_pod_identity_association(
            clusterName="pi", namespace="a", serviceAccount="s", roleArn=OPS_ROLE
        )
    assert code(e) == "ResourceInUseException"
    with pytest.raises(ClientError) as e:
        await eks.create_pod_identity_association(
            clusterName="pi", namespace="A", serviceAccount="s", roleArn=OPS_ROLE
        )
    assert code(e) == "InvalidParameterException"


# --- helpers -------------------------------------------------------------------------------------


async def _cluster_is(eks: Any, name: str, status: str) -> bool:
    return str((await eks.describe_cluster(name=name))["cluster"]["status"]) == status


async def _ng_is(eks: Any, cluster: str, ng: str, status: str) -> bool:
    return (
        str((await eks.describe_nodegroup(clusterName=cluster, nodegroupName=ng))["nodegroup"]["status"])
        == status
    )


async def _addon_status(eks: Any, cluster: str, name: str) -> str:
    return str((await eks.describe_addon(clusterName=cluster, addonName=name))["addon"]["status"])


async def _addon_is(eks: Any, cluster: str, name: str, status: str) -> bool:
    return await _addon_status(eks, cluster, name) == status


async def _fargate_is(eks: Any, cluster: str, name: str, status: str) -> bool:
    profile = await eks.describe_fargate_profile(clusterName=cluster, fargateProfileName=name)
    return str(profile["fargateProfile"]["status"]) == status


async def _nothing_attached(eks: Any, cluster: str) -> bool:
    groups = (await eks.list_nodegroups(clusterName=cluster))["nodegroups"]
    profiles = (await eks.list_fargate_profiles(clusterName=cluster))["fargateProfileNames"]
    return not groups and not profiles
