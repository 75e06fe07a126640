"""The fields beyond Rancher's: access, Pod Identity, add-ons, Fargate, the upgrade policy, taints and
update configs. Each error names the field (path) and the rule, and says how to fix it."""

from __future__ import annotations

import msgspec
import pytest

from controlplane.api import (
    AccessEntry,
    AccessPolicy,
    AccessScope,
    Addon,
    AddonPodIdentity,
    Cluster,
    EKSStatus,
    FargateProfile,
    FargateSelector,
    NodeGroupUpdateConfig,
    PodIdentityAssociation,
    Taint,
    UpgradePolicy,
    decode_manifests,
    validate_create,
    validate_update,
)

from ._fixtures import cluster, imported_spec, node_group, spec

S = "spec.eksConfig"
ROLE = "arn:aws:iam::123456789012:role/app"
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def errors(c: Cluster) -> list[tuple[str, str]]:
    return [(e.path, e.rule) for e in validate_create(c)]


def messages(c: Cluster) -> list[str]:
    return [e.message for e in validate_create(c)]


def entry(arn: str = ROLE, **fields: object) -> AccessEntry:
    return AccessEntry(principal_arn=arn, **fields)  # type: ignore[arg-type]


def test_the_new_fields_are_accepted_valid_and_null_stays_null() -> None:
    good = cluster(
        spec(
            authentication_mode="API_AND_CONFIG_MAP",
            bootstrap_cluster_creator_admin_permissions=True,
            access_entries=[
                entry(
                    kubernetes_groups=["admins"],
                    access_policies=[
                        AccessPolicy(policy_arn=ADMIN, access_scope=AccessScope(type="cluster"))
                    ],
                )
            ],
            pod_identity_associations=[
                PodIdentityAssociation(namespace="apps", service_account="app", role_arn=ROLE)
            ],
            addons=[
                Addon(name="eks-pod-identity-agent", version="latest"),
                Addon(name="vpc-cni", version="default"),
            ],
            fargate_profiles=[
                FargateProfile(
                    name="fp", pod_execution_role_arn=ROLE, selectors=[FargateSelector(namespace="batch")]
                )
            ],
            upgrade_policy=UpgradePolicy(support_type="STANDARD"),
            deletion_protection=True,
            node_groups=[
                node_group(
                    taints=[Taint(key="gpu", value="true", effect="NO_SCHEDULE")],
                    update_config=NodeGroupUpdateConfig(max_unavailable_percentage=25),
                )
            ],
        )
    )
    assert validate_create(good) == []
    assert spec().access_entries is None and spec().addons is None


def test_entries_under_config_map_are_refused_and_say_what_to_set() -> None:
    for mode in (None, "CONFIG_MAP"):
        c = cluster(spec(authentication_mode=mode, access_entries=[entry()]))
        assert errors(c) == [(f"{S}.accessEntries", "authentication-mode")]
        assert "authenticationMode: API_AND_CONFIG_MAP" in messages(c)[0]
    assert validate_create(cluster(spec(access_entries=[]))) == []  # managed and empty is fine


def test_access_entries_rules() -> None:
    c = cluster(
        spec(
            authentication_mode="API",
            access_entries=[
                entry("arn:aws:iam::123456789012:group/g"),
                entry(kubernetes_groups=["system:masters"]),
                entry(),
                entry("arn:aws:iam::123456789012:role/nodes", type="EC2_LINUX", username="x"),
                entry(
                    "arn:aws:iam::123456789012:user/u",
                    access_policies=[
                        AccessPolicy(
                            policy_arn="arn:aws:iam::aws:policy/Admin",
                            access_scope=AccessScope(type="cluster"),
                        ),
                        AccessPolicy(policy_arn=ADMIN),
                        AccessPolicy(policy_arn=ADMIN, access_scope=AccessScope(type="namespace")),
                    ],
                ),
            ],
        )
    )
    e = f"{S}.accessEntries"
    assert errors(c) == [
        (f"{e}[0].principalArn", "format"),
        (f"{e}[1].kubernetesGroups[0]", "format"),
        (f"{e}[2].principalArn", "unique"),
        (f"{e}[3].username", "access-entry-type"),
        (f"{e}[4].accessPolicies[0].policyArn", "format"),
        (f"{e}[4].accessPolicies[1].accessScope", "required"),
        (f"{e}[4].accessPolicies[2].policyArn", "unique"),
        (f"{e}[4].accessPolicies[2].accessScope.namespaces", "access-scope"),
    ]


