"""JSON merge patch (RFC 7386): a pure function on JSON-like values."""

from __future__ import annotations

from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply ``patch`` to ``target`` per RFC 7386 and return the result; inputs are not mutated.

    An object patch merges key by key, a ``None`` (JSON null) value removes the key, and any other patch
    value (array, scalar) replaces the target wholesale.
    """
    if not isinstance(patch, dict):
        return patch
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
