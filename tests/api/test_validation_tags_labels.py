"""Tag and label rules, the same for the cluster and its node groups."""

from __future__ import annotations

import pytest

from controlplane.api import Cluster, FieldError, validate_create

from ._fixtures import cluster, node_group, spec
from ._validation_cases import NG0, E, S, with_ng

CREATE_CASES: list[tuple[str, Cluster, list[FieldError]]] = [
    (
        "too many tags",
        cluster(spec(tags={f"k{i}": "v" for i in range(51)})),
        [E(f"{S}.tags", "tag", "51 tags given; AWS allows at most 50 per resource")],
    ),
    (
        "tag key too long",
        cluster(spec(tags={"k" * 129: "v"})),
        [E(f"{S}.tags[{'k' * 129!r}]", "tag", f"tag key {'k' * 129!r} must be 1-128 characters")],
    ),
    (
        "tag key aws: prefix",
        cluster(spec(tags={"AWS:owner": "me"})),
        [E(f"{S}.tags['AWS:owner']", "tag", "tag key 'AWS:owner' uses the reserved prefix 'aws:'")],
    ),
    (
        "tag key characters",
        cluster(spec(tags={"a*b": "v"})),
        [
            E(
                f"{S}.tags['a*b']",
                "tag",
                "tag key 'a*b' may only contain letters, digits, spaces and + - = . _ : / @",
            )
        ],
    ),
    (
        "tag value too long",
        with_ng(node_group(resource_tags={"k": "v" * 257})),
        [E(f"{NG0}.resourceTags['k']", "tag", "the value of tag 'k' is longer than 256 characters")],
    ),
    (
        "tag value characters",
        with_ng(node_group(tags={"k": "a;b"})),
        [
            E(
                f"{NG0}.tags['k']",
                "tag",
                "the value of tag 'k' may only contain letters, digits, spaces and + - = . _ : / @",
            )
        ],
    ),
    (
        "label key",
        with_ng(node_group(labels={"-bad": "x"})),
        [
            E(
                f"{NG0}.labels['-bad']",
                "label",
                "label key '-bad' must be letters, digits, '-', '_' and '.', starting and ending with a "
                "letter or digit",
            )
        ],
    ),
    (
        "label key prefix",
        with_ng(node_group(labels={"Example.COM/x": "y"})),
        [
            E(
                f"{NG0}.labels['Example.COM/x']",
                "label",
                "label key 'Example.COM/x' has a prefix that is not a DNS-1123 subdomain",
            )
        ],
    ),
    (
        "label key length",
        with_ng(node_group(labels={"a" * 64: "y"})),
        [
            E(
                f"{NG0}.labels[{'a' * 64!r}]",
                "label",
                f"label key {'a' * 64!r} must be 1-63 characters (EKS limit)",
            )
        ],
    ),
    (
        "label value",
        with_ng(node_group(labels={"team": None})),
        [
            E(
                f"{NG0}.labels['team']",
                "label",
                "the value of label 'team' must be 1-63 letters, digits, '-', '_' and '.', "
                "starting and ending "
                "with a letter or digit (EKS does not accept empty label values)",
            )
        ],
    ),
]


@pytest.mark.parametrize(
    ("cluster_", "expected"), [c[1:] for c in CREATE_CASES], ids=[c[0] for c in CREATE_CASES]
)
def test_validate_create_messages(cluster_: Cluster, expected: list[FieldError]) -> None:
    assert validate_create(cluster_) == expected
