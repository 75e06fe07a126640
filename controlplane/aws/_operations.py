"""The registry of every AWS operation the control plane may call, and the IAM policy it implies.

Every helper goes through ``OPERATIONS``: a call to an operation missing here raises before any
I/O, so the minimum IAM policy derived from this table cannot silently fall behind the code.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from botocore import xform_name

PURPOSES = (
    "core",
    "generated-vpc",
    "generated-service-role",
    "generated-node-role",
    "ebs-csi",
    "ipv6",
    "secrets-encryption",
    "access-entries",
    "pod-identity",
    "addons",
    "fargate",
    "assume-role",
)
"""Why an action is needed. ``core`` is needed by every managed cluster; the others only when the
control plane creates that resource, or a cluster uses that feature (or, for ``assume-role``, on the
identity holding the keys)."""

DEFAULT_PURPOSES = tuple(p for p in PURPOSES if p != "assume-role")

_STACK_PURPOSES = frozenset({"generated-vpc", "generated-service-role", "generated-node-role", "ebs-csi"})


class Operation:
    """One AWS API operation: its service, name, client method, IAM actions and purposes."""

    __slots__ = ("actions", "method", "mutating", "name", "paginated", "purposes", "service")

    def __init__(
        self,
        service: str,
        name: str,
        purposes: Iterable[str],
        *,
        paginated: bool = False,
        extra_actions: Iterable[str] = (),
    ) -> None:
        self.service = service
        self.name = name
        self.method = xform_name(name)
        """The aiobotocore client method, e.g. ``describe_cluster``."""
        iam_prefix = "cloudformation" if service == "cloudformation" else service
        self.actions: tuple[str, ...] = (f"{iam_prefix}:{name}", *extra_actions)
        """IAM actions the call requires; the first is the operation's own action."""
        self.purposes = frozenset(purposes)
        self.paginated = paginated
        self.mutating = service != "sts" and not name.startswith(("Describe", "List", "Get"))
        """Changes something in AWS (every call but reads and STS): guarded by the caller's lease."""
        unknown = self.purposes - set(PURPOSES)
        if unknown:
            raise ValueError(f"unknown purposes {sorted(unknown)} for {service}:{name}")

    @property
    def action(self) -> str:
        """The operation's own IAM action, e.g. ``eks:DescribeCluster``."""
        return self.actions[0]

    def __repr__(self) -> str:
        return f"Operation({self.service}:{self.name}, purposes={sorted(self.purposes)})"


_CORE = ("core",)
_PASS_ROLE = ("iam:PassRole",)
_TAG_EKS = ("eks:TagResource",)
"""EKS authorizes tags sent with a create call (tag on create) as ``eks:TagResource``."""

