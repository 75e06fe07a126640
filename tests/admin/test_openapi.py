"""The OpenAPI document and the validators agree: every registered rule is published on the fields it names,
and for every bounded rule a value the published schema refuses is refused by the API with the rule's
message (and one it accepts is accepted), over HTTP like a client would see it."""

from __future__ import annotations

import copy
import re
import string
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi

from controlplane.admin._openapi import openapi_document
from controlplane.api import Credential, Rule, registered_rules
from controlplane.api._validation import (
    _access,
    _addons,
    _cluster,
    _credentials,
    _fargate,
    _lifecycle,
    _networking,
    _node_groups,
    _pod_identity,
    _tags_labels,
    _taints,
)

from ._support import AUTH, SECRET, Api, cluster, running_api

pytestmark = pytest.mark.anyio

SCHEMAS = openapi_document()["components"]["schemas"]
ROLE = "arn:aws:iam::123456789012:role/x"
TAGS_51 = {f"k{i}": "v" for i in range(51)}
TAGS_50 = {f"k{i}": "v" for i in range(50)}

# For every rule with constraints: values of the constrained part the schema refuses, and ones it accepts.
EXAMPLES: dict[Rule, tuple[list[Any], list[Any]]] = {
    _cluster.NAME_FORMAT: (["Bad_Name", "x" * 254, "a..b"], ["ok-name", "a.b"]),
    _cluster.DISPLAY_NAME_REQUIRED: ([""], ["prod"]),
    _cluster.DISPLAY_NAME_FORMAT: (["-bad", "a b", "x" * 101], ["a_b-1", "x" * 100]),
    _cluster.REGION: (["US-EAST", "useast1"], ["us-gov-west-1", "eu-west-1"]),
    _cluster.SERVICE_ROLE_FORMAT: (["my role", "x" * 65], ["eks-service", "x" * 64]),
    _cluster.LOGGING_TYPE: (["kubelet", "API"], ["api", "controllerManager"]),
    _cluster.VERSION_FORMAT: (["v1.30", "1.30.1"], ["1.30"]),
    _networking.IP_FAMILY: (["ipv5", ""], ["ipv4", "IPv4"]),
    _node_groups.NAME_REQUIRED: ([""], ["ng-2"]),
    _node_groups.NAME_FORMAT: (["ng 1", "x" * 64], ["ng_1-a", "x" * 63]),
    _node_groups.VERSION_FORMAT: (["1.30.1", "v1.30"], ["1.30"]),
    _node_groups.MIN_SIZE: ([-1], [0, 1]),
    _node_groups.DESIRED_SIZE: ([-1], [1, 3]),
    _node_groups.MAX_SIZE: ([0], [3, 10]),
    _node_groups.DISK_SIZE: ([0, 16385], [1, 16384]),
    _node_groups.NODE_ROLE: (["my-node-role", "arn:aws:iam::123:role/x"], [ROLE]),
    _tags_labels.TAG_COUNT: ([TAGS_51], [TAGS_50]),
    _tags_labels.TAG_KEY_LENGTH: (["", "k" * 129], ["k" * 128]),
    _tags_labels.TAG_KEY_RESERVED: (["aws:x", "AWS:owner"], ["awsx", "owner:aws"]),
    _tags_labels.TAG_KEY_CHARS: (["a*b", "a;b"], ["a b+-=._:/@"]),
    _tags_labels.TAG_VALUE_LENGTH: (["v" * 257], ["v" * 256]),
    _tags_labels.TAG_VALUE_CHARS: (["a;b"], ["a b", ""]),
    _tags_labels.LABEL_KEY_LENGTH: (["", "a" * 64], ["a" * 63]),
    _tags_labels.LABEL_KEY_NAME: (["-bad", "example.com/x-"], ["example.com/x", "a.b_c"]),
    _tags_labels.LABEL_VALUE: (["", "-x", "v" * 64], ["core", "v" * 63]),
    _credentials.KEY_REQUIRED: ([""], ["AKIAIOSFODNN7EXAMPLE"]),
    _credentials.SESSION_TOKEN: ([""], ["token"]),
    _credentials.ROLE_ARN_FORMAT: (["arn:aws:iam::123:user/x", ""], [ROLE]),
    _credentials.EXTERNAL_ID_FORMAT: (["x", "a b"], ["ext-id:1"]),
    _access.MODE: (["api", "IAM"], ["API", "API_AND_CONFIG_MAP"]),
    _access.PRINCIPAL_FORMAT: (["arn:aws:iam::123:role/x", "arn:aws:iam::123456789012:group/g"], [ROLE]),
    _access.ENTRY_TYPE: (["standard", "EC2"], ["STANDARD"]),
    _access.GROUP_PREFIX: (["system:masters", "SYSTEM:x"], ["admins", "sys"]),
    _access.POLICY_FORMAT: (
        ["arn:aws:iam::aws:policy/Admin", "AmazonEKSViewPolicy"],
        ["arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"],
    ),
    _access.SCOPE_TYPE: (["Cluster", "account"], ["cluster"]),
    _pod_identity.NAMESPACE_FORMAT: (["Kube_System", "x" * 64], ["kube-system", "x" * 63]),
    _pod_identity.ACCOUNT_FORMAT: (["My_SA", "-sa"], ["my-sa", "a.b"]),
    _pod_identity.ROLE_FORMAT: (["arn:aws:iam::123456789012:user/u", "role"], [ROLE]),
    _addons.NAME_FORMAT: (["-cni", "vpc cni", "x" * 101], ["vpc-cni", "x" * 100]),
    _addons.VERSION_FORMAT: (["newest", "1", "v1.2.3 "], ["v1.19.2-eksbuild.1", "default", "latest"]),
    _addons.ROLE_FORMAT: (["arn:aws:iam::123456789012:user/u"], [ROLE]),
    _addons.RESOLVE: (["overwrite", "FORCE"], ["OVERWRITE", "NONE"]),
    _fargate.NAME_FORMAT: (["-fp", "fp 1", "x" * 101], ["fp_1", "x" * 100]),
    _fargate.ROLE_FORMAT: (["pod-role"], [ROLE]),
    _fargate.SUBNET_FORMAT: (["sub-1", "subnet-"], ["subnet-0abc"]),
    _fargate.SELECTOR_NAMESPACE_FORMAT: (["Default", "x" * 64], ["default", "team-*"]),
    _fargate.SELECTOR_LABELS: ([{f"k{i}": "v" for i in range(6)}], [{f"k{i}": "v" for i in range(5)}]),
    _lifecycle.SUPPORT_TYPE: (["standard", "LTS"], ["STANDARD", "EXTENDED"]),
    _taints.TAINT_KEY: (["k" * 64], ["dedicated", "k" * 63]),
    _taints.TAINT_VALUE: (["v" * 64], ["", "v" * 63]),
    _taints.TAINT_EFFECT: (["NoSchedule", "NO-SCHEDULE"], ["NO_SCHEDULE", "PREFER_NO_SCHEDULE"]),
    _taints.MAX_UNAVAILABLE: ([0, 101], [1, 100]),
    _taints.MAX_UNAVAILABLE_PERCENTAGE: ([0, 101], [1, 100]),
}
CASES = [
    (rule, struct, field) for rule in registered_rules() if rule.constraints for struct, field in rule.fields
]


