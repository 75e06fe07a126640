"""The pure planning core of the update pass, property-tested."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controlplane.api import (
    Cluster,
    ClusterSpec,
    ClusterStatus,
    EKSClusterConfigSpec,
    Metadata,
    NodeGroup,
    NodeGroupUpdateConfig,
    Phase,
    Taint,
    UpgradePolicy,
)
from controlplane.aws import AccessDeniedError
from controlplane.cluster import ReconcileError, _plan
from controlplane.cluster import _conditions as cond
from controlplane.cluster._access import access_hint
from controlplane.cluster._actor import is_access_denied
from controlplane.cluster._addons import pick
from controlplane.cluster._context import Pass
from controlplane.cluster._rancher import phase_conditions
from controlplane.downstream import DownstreamError

keys = st.text("abcdef", min_size=1, max_size=3)
tags = st.dictionaries(keys, st.text("xyz", max_size=2), max_size=5)
log_types = st.lists(
    st.sampled_from(["api", "audit", "authenticator", "controllerManager", "scheduler"]), unique=True
)


@given(tags, tags)
def test_tag_changes_make_upstream_equal_desired(desired: dict[str, str], upstream: dict[str, str]) -> None:
    add, remove = _plan.tag_changes(desired, upstream)
    result = {k: v for k, v in upstream.items() if k not in remove}
    result.update(add)
    assert result == desired
    assert (not add and not remove) == (desired == upstream)


@given(log_types, log_types)
def test_logging_changes_make_upstream_equal_desired(desired: list[str], upstream: list[str]) -> None:
    enable, disable = _plan.logging_changes(desired, upstream)
    assert sorted((set(upstream) - set(disable)) | set(enable)) == sorted(desired)


specs = st.builds(
    EKSClusterConfigSpec,
    kubernetes_version=st.sampled_from([None, "1.29", "1.30"]),
    public_access=st.sampled_from([None, True, False]),
    private_access=st.sampled_from([None, True, False]),
    public_access_sources=st.sampled_from([None, [], ["0.0.0.0/0"], ["203.0.113.0/24"]]),
    tags=st.none() | tags,
    logging_types=st.none() | log_types,
)


@given(specs)
def test_nothing_to_do_when_upstream_equals_desired(spec: EKSClusterConfigSpec) -> None:
    upstream = msgspec.structs.replace(
        spec,
        public_access=bool(spec.public_access),
        private_access=bool(spec.private_access),
        public_access_sources=spec.public_access_sources or ["0.0.0.0/0"],
        tags=spec.tags or {},
        logging_types=spec.logging_types or [],
        kubernetes_version=spec.kubernetes_version or "1.30",
    )
    assert _plan.next_cluster_mutation(spec, upstream) is None


ORDER = ["version", "access", "cidrs", "tags", "logging"]


@given(specs, specs)
def test_one_mutation_at_a_time_in_the_operator_order(
    desired: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec
) -> None:
    """Applying each planned mutation to upstream converges, in the order version, access, CIDRs,
    tags, logging, and never more than one step of each kind."""
    have = msgspec.structs.replace(
        upstream,
        kubernetes_version=upstream.kubernetes_version or "1.29",
        public_access=bool(upstream.public_access),
        private_access=bool(upstream.private_access),
        public_access_sources=upstream.public_access_sources or ["0.0.0.0/0"],
        tags=upstream.tags or {},
        logging_types=upstream.logging_types or [],
    )
    seen: list[str] = []
    for _ in range(6):
        m = _plan.next_cluster_mutation(desired, have)
        if m is None:
            break
        seen.append(m.kind)
        if m.kind == "version":
            have = msgspec.structs.replace(have, kubernetes_version=m.params["version"])
        elif m.kind == "access":
            vpc = m.params["resourcesVpcConfig"]
            have = msgspec.structs.replace(
                have, public_access=vpc["endpointPublicAccess"], private_access=vpc["endpointPrivateAccess"]
            )
        elif m.kind == "cidrs":
            have = msgspec.structs.replace(
                have, public_access_sources=m.params["resourcesVpcConfig"]["publicAccessCidrs"]
            )
        elif m.kind == "tags":
            t = {k: v for k, v in (have.tags or {}).items() if k not in m.params["remove"]}
            t.update(m.params["add"])
            have = msgspec.structs.replace(have, tags=t)
        else:
            types = set(have.logging_types or [])
            for setup in m.params["logging"]["clusterLogging"]:
                types = types | set(setup["types"]) if setup["enabled"] else types - set(setup["types"])
            have = msgspec.structs.replace(have, logging_types=sorted(types))
    else:
        pytest.fail(f"did not converge: {seen}")
    assert seen == sorted(seen, key=ORDER.index)
    assert len(seen) == len(set(seen))


def test_version_problems() -> None:
    assert _plan.version_problem("1.30", "1.30") is None
    assert _plan.version_problem("1.31", "1.30") is None
    assert "downgrade" in (_plan.version_problem("1.29", "1.30") or "")
    assert "one minor version at a time" in (_plan.version_problem("1.32", "1.30") or "")


def test_launch_template_data_rules() -> None:
    ng = NodeGroup(
        nodegroup_name="a",
        instance_type="m5.large",
        disk_size=40,
        image_id="ami-1",
        ec2_ssh_key="k",
        resource_tags={"c": "d"},
        user_data="Content-Type: multipart/mixed; x",
    )
    data = _plan.launch_template_data(ng, "/dev/sda1")
    assert data["ImageId"] == "ami-1" and data["KeyName"] == "k" and data["InstanceType"] == "m5.large"
    assert data["BlockDeviceMappings"] == [{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 40}}]
    assert {t["ResourceType"] for t in data["TagSpecifications"]} == {
        "instance",
        "volume",
        "spot-instances-request",
    }
    spot = msgspec.structs.replace(ng, request_spot_instances=True)
    assert "InstanceType" not in _plan.launch_template_data(spot, "/dev/xvda")
    with pytest.raises(
        _plan.UserDataError, match=r"userdata for nodegroup \[a\] is not of mime time multipart/mixed"
    ):
        _plan.launch_template_data(msgspec.structs.replace(ng, user_data="#!/bin/sh"), "/dev/xvda")


def test_ami_types() -> None:
    base = NodeGroup(nodegroup_name="a")
    assert _plan.ami_type(base) == "AL2023_x86_64_STANDARD"
    assert _plan.ami_type(msgspec.structs.replace(base, gpu=True)) == "AL2023_x86_64_NVIDIA"
    assert _plan.ami_type(msgspec.structs.replace(base, gpu=True, arm=True)) == "AL2023_ARM_64_STANDARD"
    assert _plan.ami_type(msgspec.structs.replace(base, image_id="ami-1")) is None


def test_conditions_guard_and_messages() -> None:
    status = ClusterStatus()
    assert cond.get(status, cond.PROVISIONED) == ("Unknown", "")
    assert cond.set_condition(status, cond.PROVISIONED, "Unknown", "") is False  # absent reads Unknown
    assert cond.set_condition(status, cond.PROVISIONED, "False", "boom") is True
    assert cond.set_condition(status, cond.PROVISIONED, "False", "boom") is False  # Rancher's no-op guard
    first = status.conditions[0].last_transition_time
    assert cond.set_condition(status, cond.PROVISIONED, "False", "other") is True
    assert status.conditions[0].last_transition_time == first  # same status: no transition
    assert cond.credential_message("AccessDenied: Forbidden") == (
        "cannot access EKS, check cloud credential: AccessDenied: Forbidden"
    )
    assert cond.credential_message("") == ""


def test_access_denied_is_told_by_the_error_type_not_by_403_in_the_text() -> None:
    # Rancher spots "403" in the message; a cluster named "x403" must not read as a credential problem.
    cluster = _cluster_in(Phase.UPDATING, "error updating cluster [x403 (id: c)] kubernetes version: boom")
    phase_conditions(cluster)
    assert cond.get(cluster.status, cond.UPDATED) == (
        "False",
        "error updating cluster [x403 (id: c)] kubernetes version: boom",
    )
    cluster = _cluster_in(Phase.NEW, "error listing clusters: AccessDeniedException: not authorized")
    phase_conditions(cluster, access_denied=True)
    assert cond.get(cluster.status, cond.PROVISIONED) == (
        "False",
        "cannot access EKS, check cloud credential: error listing clusters: AccessDeniedException: "
        "not authorized",
    )
    denied = AccessDeniedError("AccessDeniedException: not authorized", code="AccessDeniedException")
    assert is_access_denied(ReconcileError("wrapped")) is False
    try:
        raise ReconcileError("error listing clusters") from denied
    except ReconcileError as exc:
        assert is_access_denied(exc)
    assert is_access_denied(DownstreamError("forbidden", kind="api", status=403))
    assert not is_access_denied(DownstreamError("unauthorized", kind="api", status=401))
    assert not is_access_denied(ReconcileError("error: 403 in a name"))


def _cluster_in(phase: Phase, failure: str) -> Cluster:
    cluster = Cluster(metadata=Metadata(name="c"), spec=ClusterSpec(eks_config=EKSClusterConfigSpec()))
    cluster.status.phase = phase
    cluster.status.failure_message = failure
    return cluster


def test_intent_tokens_repeat_for_a_retry_and_change_once_a_call_went_through() -> None:
    cluster = Cluster(
        metadata=Metadata(name="c", generation=3, creation_timestamp="2026-01-01T00:00:00Z"),
        spec=ClusterSpec(eks_config=EKSClusterConfigSpec()),
    )
    p = Pass(cluster, None, None, None)  # type: ignore[arg-type]
    first = p.token("CreateNodegroup/ng1")
    assert p.token("CreateNodegroup/ng1") == first  # a retry (nothing recorded yet): the same token
    assert p.token("CreateNodegroup/ng2") != first
    assert len({first, p.token("UpdateNodegroupConfig/ng1"), p.token("UpdateCluster/version")}) == 3
    p.sent("CreateNodegroup/ng1")
    second = p.token("CreateNodegroup/ng1")
    assert second != first and cluster.status.intents == {"CreateNodegroup/ng1": 1}
    cluster.metadata.generation = 4
    assert p.token("CreateNodegroup/ng1") != second  # a new spec generation, a new intent
    other = Cluster(
        metadata=Metadata(name="c", generation=3, creation_timestamp="2026-02-02T00:00:00Z"),
        spec=ClusterSpec(eks_config=EKSClusterConfigSpec()),
    )
    assert Pass(other, None, None, None).token("CreateNodegroup/ng1") != first  # type: ignore[arg-type]
    for i in range(_plan.INTENTS_KEPT + 10):
        p.sent(f"CreateStack/s{i}")
    assert len(cluster.status.intents) == _plan.INTENTS_KEPT  # bounded, oldest dropped
    assert f"CreateStack/s{_plan.INTENTS_KEPT + 9}" in cluster.status.intents


def test_label_only_update_carries_scaling_only_under_the_operators_rule() -> None:
    want = NodeGroup(nodegroup_name="a", desired_size=2, min_size=1, max_size=3, labels={"tier": "web"})
    # The autoscaler moved desiredSize to 3; only the labels differ in the spec.
    have = NodeGroup(nodegroup_name="a", desired_size=3, min_size=1, max_size=3, labels={})
    labels = {"addOrUpdateLabels": {"tier": "web"}}
    # The operator (rancher, desired-wins): the whole scaling config goes along and resets desiredSize.
    assert _plan.nodegroup_config_update(want, have, full_scaling=True) == {
        "labels": labels,
        "scalingConfig": {"desiredSize": 2, "maxSize": 3, "minSize": 1},
    }
    # Three-way: the spec's sizes were adopted from AWS before the push; a label edit sends labels only.
    adopted = msgspec.structs.replace(want, desired_size=3)
    assert _plan.nodegroup_config_update(adopted, have) == {"labels": labels}
    # A size that differs goes under both rules; nothing to change is no call under both.
    assert _plan.nodegroup_config_update(want, have)["scalingConfig"] == {  # type: ignore[index]
        "desiredSize": 2,
        "maxSize": 3,
        "minSize": 1,
    }
    same = msgspec.structs.replace(have, labels={"tier": "web"})
    assert _plan.nodegroup_config_update(adopted, same, full_scaling=True) is None
    unsized = NodeGroup(nodegroup_name="a", labels={"tier": "web"})
    assert _plan.nodegroup_config_update(unsized, have, full_scaling=True) == {"labels": labels}


# --- the fields beyond Rancher ----------------------------------------------------------------------


def test_access_upgrade_policy_and_protection_mutations_come_after_the_operators() -> None:
    base = EKSClusterConfigSpec(authentication_mode="CONFIG_MAP", deletion_protection=False)
    up = _plan.next_cluster_mutation(
        msgspec.structs.replace(base, authentication_mode="API_AND_CONFIG_MAP"), base
    )
    assert up is not None and up.kind == "authentication"
    assert up.params == {"accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"}}
    back = msgspec.structs.replace(base, authentication_mode="API")
    assert _plan.next_cluster_mutation(base, back) is None  # a step back is never planned
    assert (
        _plan.mode_problem("CONFIG_MAP", "API") is not None
        and _plan.mode_problem("API", "CONFIG_MAP") is None
    )
    policy = _plan.next_cluster_mutation(
        msgspec.structs.replace(base, upgrade_policy=UpgradePolicy(support_type="STANDARD")), base
    )
    assert policy is not None and policy.params == {"upgradePolicy": {"supportType": "STANDARD"}}
    protect = _plan.next_cluster_mutation(msgspec.structs.replace(base, deletion_protection=True), base)
    assert protect is not None and protect.params == {"deletionProtection": True}
    # The operator's mutations go first: tags before the authentication mode.
    both = msgspec.structs.replace(base, authentication_mode="API", tags={"a": "1"})
    first = _plan.next_cluster_mutation(both, msgspec.structs.replace(base, tags={}))
    assert first is not None and first.kind == "tags"


def test_taints_and_update_config_in_one_config_update() -> None:
    have = NodeGroup(
        nodegroup_name="ng",
        taints=[Taint(key="a", value="1", effect="NO_SCHEDULE"), Taint(key="b", effect="NO_EXECUTE")],
        update_config=NodeGroupUpdateConfig(max_unavailable=1),
    )
    want = msgspec.structs.replace(
        have,
        taints=[
            Taint(key="a", value="2", effect="NO_SCHEDULE"),
            Taint(key="c", value="", effect="NO_EXECUTE"),
        ],
        update_config=NodeGroupUpdateConfig(max_unavailable_percentage=20),
    )
    assert _plan.nodegroup_config_update(want, have) == {
        "taints": {
            "addOrUpdateTaints": [
                {"key": "c", "effect": "NO_EXECUTE"},
                {"key": "a", "value": "2", "effect": "NO_SCHEDULE"},
            ],
            "removeTaints": [{"key": "b", "effect": "NO_EXECUTE"}],
        },
        "updateConfig": {"maxUnavailablePercentage": 20},
    }
    unmanaged = msgspec.structs.replace(want, taints=None, update_config=None)
    assert _plan.nodegroup_config_update(unmanaged, have) is None


def test_access_hint_names_the_exact_fix() -> None:
    role = "arn:aws:iam::123456789012:role/deployer"
    assert access_hint(role, "API") == (
        "add this element to spec.eksConfig.accessEntries: "
        '{"principalArn": "arn:aws:iam::123456789012:role/deployer", "type": "STANDARD", "accessPolicies": '
        '[{"policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", '
        '"accessScope": {"type": "cluster"}}]}'
    )
    config_map = access_hint(role, "CONFIG_MAP")
    assert "aws-auth ConfigMap (namespace kube-system), under mapRoles: '- rolearn: " + role in config_map
    assert "groups: [system:masters]" in config_map and "API_AND_CONFIG_MAP" in config_map
    assert "under mapUsers: '- userarn: " in access_hint("arn:aws:iam::123456789012:user/u", "CONFIG_MAP")


def _versions(*rows: tuple[str, str, bool]) -> list[dict[str, object]]:
    return [
        {
            "addonVersions": [
                {"addonVersion": v, "compatibilities": [{"clusterVersion": k, "defaultVersion": d}]}
                for v, k, d in rows
            ]
        }
    ]


def test_default_and_latest_addon_versions() -> None:
    infos = _versions(
        ("v1.9.0-eksbuild.1", "1.31", False),
        ("v1.10.0-eksbuild.2", "1.31", False),
        ("v1.8.1-eksbuild.1", "1.31", True),
        ("v2.0.0-eksbuild.1", "1.32", True),
    )
    assert pick(infos, "1.31", "latest") == "v1.10.0-eksbuild.2"  # by number, not by text
    assert pick(infos, "1.31", "default") == "v1.8.1-eksbuild.1"
    assert pick(infos, "1.30", "latest") is None