_OPERATION_LIST = (
    # EKS
    Operation(
        "eks", "CreateCluster", _CORE, extra_actions=(*_PASS_ROLE, "iam:CreateServiceLinkedRole", *_TAG_EKS)
    ),
    Operation("eks", "DescribeCluster", _CORE),
    Operation("eks", "ListClusters", _CORE, paginated=True),
    Operation("eks", "DeleteCluster", _CORE),
    Operation("eks", "UpdateClusterVersion", _CORE),
    Operation("eks", "UpdateClusterConfig", _CORE),
    Operation("eks", "ListUpdates", _CORE, paginated=True),
    Operation("eks", "DescribeUpdate", _CORE),
    Operation(
        "eks", "CreateNodegroup", _CORE, extra_actions=(*_PASS_ROLE, "iam:CreateServiceLinkedRole", *_TAG_EKS)
    ),
    Operation("eks", "DescribeNodegroup", _CORE),
    Operation("eks", "ListNodegroups", _CORE, paginated=True),
    Operation("eks", "DeleteNodegroup", _CORE),
    Operation("eks", "UpdateNodegroupConfig", _CORE),
    Operation("eks", "UpdateNodegroupVersion", _CORE),
    Operation("eks", "TagResource", _CORE),
    Operation("eks", "UntagResource", _CORE),
    Operation("eks", "CreateAddon", ("ebs-csi", "addons"), extra_actions=(*_PASS_ROLE, *_TAG_EKS)),
    Operation("eks", "DescribeAddon", _CORE),
    Operation("eks", "DeleteAddon", ("ebs-csi", "addons")),
    Operation("eks", "ListAddons", _CORE, paginated=True),
    Operation("eks", "DescribeAddonVersions", _CORE, paginated=True),
    # EKS beyond Rancher. Every refresh reads these (to show them upstream), so the reads are core.
    Operation("eks", "UpdateAddon", ("ebs-csi", "addons"), extra_actions=_PASS_ROLE),
    Operation("eks", "DescribeAddonConfiguration", ("addons",)),
    Operation("eks", "DescribeClusterVersions", _CORE, paginated=True),
    Operation("eks", "ListAccessEntries", _CORE, paginated=True),
    Operation("eks", "DescribeAccessEntry", _CORE),
    Operation("eks", "ListAssociatedAccessPolicies", _CORE, paginated=True),
    Operation("eks", "CreateAccessEntry", ("access-entries",)),
    Operation("eks", "UpdateAccessEntry", ("access-entries",)),
    Operation("eks", "DeleteAccessEntry", ("access-entries",)),
    Operation("eks", "AssociateAccessPolicy", ("access-entries",)),
    Operation("eks", "DisassociateAccessPolicy", ("access-entries",)),
    Operation("eks", "ListPodIdentityAssociations", _CORE, paginated=True),
    Operation("eks", "DescribePodIdentityAssociation", _CORE),
    Operation("eks", "CreatePodIdentityAssociation", ("pod-identity",), extra_actions=_PASS_ROLE),
    Operation("eks", "UpdatePodIdentityAssociation", ("pod-identity",), extra_actions=_PASS_ROLE),
    Operation("eks", "DeletePodIdentityAssociation", ("pod-identity",)),
    Operation("eks", "ListFargateProfiles", _CORE, paginated=True),
    Operation("eks", "DescribeFargateProfile", _CORE),
    Operation(
        "eks",
        "CreateFargateProfile",
        ("fargate",),
        extra_actions=(*_PASS_ROLE, "iam:CreateServiceLinkedRole"),
    ),
    Operation("eks", "DeleteFargateProfile", ("fargate",)),
    # EC2: the managed launch template and AMI lookups
    Operation("ec2", "CreateLaunchTemplate", _CORE, extra_actions=("ec2:CreateTags",)),
    Operation("ec2", "CreateLaunchTemplateVersion", _CORE),
    Operation("ec2", "DescribeLaunchTemplates", _CORE, paginated=True),
    Operation("ec2", "DescribeLaunchTemplateVersions", _CORE, paginated=True),
    Operation("ec2", "DeleteLaunchTemplate", _CORE),
    Operation("ec2", "DeleteLaunchTemplateVersions", _CORE),
    Operation("ec2", "DescribeImages", _CORE),
    # EC2: the zones a generated VPC's subnets go to
    Operation("ec2", "DescribeAvailabilityZones", ("generated-vpc",)),
    # CloudFormation: generated VPC and roles
    # Stacks are created with a tag (displayName): CloudFormation authorizes it as TagResource.
    Operation(
        "cloudformation", "CreateStack", _STACK_PURPOSES, extra_actions=("cloudformation:TagResource",)
    ),
    Operation("cloudformation", "DescribeStacks", _STACK_PURPOSES, paginated=True),
    Operation("cloudformation", "DeleteStack", _STACK_PURPOSES),
    Operation("cloudformation", "DescribeStackEvents", _STACK_PURPOSES, paginated=True),
    # IAM
    Operation("iam", "GetRole", _CORE),
    Operation("iam", "ListOpenIDConnectProviders", ("ebs-csi", "ipv6")),
    Operation(
        "iam",
        "CreateOpenIDConnectProvider",
        ("ebs-csi", "ipv6"),
        extra_actions=("iam:TagOpenIDConnectProvider",),
    ),
    Operation("iam", "DeleteOpenIDConnectProvider", ("ebs-csi", "ipv6")),
    # STS
    Operation("sts", "GetCallerIdentity", _CORE),
    Operation("sts", "AssumeRole", ("assume-role",)),
)

