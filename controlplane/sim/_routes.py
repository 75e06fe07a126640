"""EKS REST-JSON routing: method + path -> operation, over the routes every resource declares."""

from __future__ import annotations

from urllib.parse import unquote

from ._backend import Handler
from ._eks import RESOURCES

# (method, shape) -> (operation, handler); a shape is the path with variable segments as "*".
_ROUTES = {key: op for r in RESOURCES for key, op in r.routes.items()}
# Every path shape's prefixes: a segment is a fixed word where a route has it after the same
# prefix, else a variable (a cluster may be named "updates").
_PREFIXES = {shape[: i + 1] for _, shape in _ROUTES for i in range(len(shape))}


def route(method: str, raw_path: str) -> tuple[str, Handler, list[str]] | None:
    """The operation for a request, or None. Variable segments are percent-decoded."""
    path = raw_path.split("?", 1)[0]
    segs = path.strip("/").split("/")
    if segs[0] == "tags" and len(segs) > 2:  # an unencoded ARN contains slashes
        segs = ["tags", "/".join(segs[1:])]
    shape: tuple[str, ...] = ()
    for s in segs:
        fixed = (*shape, s)
        shape = fixed if fixed in _PREFIXES else (*shape, "*")
    found = _ROUTES.get((method, shape))
    if found is None:
        return None
    segs = [unquote(s) if "%" in s else s for s in segs]
    return found[0], found[1], segs
