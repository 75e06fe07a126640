"""The churn of a load test: a share of the fleet created, updated and deleted during each round."""

from __future__ import annotations

import asyncio
import random

import aiohttp

from ._clients import AdminClient, create_manifest, update_patch
from ._options import LoadOptions
from ._phase import PREFIX


class Churn:
    """During each measured round: a share of the fleet created, updated and deleted through the admin
    API, spread evenly over the period. Deleted names leave ``alive`` (admin GETs and baselines skip them)."""

    def __init__(self, admin: AdminClient, opts: LoadOptions, alive: list[str]) -> None:
        self.admin = admin
        self.opts = opts
        self.alive = alive
        self.counts = {"created": 0, "updated": 0, "deleted": 0, "failed": 0}
        self._rng = random.Random(11)

    async def run(self) -> None:
        created, updated, deleted = self.opts.churn_per_round()
        if not created + updated + deleted:
            return
        for round_no in range(1, self.opts.rounds + 1):
            ops = [("created", f"{PREFIX}new-{round_no}-{i}") for i in range(created)]
            victims = self._rng.sample(self.alive, min(len(self.alive), updated + deleted))
            ops += [("updated", name) for name in victims[:updated]]
            for name in victims[updated:]:
                self.alive.remove(name)
                ops.append(("deleted", name))
            self._rng.shuffle(ops)
            gap = self.opts.period / len(ops)
            for kind, name in ops:
                try:
                    await self._apply(kind, name, round_no)
                    self.counts[kind] += 1
                except (aiohttp.ClientError, OSError, RuntimeError):
                    self.counts["failed"] += 1
                await asyncio.sleep(gap)

    async def _apply(self, kind: str, name: str, round_no: int) -> None:
        if kind == "created":
            await self.admin.create(create_manifest(name))
        elif kind == "deleted":
            await self.admin.delete(name)
        else:
            await self._update(name, round_no)

    async def _update(self, name: str, round_no: int) -> None:
        cluster = await self.admin.get(name)
        if cluster is not None:
            await self.admin.patch(name, update_patch(cluster, round_no))
