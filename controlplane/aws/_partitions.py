"""AWS partitions, read from botocore's endpoint data (``partitions.json``, the file botocore's endpoint
rules use): the ARN partition and the DNS suffixes of a region. One source for every partition botocore
knows (``aws``, ``aws-cn``, ``aws-us-gov``, the ISO partitions, ``aws-eusc``...), so a new partition
arrives with a botocore upgrade instead of a code change."""

from __future__ import annotations

import functools

import botocore.loaders
import msgspec
from botocore.endpoint_provider import RuleSetStandardLibrary


class Partition(msgspec.Struct, frozen=True):
    """One AWS partition as botocore's ``aws.partition`` function describes it."""

    name: str
    """The ARN partition, e.g. ``aws``, ``aws-cn``, ``aws-iso``."""
    dns_suffix: str
    """The service domain, e.g. ``amazonaws.com``, ``c2s.ic.gov``."""
    dual_stack_dns_suffix: str
    """The dual-stack service domain, e.g. ``api.aws``."""


@functools.cache
def _library() -> RuleSetStandardLibrary:
    return RuleSetStandardLibrary(botocore.loaders.create_loader().load_data("partitions"))


@functools.lru_cache(maxsize=256)
def partition(region: str) -> Partition:
    """The partition of ``region`` (a region botocore does not know goes by its partition's pattern,
    else to ``aws``, as botocore's endpoint rules decide)."""
    out = _library().aws_partition(region)
    return Partition(out["name"], out["dnsSuffix"], out["dualStackDnsSuffix"])


def known_regions() -> dict[str, list[str]]:
    """Every region botocore lists, by partition name (for tests and documentation)."""
    data = _library().partitions_data
    return {
        p["outputs"]["name"]: [r for r in p["regions"] if not r.endswith("-global")]
        for p in data["partitions"]
    }