def test_bootstrap_false_under_config_map_and_mode_enum() -> None:
    c = cluster(spec(bootstrap_cluster_creator_admin_permissions=False))
    assert errors(c) == [(f"{S}.bootstrapClusterCreatorAdminPermissions", "authentication-mode")]
    assert errors(cluster(spec(authentication_mode="IAM"))) == [(f"{S}.authenticationMode", "enum")]


def _stored(**eks: object) -> Cluster:
    return cluster(spec(**eks))  # type: ignore[arg-type]


def test_mode_downgrade_and_bootstrap_changes_are_refused_on_update() -> None:
    old = _stored(authentication_mode="API_AND_CONFIG_MAP")
    new = _stored(authentication_mode="CONFIG_MAP")
    result = validate_update(old, new)
    assert [(e.path, e.rule) for e in result] == [(f"{S}.authenticationMode", "authentication-mode")]
    assert "API_AND_CONFIG_MAP to CONFIG_MAP" in result[0].message
    assert validate_update(old, _stored(authentication_mode="API")) == []
    # Against what AWS has (a console upgrade): the spec says CONFIG_MAP, upstream is API.
    upgraded = msgspec.structs.replace(
        _stored(authentication_mode=None),
        status=msgspec.structs.replace(
            old.status, eks_status=EKSStatus(upstream_spec=imported_spec(authentication_mode="API"))
        ),
    )
    assert [e.rule for e in validate_update(upgraded, _stored(authentication_mode="API_AND_CONFIG_MAP"))] == [
        "authentication-mode"
    ]
    flag = validate_update(
        _stored(bootstrap_cluster_creator_admin_permissions=True),
        _stored(bootstrap_cluster_creator_admin_permissions=False),
    )
    assert [(e.path, e.rule) for e in flag] == [(f"{S}.bootstrapClusterCreatorAdminPermissions", "noupdate")]
    # Adopting or releasing the value is not a change of it.
    assert validate_update(_stored(), _stored(bootstrap_cluster_creator_admin_permissions=True)) == []


def test_pod_identity_needs_the_agent_when_addons_are_managed() -> None:
    pia = PodIdentityAssociation(namespace="apps", service_account="app", role_arn=ROLE)
    c = cluster(spec(pod_identity_associations=[pia], addons=[Addon(name="vpc-cni")]))
    assert errors(c) == [(f"{S}.podIdentityAssociations", "pod-identity-agent")]
    assert "eks-pod-identity-agent" in messages(c)[0]
    assert validate_create(cluster(spec(pod_identity_associations=[pia]))) == []  # addons unmanaged
    twice = cluster(spec(pod_identity_associations=[pia, pia]))
    assert errors(twice) == [(f"{S}.podIdentityAssociations[1].serviceAccount", "unique")]
    bad = cluster(spec(pod_identity_associations=[PodIdentityAssociation(namespace="Apps")]))
    assert errors(bad) == [
        (f"{S}.podIdentityAssociations[0].namespace", "format"),
        (f"{S}.podIdentityAssociations[0].serviceAccount", "required"),
        (f"{S}.podIdentityAssociations[0].roleArn", "required"),
    ]


@pytest.mark.parametrize(
    ("addon", "expected"),
    [
        (Addon(), [("addons[0].name", "required")]),
        (Addon(name="x", version="newest"), [("addons[0].version", "format")]),
        (
            Addon(name="x", configuration_values="[1, 2]"),
            [("addons[0].configurationValues", "configuration-values")],
        ),
        (
            Addon(name="x", configuration_values="a: [b"),
            [("addons[0].configurationValues", "configuration-values")],
        ),
        (Addon(name="x", resolve_conflicts="FORCE"), [("addons[0].resolveConflicts", "enum")]),
        (
            Addon(name="x", pod_identity_associations=[AddonPodIdentity(service_account="sa")]),
            [("addons[0].podIdentityAssociations[0].roleArn", "required")],
        ),
        (Addon(name="x", configuration_values='{"replicaCount": 2}'), []),
        (Addon(name="x", configuration_values="replicaCount: 2\n"), []),
    ],
)
def test_addon_rules(addon: Addon, expected: list[tuple[str, str]]) -> None:
    assert errors(cluster(spec(addons=[addon]))) == [(f"{S}.{p}", r) for p, r in expected]


