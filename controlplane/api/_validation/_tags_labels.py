"""Tags and labels: the keys and values AWS and Kubernetes accept, for the cluster and its node groups."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ._core import DNS1123_SUBDOMAIN, R_LABEL, R_TAG, Errors

_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_TAG_CHARS = re.compile(r"^[\w +\-=.:/@]*$")
_MAX_TAGS = 50


def check_tags(path: str, tags: Mapping[str, str | None] | None, e: Errors) -> None:
    if tags is None:
        return
    if len(tags) > _MAX_TAGS:
        e.add(path, R_TAG, f"{len(tags)} tags given; AWS allows at most {_MAX_TAGS} per resource")
    for key, value in tags.items():
        kpath = f"{path}[{key!r}]"
        if not key or len(key) > 128:
            e.add(kpath, R_TAG, f"tag key {key!r} must be 1-128 characters")
        elif key.lower().startswith("aws:"):
            e.add(kpath, R_TAG, f"tag key {key!r} uses the reserved prefix 'aws:'")
        elif not _TAG_CHARS.match(key):
            e.add(
                kpath, R_TAG, f"tag key {key!r} may only contain letters, digits, spaces and + - = . _ : / @"
            )
        if value is None:
            continue
        if len(value) > 256:
            e.add(kpath, R_TAG, f"the value of tag {key!r} is longer than 256 characters")
        elif not _TAG_CHARS.match(value):
            e.add(
                kpath,
                R_TAG,
                f"the value of tag {key!r} may only contain letters, digits, spaces and + - = . _ : / @",
            )


def _label_key_problem(key: str) -> str | None:
    if not key or len(key) > 63:
        return "must be 1-63 characters (EKS limit)"
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or not DNS1123_SUBDOMAIN.match(prefix)):
        return "has a prefix that is not a DNS-1123 subdomain"
    if not _LABEL_NAME.match(name):
        return "must be letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
    return None


def check_labels(path: str, labels: Mapping[str, str | None] | None, e: Errors) -> None:
    if labels is None:
        return
    for key, value in labels.items():
        kpath = f"{path}[{key!r}]"
        problem = _label_key_problem(key)
        if problem:
            e.add(kpath, R_LABEL, f"label key {key!r} {problem}")
        if not value or len(value) > 63 or not _LABEL_NAME.match(value):
            e.add(
                kpath,
                R_LABEL,
                f"the value of label {key!r} must be 1-63 letters, digits, '-', '_' and '.', starting and "
                "ending with a letter or digit (EKS does not accept empty label values)",
            )
