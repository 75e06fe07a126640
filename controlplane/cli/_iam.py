"""``iam-policy``: the minimum IAM policy the control plane needs, for the purposes chosen. No server."""

from __future__ import annotations

import argparse
import json

from ._args import Subcommands

PURPOSES = (
    ("generated-vpc", "the control plane creates VPCs (CloudFormation stacks)"),
    ("generated-service-role", "the control plane creates EKS service roles"),
    ("generated-node-role", "the control plane creates node group roles"),
    ("ebs-csi", "clusters enable the EBS CSI driver add-on"),
    ("ipv6", "clusters use the IPv6 family"),
    ("secrets-encryption", "clusters encrypt secrets with a customer KMS key (see --kms-key)"),
    ("access-entries", "clusters manage accessEntries (and their access policies)"),
    ("pod-identity", "clusters manage podIdentityAssociations"),
    ("addons", "clusters manage addons (beyond the ebsCSIDriver shortcut)"),
    ("fargate", "clusters manage fargateProfiles"),
    ("assume-role", "the stored keys assume a role (put this on the keys' identity)"),
)
"""Each optional purpose: its flag (``--NAME``) and what it is for."""


def add_commands(sub: Subcommands, conn: argparse.ArgumentParser) -> None:
    """``iam-policy``, as a subcommand of ``sub`` (it talks to no server, so ``conn`` is not used)."""
    iam = sub.add_parser(
        "iam-policy",
        help="print the minimum IAM policy the control plane needs",
        description="The core actions, plus those of each selected purpose. No server needed.",
    )
    for purpose, help_text in PURPOSES:
        iam.add_argument(f"--{purpose}", action="store_true", help=help_text)
    iam.add_argument("--all", action="store_true", help="every purpose except assume-role")
    iam.add_argument(
        "--kms-key",
        action="append",
        default=[],
        metavar="ARN",
        help="limit the secrets-encryption statement to this key (repeatable; implies --secrets-encryption)",
    )
    iam.set_defaults(func=cmd_iam_policy)


def cmd_iam_policy(args: argparse.Namespace) -> int:
    from controlplane.aws import DEFAULT_PURPOSES, iam_policy  # noqa: PLC0415 - aiobotocore is slow

    purposes = {"core"}
    if args.all:
        purposes.update(DEFAULT_PURPOSES)
    purposes.update(p for p, _ in PURPOSES if getattr(args, p.replace("-", "_")))
    if args.kms_key:
        purposes.add("secrets-encryption")
    print(json.dumps(iam_policy(purposes, kms_keys=args.kms_key), indent=2))
    return 0
