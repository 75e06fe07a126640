"""Tags and labels: the keys and values AWS and Kubernetes accept, for the cluster and its node groups."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .._types import EKSClusterConfigSpec, NodeGroup
from ._core import DNS1123_SUBDOMAIN, R_LABEL, R_TAG
from ._rules import Errors, Length, MaxCount, NoPrefix, Pattern, rule

_TAG_CHARS = Pattern(r"^[\w +\-=.:/@]*$")
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_TAGGED = ((EKSClusterConfigSpec, "tags"), (NodeGroup, "tags"), (NodeGroup, "resourceTags"))
_LABELED = (NodeGroup, "labels")

TAG_COUNT = rule(
    R_TAG,
    "{count} tags given; AWS allows at most {max_count} per resource",
    *_TAGGED,
    constraints=(MaxCount(50),),
)
TAG_KEY_LENGTH = rule(
    R_TAG,
    "tag key {key!r} must be {min_length}-{max_length} characters",
    *_TAGGED,
    constraints=(Length(1, 128),),
    part="keys",
)
TAG_KEY_RESERVED = rule(
    R_TAG,
    "tag key {key!r} uses the reserved prefix '{prefix}'",
    *_TAGGED,
    constraints=(NoPrefix("aws:"),),
    part="keys",
)
TAG_KEY_CHARS = rule(
    R_TAG,
    "tag key {key!r} may only contain letters, digits, spaces and + - = . _ : / @",
    *_TAGGED,
    constraints=(_TAG_CHARS,),
    part="keys",
)
TAG_VALUE_LENGTH = rule(
    R_TAG,
    "the value of tag {key!r} is longer than {max_length} characters",
    *_TAGGED,
    constraints=(Length(max_length=256),),
    part="values",
)
TAG_VALUE_CHARS = rule(
    R_TAG,
    "the value of tag {key!r} may only contain letters, digits, spaces and + - = . _ : / @",
    *_TAGGED,
    constraints=(_TAG_CHARS,),
    part="values",
)
LABEL_KEY_LENGTH = rule(
    R_LABEL,
    "label key {key!r} must be {min_length}-{max_length} characters (EKS limit)",
    _LABELED,
    constraints=(Length(1, 63),),
    part="keys",
)
LABEL_KEY_PREFIX = rule(R_LABEL, "label key {key!r} has a prefix that is not a DNS-1123 subdomain", _LABELED)
LABEL_KEY_NAME = rule(
    R_LABEL,
    "label key {key!r} must be letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
    _LABELED,
    # The name is what follows the last "/" (if any).
    constraints=(Pattern(rf"^(?:[^/]*/)*{_LABEL_NAME}$"),),
    part="keys",
)
LABEL_VALUE = rule(
    R_LABEL,
    "the value of label {key!r} must be {min_length}-{max_length} letters, digits, '-', '_' and '.', "
    "starting and ending with a letter or digit (EKS does not accept empty label values)",
    _LABELED,
    constraints=(Length(1, 63), Pattern(rf"^{_LABEL_NAME}$")),
    part="values",
)


def check_tags(path: str, tags: Mapping[str, str | None] | None, e: Errors) -> None:
    if tags is None:
        return
    if not TAG_COUNT.allows(tags):
        e.add(TAG_COUNT, path, count=len(tags))
    for key, value in tags.items():
        kpath = f"{path}[{key!r}]"
        for key_rule in (TAG_KEY_LENGTH, TAG_KEY_RESERVED, TAG_KEY_CHARS):
            if not key_rule.allows(key):
                e.add(key_rule, kpath, key=key)
                break  # one message per key: the first problem
        if value is None:
            continue
        for value_rule in (TAG_VALUE_LENGTH, TAG_VALUE_CHARS):
            if not value_rule.allows(value):
                e.add(value_rule, kpath, key=key)
                break


def _prefix_ok(key: str) -> bool:
    prefix, slash, _ = key.rpartition("/")
    return not slash or (bool(prefix) and re.match(DNS1123_SUBDOMAIN, prefix) is not None)


def check_labels(path: str, labels: Mapping[str, str | None] | None, e: Errors) -> None:
    if labels is None:
        return
    for key, value in labels.items():
        kpath = f"{path}[{key!r}]"
        if not LABEL_KEY_LENGTH.allows(key):
            e.add(LABEL_KEY_LENGTH, kpath, key=key)
        elif not _prefix_ok(key):
            e.add(LABEL_KEY_PREFIX, kpath, key=key)
        elif not LABEL_KEY_NAME.allows(key):
            e.add(LABEL_KEY_NAME, kpath, key=key)
        if value is None or not LABEL_VALUE.allows(value):
            e.add(LABEL_VALUE, kpath, key=key)
