"""``iam-policy``: the policy for the purposes chosen, without a server."""

from __future__ import annotations

import json

import pytest

from controlplane.cli import main

from ._support import cli

pytestmark = pytest.mark.anyio


async def test_iam_policy_needs_no_server(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await cli(None, "iam-policy")
    assert code == 0, err
    policy = json.loads(out)
    assert policy["Version"] == "2012-10-17"
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert {"eks:CreateCluster", "eks:DescribeCluster", "iam:PassRole"} <= actions
    assert "ec2:CreateVpc" not in actions
    capsys.readouterr()
    assert main(["iam-policy", "--generated-vpc", "--generated-service-role", "--ebs-csi"]) == 0
    out = capsys.readouterr().out
    actions = {a for s in json.loads(out)["Statement"] for a in s["Action"]}
    assert {"ec2:CreateVpc", "cloudformation:CreateStack", "iam:CreateRole", "eks:CreateAddon"} <= actions


async def test_iam_policy_secrets_encryption_scoped_to_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert main(["iam-policy", "--kms-key", key]) == 0
    statements = {s["Sid"]: s for s in json.loads(capsys.readouterr().out)["Statement"]}
    assert statements["SecretsEncryption"]["Action"] == ["kms:CreateGrant", "kms:DescribeKey"]
    assert statements["SecretsEncryption"]["Resource"] == [key]
    assert statements["Core"]["Resource"] == "*"
    assert main(["iam-policy"]) == 0
    assert "SecretsEncryption" not in capsys.readouterr().out


async def test_iam_policy_purposes_of_the_new_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["iam-policy"]) == 0
    core = {a for s in json.loads(capsys.readouterr().out)["Statement"] for a in s["Action"]}
    # Every refresh reads these; only the purposes' flags add the mutations.
    assert {"eks:ListAccessEntries", "eks:ListPodIdentityAssociations", "eks:ListFargateProfiles"} <= core
    assert "eks:CreateAccessEntry" not in core and "eks:CreateFargateProfile" not in core
    assert main(["iam-policy", "--access-entries", "--pod-identity", "--addons", "--fargate"]) == 0
    actions = {a for s in json.loads(capsys.readouterr().out)["Statement"] for a in s["Action"]}
    assert {
        "eks:CreateAccessEntry",
        "eks:AssociateAccessPolicy",
        "eks:CreatePodIdentityAssociation",
        "eks:UpdateAddon",
        "eks:DescribeAddonConfiguration",
        "eks:CreateFargateProfile",
        "eks:DeleteFargateProfile",
        "iam:PassRole",
    } <= actions
