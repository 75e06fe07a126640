"""The operation registry: complete, valid against botocore's models, and the IAM policy it implies."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import botocore.session
import pytest

import controlplane.aws as aws_pkg
from controlplane.aws import DEFAULT_PURPOSES, OPERATIONS, PURPOSES, AwsScope, actions_for, iam_policy

PACKAGE = Path(aws_pkg.__file__).parent


def _called_operations() -> set[tuple[str, str, bool]]:
    """Every literal ``self._call("svc", "Op", ...)`` / ``self._paginate(...)`` in the package."""
    found: set[tuple[str, str, bool]] = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("_call", "_paginate")
                and len(node.args) >= 2
                and all(isinstance(a, ast.Constant) for a in node.args[:2])
            ):
                service, name = (a.value for a in node.args[:2])  # type: ignore[attr-defined]
                found.add((service, name, node.func.attr == "_paginate"))
    return found


def test_every_called_operation_is_registered() -> None:
    called = _called_operations()
    assert len(called) >= 35
    for service, name, paginated in called:
        op = OPERATIONS.get((service, name))
        assert op is not None, f"{service}:{name} is called but not registered"
        assert op.paginated == paginated, f"{service}:{name} paginated mismatch"
    # And nothing is registered that no helper calls (AssumeRole and GetCallerIdentity are internal).
    assert {(s, n) for s, n, _ in called} | {("sts", "AssumeRole"), ("sts", "GetCallerIdentity")} == set(
        OPERATIONS
    )


def test_registry_matches_botocore_models() -> None:
    session = botocore.session.get_session()
    for (service, name), op in OPERATIONS.items():
        model = session.get_service_model(service)
        assert name in model.operation_names, f"{service}:{name} is not a botocore operation"
        client_paginates = session.get_paginator_model(service)._paginator_config.get(name) is not None
        # DescribeImages by ImageIds must not send MaxResults, so it is called once, unpaged.
        if (service, name) != ("ec2", "DescribeImages"):
            assert op.paginated == client_paginates, f"{service}:{name}"
        assert op.action == f"{service}:{name}"
        assert set(op.purposes) <= set(PURPOSES)


def test_public_scope_methods_are_documented_helpers() -> None:
    helpers = [
        n for n, _ in inspect.getmembers(AwsScope, inspect.iscoroutinefunction) if not n.startswith("_")
    ]
    assert len(helpers) >= 38  # 39 once the four unused ones went (issue 15.6)
    for name in helpers:
        assert getattr(AwsScope, name).__doc__, name


@pytest.mark.anyio
async def test_unregistered_operation_is_refused_before_io() -> None:
    scope = AwsScope.__new__(AwsScope)  # no adapter: the registry check comes first
    with pytest.raises(LookupError, match="eks:DeleteIdentityProviderConfig"):
        await scope._call("eks", "DeleteIdentityProviderConfig", {})
    with pytest.raises(LookupError, match="as paginated"):
        await scope._paginate("eks", "DescribeCluster", {}, "cluster")


def test_iam_policy_document() -> None:
    policy = iam_policy()
    assert policy["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in policy["Statement"]]
    assert sids[0] == "Core" and "GeneratedVpc" in sids and "EbsCsi" in sids and "AssumeRole" not in sids
    actions = [a for s in policy["Statement"] for a in s["Action"]]
    assert len(actions) == len(set(actions)), "an action appears in two statements"
    for required in (
        "eks:DescribeCluster",
        "eks:ListUpdates",
        "ec2:DeleteLaunchTemplateVersions",
        "iam:PassRole",
        "cloudformation:CreateStack",
        "ec2:CreateVpc",
        "iam:CreateRole",
    ):
        assert required in actions
    assert all(s["Effect"] == "Allow" and s["Resource"] == "*" for s in policy["Statement"])


def test_iam_policy_purposes_select_statements() -> None:
    core_only = iam_policy(["core"])
    actions = {a for s in core_only["Statement"] for a in s["Action"]}
    assert "eks:CreateCluster" in actions
    assert "cloudformation:CreateStack" not in actions and "ec2:CreateVpc" not in actions
    assert actions_for(["assume-role"]) == {"assume-role": ["sts:AssumeRole"]}
    assert set(actions_for(DEFAULT_PURPOSES)) == set(DEFAULT_PURPOSES) - {"ipv6"}  # ipv6 ⊂ ebs-csi here
    with pytest.raises(ValueError, match="unknown purposes"):
        iam_policy(["everything"])


def test_iam_policy_covers_what_aws_authorizes_beyond_the_call() -> None:
    """Each action under its purpose: what AWS checks besides the operation itself."""
    by_purpose = actions_for(DEFAULT_PURPOSES)
    everything = {a for actions in by_purpose.values() for a in actions}
    # Secrets encryption with a customer key: EKS describes the key and creates a grant as the caller.
    assert by_purpose["secrets-encryption"] == ["kms:CreateGrant", "kms:DescribeKey"]
    # Stacks are created with tags: CloudFormation authorizes them, and the roles inherit them.
    assert "cloudformation:TagResource" in by_purpose["generated-vpc"]
    for purpose in ("generated-service-role", "generated-node-role", "ebs-csi"):
        assert "iam:TagRole" in everything and {"iam:CreateRole", "iam:DeleteRole"} <= everything, purpose
    assert "iam:TagRole" in by_purpose["generated-service-role"]
    # Tags sent with EKS creates; the launch template's tag specification; the OIDC provider's tags.
    assert "eks:TagResource" in by_purpose["core"] and "ec2:CreateTags" in by_purpose["core"]
    assert "iam:TagOpenIDConnectProvider" in by_purpose["ebs-csi"]
    # The zones of a generated VPC come from DescribeAvailabilityZones.
    assert "ec2:DescribeAvailabilityZones" in by_purpose["generated-vpc"]