def case_id(case: tuple[Rule, type, str]) -> str:
    rule, struct, field = case
    return f"{struct.__name__}.{field}:{rule.message[:30]}"


def component(struct: type) -> str:
    return "CredentialBody" if struct is Credential else struct.__name__


def non_null(schema: dict[str, Any]) -> dict[str, Any]:
    branches = schema.get("anyOf", [])
    others = [b for b in branches if b.get("type") != "null"]
    return others[0] if len(branches) == 2 and len(others) == 1 else schema  # type: ignore[no-any-return]


def part_node(prop: dict[str, Any], part: str) -> dict[str, Any]:
    node = non_null(prop)
    if part == "keys":
        return node["propertyNames"]  # type: ignore[no-any-return]
    if part == "items":
        return non_null(node["items"])
    if part == "values":
        return non_null(node["additionalProperties"])
    return node


def field_value(rule: Rule, value: Any) -> Any:
    """The field's value whose constrained part is ``value``."""
    if rule.part == "items":
        return [value]
    if rule.part == "keys":
        return {value: "v"}
    if rule.part == "values":
        return {"k": value}
    return value


def message_pattern(rule: Rule) -> re.Pattern[str]:
    parts = []
    for literal, name, _, _ in string.Formatter().parse(rule.template()):
        parts.append(re.escape(literal))
        if name is not None:
            parts.append(".*")
    return re.compile("".join(parts), re.S)


def test_the_document_is_valid_openapi() -> None:
    validate_openapi(openapi_document())  # also checks each published default against its schema
    assert "default" not in SCHEMAS["EKSClusterConfigSpec"]["properties"]["displayName"]  # "" is refused


def test_examples_cover_every_bounded_rule() -> None:
    assert set(EXAMPLES) == {rule for rule, _, _ in CASES}


def test_every_rule_is_listed_on_its_fields() -> None:
    for rule in registered_rules():
        for struct, field in rule.fields:
            entries = SCHEMAS[component(struct)]["properties"][field]["x-rules"]
            assert {"rule": rule.kind, "message": rule.template(), "origin": rule.origin} in entries


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_every_bound_is_in_the_schema(case: tuple[Rule, type, str]) -> None:
    rule, struct, field = case
    node = part_node(SCHEMAS[component(struct)]["properties"][field], rule.part)
    for key, value in rule.schema().items():
        assert node.get(key) == value or {key: value} in node.get("allOf", []), (key, node)


