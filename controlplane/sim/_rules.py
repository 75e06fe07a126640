"""Rules EKS applies to every resource's input: names, IAM roles, tags, ARNs and versions (pure)."""

from __future__ import annotations

import re
import secrets

from . import _errors as err

_NAME_RE = re.compile(r"^[0-9A-Za-z][A-Za-z0-9\-_]*$")
_ROLE_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
_MAX_TAGS = 50


def check_name(kind: str, name: str, max_len: int) -> None:
    if not name or len(name) > max_len or not _NAME_RE.match(name):
        raise err.invalid_parameter(
            f"{kind} name {name!r} is invalid: it must be 1-{max_len} characters, start with an "
            "alphanumeric character and contain only alphanumerics, hyphens and underscores."
        )


def check_role(field: str, arn: str) -> None:
    if not _ROLE_RE.match(arn):
        raise err.invalid_parameter(f"{field} {arn!r} is not a valid IAM role ARN.")


def check_tags(tags: dict[str, str]) -> None:
    if len(tags) > _MAX_TAGS:
        raise err.bad_request(f"Too many tags: at most {_MAX_TAGS} are allowed.")
    for k, v in tags.items():
        if not k or len(k) > 128 or len(v) > 256:
            raise err.bad_request(f"Invalid tag {k!r}: keys are 1-128 and values 0-256 characters.")
        if k.lower().startswith("aws:"):
            raise err.bad_request("Tag keys starting with 'aws:' are reserved.")


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def minor(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def release_version(version: str) -> str:
    """The AMI release of a node group at ``version`` when the caller names none."""
    return f"{version}.0-20250501"


def random_hex(n: int) -> str:
    return secrets.token_hex((n + 1) // 2)[:n]
