"""An in-memory index of the fleet by EKS identity, for the duplicate-name check without a store scan."""

from __future__ import annotations


class FleetIndex:
    """``(displayName, region) -> {cluster name: credential reference}``.

    displayName and region never change after create, so an entry is added when a cluster's actor
    starts and removed when the cluster is forgotten. The duplicate check of a create is then O(1)
    instead of a scan of every stored cluster (which made imports quadratic in the fleet size).
    """

    __slots__ = ("_by_identity",)

    def __init__(self) -> None:
        self._by_identity: dict[tuple[str, str], dict[str, str]] = {}

    def add(self, name: str, display_name: str, region: str, credential: str) -> None:
        self._by_identity.setdefault((display_name, region), {})[name] = credential

    def remove(self, name: str, display_name: str, region: str) -> None:
        names = self._by_identity.get((display_name, region))
        if names is not None:
            names.pop(name, None)
            if not names:
                del self._by_identity[(display_name, region)]

    def others(self, name: str, display_name: str, region: str) -> dict[str, str]:
        """Other clusters with the same EKS name and region, with their credential references."""
        return {n: c for n, c in self._by_identity.get((display_name, region), {}).items() if n != name}

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_identity.values())