def test_addon_names_are_unique() -> None:
    c = cluster(spec(addons=[Addon(name="coredns"), Addon(name="coredns")]))
    assert errors(c) == [(f"{S}.addons[1].name", "unique")]


def test_fargate_rules() -> None:
    ok = FargateProfile(name="fp", pod_execution_role_arn=ROLE, selectors=[FargateSelector(namespace="a")])
    assert validate_create(cluster(spec(fargate_profiles=[ok]))) == []
    c = cluster(
        spec(
            fargate_profiles=[
                FargateProfile(name="fp", subnets=["sub-1"]),
                ok,
                FargateProfile(name="x", pod_execution_role_arn=ROLE, selectors=[FargateSelector()] * 6),
            ]
        )
    )
    f = f"{S}.fargateProfiles"
    assert errors(c)[:5] == [
        (f"{f}[0].podExecutionRoleArn", "required"),
        (f"{f}[0].subnets", "format"),
        (f"{f}[0].selectors", "range"),
        (f"{f}[1].name", "unique"),
        (f"{f}[2].selectors", "range"),
    ]
    many = cluster(spec(fargate_profiles=[msgspec.structs.replace(ok, name=f"p{i}") for i in range(11)]))
    assert errors(many) == [(f, "range")]


def test_upgrade_policy_taints_and_update_config() -> None:
    assert errors(cluster(spec(upgrade_policy=UpgradePolicy()))) == [
        (f"{S}.upgradePolicy.supportType", "required")
    ]
    ng = node_group(
        taints=[
            Taint(key="a", effect="NoSchedule"),
            Taint(effect="NO_EXECUTE"),
            Taint(key="b", effect="NO_EXECUTE"),
            Taint(key="b", effect="NO_EXECUTE"),
        ],
        update_config=NodeGroupUpdateConfig(max_unavailable=1, max_unavailable_percentage=10),
    )
    n = f"{S}.nodeGroups[0]"
    assert errors(cluster(spec(node_groups=[ng]))) == [
        (f"{n}.taints[0].effect", "enum"),
        (f"{n}.taints[1].key", "required"),
        (f"{n}.taints[3]", "unique"),
        (f"{n}.updateConfig", "update-config"),
    ]
    none = node_group(update_config=NodeGroupUpdateConfig())
    assert errors(cluster(spec(node_groups=[none]))) == [(f"{n}.updateConfig", "update-config")]


def test_both_manifest_forms_carry_the_new_fields() -> None:
    eks = """
  displayName: x
  region: us-west-2
  imported: true
  authenticationMode: API
  accessEntries:
  - principalArn: arn:aws:iam::123456789012:role/ops
    accessPolicies:
    - policyArn: arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy
      accessScope: {type: namespace, namespaces: [a]}
  addons: [{name: vpc-cni, version: latest}]
  fargateProfiles: []
  upgradePolicy: {supportType: EXTENDED}
  deletionProtection: true
"""
    rancher = "apiVersion: eks.cattle.io/v1\nkind: EKSClusterConfig\nmetadata: {name: x}\nspec:" + eks
    native = (
        "apiVersion: eks-controlplane.io/v1\nkind: Cluster\nmetadata: {name: x}\nspec:\n eksConfig:"
        + eks.replace("\n  ", "\n   ")
    )
    a, b = decode_manifests(rancher)[0], decode_manifests(native)[0]
    assert a.spec == b.spec
    assert a.spec.eks_config.fargate_profiles == [] and a.spec.eks_config.pod_identity_associations is None
    assert a.spec.eks_config.access_entries is not None
    scope = a.spec.eks_config.access_entries[0].access_policies[0].access_scope  # type: ignore[index]
    assert scope == AccessScope(type="namespace", namespaces=["a"])
    assert validate_create(a) == []
