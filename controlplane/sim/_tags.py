"""TagResource, UntagResource and ListTagsForResource, for every resource that takes tags."""

from __future__ import annotations

from typing import Any

from . import _errors as err
from ._backend import EksBackend, Resource
from ._model import ClusterRec
from ._rules import check_tags
from ._shapes import TagResourceIn
from ._wire import Json, decode


def _tagged(b: EksBackend, arn: str) -> tuple[ClusterRec, Any]:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "eks":
        raise err.bad_request(f"Invalid ARN: {arn}")
    region, resource = parts[3], parts[5]
    kind, _, rest = resource.partition("/")
    r = b.tagged(kind)
    if r is None:
        raise err.bad_request(f"Invalid ARN: {arn}")
    c = b.find(region, rest.split("/", 1)[0])
    if c is not None:
        for rec in r.records(c):
            if rec.arn == arn:
                return c, rec
    raise err.tag_not_found(arn)


def tag_resource(b: EksBackend, arn: str, tags: dict[str, str]) -> Json:
    c, rec = _tagged(b, arn)
    merged = {**rec.tags, **tags}
    check_tags(merged)
    rec.tags = merged
    b.touch(c)
    return {}


def untag_resource(b: EksBackend, arn: str, keys: list[str]) -> Json:
    c, rec = _tagged(b, arn)
    if not keys:
        raise err.bad_request("tagKeys must not be empty.")
    rec.tags = {k: v for k, v in rec.tags.items() if k not in keys}
    b.touch(c)
    return {}


def list_tags(b: EksBackend, arn: str) -> Json:
    _, rec = _tagged(b, arn)
    return {"tags": rec.tags}


RESOURCE = Resource(
    routes={
        ("POST", ("tags", "*")): (
            "TagResource",
            lambda b, r, s, q, body: tag_resource(b, s[1], decode(body, TagResourceIn).tags),
        ),
        ("DELETE", ("tags", "*")): (
            "UntagResource",
            lambda b, r, s, q, body: untag_resource(b, s[1], q.all("tagKeys")),
        ),
        ("GET", ("tags", "*")): ("ListTagsForResource", lambda b, r, s, q, body: list_tags(b, s[1])),
    }
)