def published(struct: type, field: str) -> Draft202012Validator:
    ref = f"#/components/schemas/{component(struct)}/properties/{field}"
    return Draft202012Validator({"$ref": ref, "components": {"schemas": SCHEMAS}})


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(tmp_path) as api:
        yield api


async def send(api: Api, struct: type, field: str, value: Any, n: int) -> tuple[int, dict[str, Any], str]:
    """Create a valid object with ``field`` set to ``value``: (status, body, path prefix of the field)."""
    if struct is Credential:
        body = {"accessKey": "AKIAIOSFODNN7EXAMPLE", "secretKey": SECRET, "roleArn": ROLE, field: value}
        resp = await api.client.put(f"/v1/credentials/ns/aws{n}", json=body, headers=AUTH)
        return resp.status, await resp.json(), field
    doc = copy.deepcopy(cluster(f"c{n}"))
    eks = doc["spec"]["eksConfig"]
    target, prefix = _targets(doc)[struct.__name__]
    if struct.__name__ == "NodeGroupUpdateConfig":
        eks["nodeGroups"][0]["updateConfig"] = target
    target[field] = value
    resp = await api.client.post("/v1/clusters", json=doc, headers=AUTH)
    return resp.status, await resp.json(), f"{prefix}.{field}"


def _targets(doc: dict[str, Any]) -> dict[str, tuple[dict[str, Any], str]]:
    """Where a field of each struct sits in a valid cluster manifest (the objects are created here)."""
    eks = doc["spec"]["eksConfig"]
    ng = eks["nodeGroups"][0]
    scope = {"type": "cluster"}
    policy = {"policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", "accessScope": scope}
    entry = {"principalArn": ROLE, "accessPolicies": [policy]}
    eks["authenticationMode"] = "API"
    eks["accessEntries"] = [entry]
    pia = {"namespace": "apps", "serviceAccount": "app", "roleArn": ROLE}
    eks["podIdentityAssociations"] = [pia]
    addon_pia = {"serviceAccount": "ebs-csi-controller-sa", "roleArn": ROLE}
    addon = {"name": "aws-ebs-csi-driver", "podIdentityAssociations": [addon_pia]}
    eks["addons"] = [addon, {"name": "eks-pod-identity-agent"}]
    selector = {"namespace": "default"}
    profile = {"name": "fp", "podExecutionRoleArn": ROLE, "selectors": [selector]}
    eks["fargateProfiles"] = [profile]
    eks["upgradePolicy"] = upgrade = {"supportType": "STANDARD"}
    ng["taints"] = [taint := {"key": "dedicated", "effect": "NO_SCHEDULE"}]
    update_config: dict[str, Any] = {}  # attached by send: empty, it is refused (one of two fields)
    s = "spec.eksConfig"
    return {
        "Metadata": (doc["metadata"], "metadata"),
        "EKSClusterConfigSpec": (eks, s),
        "NodeGroup": (ng, f"{s}.nodeGroups[0]"),
        "AccessEntry": (entry, f"{s}.accessEntries[0]"),
        "AccessPolicy": (policy, f"{s}.accessEntries[0].accessPolicies[0]"),
        "AccessScope": (scope, f"{s}.accessEntries[0].accessPolicies[0].accessScope"),
        "PodIdentityAssociation": (pia, f"{s}.podIdentityAssociations[0]"),
        "Addon": (addon, f"{s}.addons[0]"),
        "AddonPodIdentity": (addon_pia, f"{s}.addons[0].podIdentityAssociations[0]"),
        "FargateProfile": (profile, f"{s}.fargateProfiles[0]"),
        "FargateSelector": (selector, f"{s}.fargateProfiles[0].selectors[0]"),
        "UpgradePolicy": (upgrade, f"{s}.upgradePolicy"),
        "Taint": (taint, f"{s}.nodeGroups[0].taints[0]"),
        "NodeGroupUpdateConfig": (update_config, f"{s}.nodeGroups[0].updateConfig"),
    }


@pytest.mark.parametrize("case", CASES, ids=case_id)
async def test_refused_by_the_schema_means_refused_with_the_rule_message(
    api: Api, case: tuple[Rule, type, str]
) -> None:
    rule, struct, field = case
    bad, good = EXAMPLES[rule]
    schema = published(struct, field)
    for n, value in enumerate(bad):
        assert not schema.is_valid(field_value(rule, value)), value
        status, body, path = await send(api, struct, field, field_value(rule, value), n)
        assert status == 422, body
        hits = [
            e
            for e in body["errors"]
            if e["path"].startswith(path)
            and e["rule"] == rule.kind
            and message_pattern(rule).fullmatch(e["message"])
        ]
        assert hits, (value, body["errors"])
    for n, value in enumerate(good, start=len(bad)):
        assert schema.is_valid(field_value(rule, value)), value
        status, body, _ = await send(api, struct, field, field_value(rule, value), n)
        assert status in (200, 201), (value, body)