OPERATIONS: Mapping[tuple[str, str], Operation] = {(op.service, op.name): op for op in _OPERATION_LIST}
"""Every callable operation keyed by (botocore service name, operation name)."""

TEMPLATE_ACTIONS: Mapping[str, tuple[str, ...]] = {
    # CloudFormation creates and deletes stack resources with the caller's permissions.
    "generated-vpc": (
        "ec2:CreateVpc", "ec2:DeleteVpc", "ec2:DescribeVpcs", "ec2:ModifyVpcAttribute",
        "ec2:AssociateVpcCidrBlock", "ec2:DisassociateVpcCidrBlock",
        "ec2:CreateSubnet", "ec2:DeleteSubnet", "ec2:DescribeSubnets", "ec2:ModifySubnetAttribute",
        "ec2:CreateInternetGateway", "ec2:DeleteInternetGateway", "ec2:DescribeInternetGateways",
        "ec2:AttachInternetGateway", "ec2:DetachInternetGateway",
        "ec2:CreateRouteTable", "ec2:DeleteRouteTable", "ec2:DescribeRouteTables",
        "ec2:CreateRoute", "ec2:DeleteRoute", "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable",
        "ec2:CreateTags", "ec2:DeleteTags",
    ),
    # IAM roles: the stack's tags are applied to the role when it is created (iam:TagRole); deleting
    # it lists and detaches its policies first.
    "generated-service-role": (
        "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
        "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:TagRole", "iam:PassRole",
    ),
    "generated-node-role": (
        "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
        "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy",
        "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:TagRole", "iam:PassRole",
    ),
    "ebs-csi": (
        "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
        "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:TagRole", "iam:PassRole",
    ),
}  # fmt: skip
"""IAM actions implied by the CloudFormation templates of each purpose (CloudFormation creates and
deletes the stack's resources with the caller's permissions)."""

DEPENDENT_ACTIONS: Mapping[str, tuple[str, ...]] = {
    # CreateCluster with an encryptionConfig: EKS describes the customer key and creates a grant on it
    # as the caller (scope the statement to the key: ``iam_policy(kms_keys=...)``).
    "secrets-encryption": ("kms:CreateGrant", "kms:DescribeKey"),
}
"""IAM actions AWS checks on the caller's behalf when a call uses a feature, beyond the call's own."""


def actions_for(purposes: Collection[str]) -> dict[str, list[str]]:
    """Sorted IAM actions per purpose (in ``PURPOSES`` order); each action listed once, first purpose wins."""
    unknown = set(purposes) - set(PURPOSES)
    if unknown:
        raise ValueError(f"unknown purposes: {sorted(unknown)} (known: {', '.join(PURPOSES)})")
    seen: set[str] = set()
    result: dict[str, list[str]] = {}
    for purpose in PURPOSES:
        if purpose not in purposes:
            continue
        wanted = {a for op in _OPERATION_LIST if purpose in op.purposes for a in op.actions}
        wanted.update(TEMPLATE_ACTIONS.get(purpose, ()))
        wanted.update(DEPENDENT_ACTIONS.get(purpose, ()))
        fresh = sorted(wanted - seen)
        seen.update(fresh)
        if fresh:
            result[purpose] = fresh
    return result


def iam_policy(
    purposes: Collection[str] = DEFAULT_PURPOSES, *, resource: str = "*", kms_keys: Collection[str] = ()
) -> dict[str, Any]:
    """The minimum IAM policy document (as a JSON-ready dict) for the given purposes.

    One statement per purpose, with ``Sid`` the purpose in CamelCase. ``assume-role`` belongs on
    the identity whose keys are stored, not on the assumed role; ask for it separately. ``kms_keys``
    (key ARNs) narrow the ``secrets-encryption`` statement to those keys.
    """
    statements = [
        {
            "Sid": "".join(part.capitalize() for part in purpose.split("-")),
            "Effect": "Allow",
            "Action": actions,
            "Resource": sorted(kms_keys) if purpose == "secrets-encryption" and kms_keys else resource,
        }
        for purpose, actions in actions_for(purposes).items()
    ]
    return {"Version": "2012-10-17", "Statement": statements}
