"""EKS's support status of Kubernetes versions, asked once per region and version, not once per cluster.

The status (``STANDARD_SUPPORT``, ``EXTENDED_SUPPORT``) comes from ``DescribeClusterVersions`` and is a
fact about a version in a region: an import of 50,000 clusters on 1.32 asked it 50,000 times, once in
every first refresh, through botocore's paginator (6% of an import's CPU). The answer only feeds a
warning, and changes on dates AWS announces months ahead: one answer per hour is fresh enough.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from ..aws import AwsError, AwsScope

TTL_SECONDS = 3600.0
"""How long one region's answer for one version is used."""
MAX_ENTRIES = 512
"""(region, version) pairs kept: regions times the versions EKS supports at once, with room to spare."""


class VersionSupport:
    """A bounded, TTL cache of ``DescribeClusterVersions`` answers, shared by the actors of a process.

    A failed call (throttled, access denied) is not cached: the next refresh asks again, as before."""

    def __init__(
        self,
        *,
        ttl: float = TTL_SECONDS,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0 or max_entries < 1:
            raise ValueError("ttl must be > 0 and max_entries >= 1")
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._answers: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()

    async def status(self, scope: AwsScope, version: str) -> str:
        """The version's ``versionStatus`` in the scope's region; ``""`` when AWS did not say."""
        key = (scope.region, version)
        now = self._clock()
        cached = self._answers.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            found = await scope.describe_cluster_versions([version])
        except AwsError:
            return ""  # only a warning depends on it: asked again on the next refresh
        status = next(
            (str(v.get("versionStatus") or "") for v in found if v.get("clusterVersion") == version), ""
        )
        if status:
            self._answers[key] = (self._clock() + self._ttl, status)
            self._answers.move_to_end(key)
            while len(self._answers) > self._max:
                self._answers.popitem(last=False)
        return status
