"""The two primitives every helper mixin is written against."""

from __future__ import annotations

from typing import Any


def params(**values: Any) -> dict[str, Any]:
    """Request parameters without the ``None`` values (botocore rejects explicit nulls)."""
    return {k: v for k, v in values.items() if v is not None}


class CallsBase:
    """What ``AwsScope`` provides to the service mixins."""

    __slots__ = ()

    async def _call(self, service: str, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        """One call of a registered operation; returns botocore's parsed response."""
        raise NotImplementedError

    async def _paginate(
        self, service: str, operation: str, request: dict[str, Any], result_key: str
    ) -> list[Any]:
        """Every page of a registered paginated operation; returns the items under ``result_key``."""
        raise NotImplementedError
