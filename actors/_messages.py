"""Kernel messages and the coalescing convention.

A message type coalesces when its class has ``coalesce: ClassVar[bool] = True``. Works the same for
msgspec Structs, dataclasses and plain classes (a ClassVar is not a field in either). By default all
queued messages of the type are one; a ``coalesce_key(self) -> Hashable`` method narrows that to
messages with the same key (e.g. one pending ``Refresh`` per node group).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Final, cast, final

_MAX_CACHED_TYPES: Final = 4096
# type -> does it coalesce; a class attribute lookup per message is cheap, a miss (AttributeError
# raised and caught inside getattr) is not, and most message types do not coalesce.
_coalescing_types: dict[type, bool] = {}


@final
class Stop:
    """Ask the receiving actor to stop once every message queued before this one is handled.

    Messages queued after it are dropped (their askers get ``ActorStopped``). An ``ask(Stop())``
    is answered with ``None`` when the stop begins.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "Stop()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stop)

    def __hash__(self) -> int:
        return hash(Stop)


def coalesce_key(message: object) -> Hashable | None:
    """The key under which ``message`` coalesces with a queued one, or ``None`` if it never does."""
    cls = type(message)
    flag = _coalescing_types.get(cls)
    if flag is None:
        flag = getattr(cls, "coalesce", False) is True
        if len(_coalescing_types) >= _MAX_CACHED_TYPES:
            _coalescing_types.clear()  # bounded: only dynamically created classes can get here
        _coalescing_types[cls] = flag
    if not flag:
        return None
    key_fn = getattr(message, "coalesce_key", None)
    if key_fn is None:
        return cast(Hashable, cls)  # mypy does not see type objects as Hashable
    return (cls, key_fn())
