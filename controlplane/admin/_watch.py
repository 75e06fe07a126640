"""Cluster watches: one follower of the store's change feed per replica, fanned out to every watch.

``WatchHub.run`` follows the feed while anyone watches: each page of changes is collapsed per cluster
(ten status commits of one cluster are one event), the changed clusters are read in one batch, and the
page is appended to one log of recent events that every watch reads from its own position, as a
Kubernetes watch cache does: a page wakes all watches at once, and each sends the events its filters
select. An event is encoded at most once per view and type, however many watches send it. The log
keeps only what some watch has not taken yet; a watch more than ``admin.watch_buffer`` events behind
(its client reads slower than changes arrive) is disconnected, never buffered without bound.

A watch that starts from an older ``resourceVersion`` first replays the feed from there up to the hub's
position at the moment it joined (reading the feed itself), then takes the live events the hub queued
meanwhile: no change is lost or sent twice. Event mapping: ``created`` -> ``ADDED``; ``updated`` (spec,
labels, annotations, deletion requested) and ``status`` -> ``MODIFIED``; ``deleted`` -> ``DELETED``.
Sync requests, settings and credentials are not changes of a cluster object and are not sent; the
status a requested refresh commits is. Each event carries the object as it is when the event is built
(the newest state, as a Kubernetes watch cache would after a compaction of intermediate states).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio
import msgspec

from .. import metrics
from ..api import API_VERSION, KIND_CLUSTER, Cluster
from ..config import AdminSettings
from ..store import Change, ChangeKind, ChangesExpired, ClusterQuery, Store, StoreError, matches
from ._listing import View, summarize

logger = logging.getLogger(__name__)

BATCH = 1000
"""Changes read from the feed at a time."""
WRITE_BATCH = 256
"""Queued events a watch sends in one write at most."""
_OBJECT_CHANGES = frozenset({ChangeKind.CREATED, ChangeKind.UPDATED, ChangeKind.STATUS, ChangeKind.DELETED})
_ENCODE = msgspec.json.Encoder().encode
_RETRY = 0.5


class TooManyWatches(Exception):
    """The token already holds ``admin.max_watches_per_token`` watches on this replica."""


class _Envelope(msgspec.Struct, rename="camel"):
    type: str
    resource_version: str
    object: Any


class WatchEvent:
    """One collapsed change of one cluster, shared by every watch it is sent to."""

    __slots__ = ("_encoded", "cluster", "kinds", "name", "seq", "type")

    def __init__(
        self, seq: int, type_: str, name: str, cluster: Cluster | None, kinds: frozenset[ChangeKind]
    ) -> None:
        self.seq = seq
        self.type = type_
        self.name = name
        self.cluster = cluster
        self.kinds = kinds
        self._encoded: dict[tuple[str, str], bytes] = {}

    def encoded(self, type_: str, view: View) -> bytes:
        """The JSON line of this event as ``type_`` in ``view`` (encoded once, then shared)."""
        key = (type_, view)
        line = self._encoded.get(key)
        if line is None:
            obj: Any
            if self.cluster is None:
                obj = {"name": self.name} if view == "summary" else _bare(self.name)
            else:
                obj = summarize(self.cluster) if view == "summary" else self.cluster
            line = _ENCODE(_Envelope(type_, str(self.seq), obj)) + b"\n"
            self._encoded[key] = line
        return line


def _bare(name: str, resource_version: str = "") -> dict[str, Any]:
    metadata = {"name": name} if name else {"resourceVersion": resource_version}
    return {"apiVersion": API_VERSION, "kind": KIND_CLUSTER, "metadata": metadata}


def bookmark(seq: int) -> bytes:
    return _ENCODE(_Envelope("BOOKMARK", str(seq), _bare("", str(seq)))) + b"\n"


def expired(after: int) -> bytes:
    """The in-stream error a Kubernetes watch sends when its position was trimmed meanwhile."""
    status = {
        "kind": "Status",
        "status": "Failure",
        "code": 410,
        "reason": "Expired",
        "message": f"changes after resourceVersion {after} were trimmed; list again",
    }
    return _ENCODE(_Envelope("ERROR", str(after), status)) + b"\n"


def events_from(changes: Iterable[Change], clusters: dict[str, Cluster]) -> list[WatchEvent]:
    """The events of a page of changes, collapsed per cluster, in feed order; ``clusters`` holds the
    changed clusters that still exist. A cluster gone since its change (a delete follows) is skipped."""
    latest: dict[str, tuple[int, ChangeKind, set[ChangeKind]]] = {}
    for change in changes:
        if change.kind not in _OBJECT_CHANGES:
            continue
        previous = latest.get(change.name)
        kinds = set() if previous is None or change.kind is ChangeKind.CREATED else previous[2]
        kinds.add(change.kind)
        latest[change.name] = (change.seq, change.kind, kinds)
    out: list[WatchEvent] = []
    for name, (seq, last, kinds) in sorted(latest.items(), key=lambda item: item[1][0]):
        if last is ChangeKind.DELETED:
            out.append(WatchEvent(seq, "DELETED", name, None, frozenset(kinds)))
            continue
        cluster = clusters.get(name)
        if cluster is None:
            continue
        type_ = "ADDED" if ChangeKind.CREATED in kinds else "MODIFIED"
        out.append(WatchEvent(seq, type_, name, cluster, frozenset(kinds)))
    return out


def verdict(query: ClusterQuery, event: WatchEvent) -> str | None:
    """The type a watch filtered by ``query`` sends ``event`` as, or ``None`` to skip it.

    A matching object is sent as it is. One that does not match is sent as ``DELETED`` when this change
    may have moved it out of the selection (a label change under a label selector, a status change under
    a status filter), so a filtered view drops it; a client that never had it ignores the delete.
    """
    if event.cluster is None:
        prefix = query.name_prefix
        return "DELETED" if not prefix or event.name.startswith(prefix) else None
    if matches(query, event.cluster):
        return event.type
    if event.type == "ADDED":
        return None
    moved = (query.labels and ChangeKind.UPDATED in event.kinds) or (
        query.filters_status and ChangeKind.STATUS in event.kinds
    )
    return "DELETED" if moved else None


async def read_events(store: Store, changes: list[Change]) -> list[WatchEvent]:
    names = {c.name for c in changes if c.kind in _OBJECT_CHANGES and c.kind is not ChangeKind.DELETED}
    return events_from(changes, await store.get_clusters(names) if names else {})


class Watch:
    """One client's watch: its filters, view and position in the hub's log of recent events."""

    def __init__(self, hub: WatchHub, query: ClusterQuery, view: View, after: int | None, owner: str) -> None:
        self.hub = hub
        self.query = query
        self.view = view
        self.owner = owner
        self.start = hub.cursor
        """The hub's position when this watch joined: every event after it is in the hub's log."""
        self.after = self.start if after is None else after
        """Events up to here are not sent (the client has them)."""
        self.sent = self.after
        self.index = hub.log_end
        """The next event of the hub's log this watch takes."""
        self.reason = "client"
        self._ended = False
        self._everything = query.is_everything
        self.scope = anyio.CancelScope()

    def end(self, reason: str) -> None:
        """Stop the watch (its stream ends at once, even in the middle of a blocked write)."""
        if not self._ended:
            self._ended = True
            self.reason = reason
        self.scope.cancel()

    async def stream(self, write: Callable[[bytes], Awaitable[None]], interval: float) -> None:
        """Replay what happened between ``after`` and joining, then send the hub's events as they come,
        with a BOOKMARK after ``interval`` quiet seconds. Returns when the watch is ended."""
        store = self.hub.store
        position = self.after
        while position < self.start:
            try:
                changes = await store.changes_since(position, limit=BATCH)
            except ChangesExpired:
                await write(expired(position))
                self.reason = "expired"
                return
            changes = [c for c in changes if c.seq <= self.start]
            if not changes:
                break
            for event in await read_events(store, changes):
                type_ = verdict(self.query, event)
                if type_ is not None:
                    await self._write(write, event.encoded(type_, self.view), event.seq)
            position = changes[-1].seq
        self.sent = max(self.sent, self.start)
        hub = self.hub
        quiet_since = anyio.current_time()
        while not self._ended:
            published = hub.published
            events = hub.take(self)
            if events:
                if await self._send(write, events):
                    quiet_since = anyio.current_time()
                continue
            if anyio.current_time() - quiet_since >= interval:
                await self._write(write, bookmark(max(self.sent, hub.cursor)), None)
                quiet_since = anyio.current_time()
                continue
            # The hub wakes every watch on each page of events and at least every interval / 4.
            await published.wait()

    async def _send(self, write: Callable[[bytes], Awaitable[None]], events: list[WatchEvent]) -> bool:
        """The events this watch sends among ``events``, WRITE_BATCH at most per write: one write per
        event cost a send each, 100 watches times every status commit of the fleet. Returns whether
        anything was written."""
        lines: list[bytes] = []
        seq = self.sent
        wrote = False
        for event in events:
            if event.seq <= self.after:
                continue
            type_ = event.type if self._everything else verdict(self.query, event)
            if type_ is None:
                continue
            lines.append(event.encoded(type_, self.view))
            seq = event.seq
            if len(lines) == WRITE_BATCH:
                await self._write(write, b"".join(lines), seq, len(lines))
                lines, wrote = [], True
        if lines:
            await self._write(write, b"".join(lines), seq, len(lines))
            wrote = True
        return wrote

    async def _write(
        self, write: Callable[[bytes], Awaitable[None]], data: bytes, seq: int | None, events: int = 1
    ) -> None:
        await write(data)
        metrics.ADMIN_WATCH_EVENTS.inc(events)
        if seq is not None:
            self.sent = max(self.sent, seq)


class WatchHub:
    """Follows the change feed for every watch of this replica (see the module docstring)."""

    def __init__(self, store: Store, settings: AdminSettings) -> None:
        self.store = store
        self.settings = settings
        self.cursor = 0
        self._watches: set[Watch] = set()
        self._per_owner: dict[str, int] = {}
        self._ready = anyio.Event()
        self._log: list[WatchEvent] = []
        """The events some watch has not taken yet, oldest first (a watch cache, shared by all)."""
        self._log_start = 0
        """The position of ``_log[0]`` among every event the hub has published."""
        self.published = anyio.Event()
        """Set (and replaced) whenever events are published, and at least every bookmark interval / 4:
        what every watch waits on (one wake-up for all of them, instead of a queue and a timer each)."""
        self._tick = settings.watch_bookmark_interval / 4
        # A page no larger than half the log a watch may fall behind leaves a reader that keeps up room
        # to spare (it sends while the next page is read).
        self._page = max(1, min(BATCH, settings.watch_buffer // 2))

    @property
    def log_end(self) -> int:
        """The position the next published event takes."""
        return self._log_start + len(self._log)

    def take(self, watch: Watch) -> list[WatchEvent]:
        """The events published since ``watch`` last took (empty when none), moving it to the end."""
        start = watch.index - self._log_start
        if start < 0:  # dropped from the log: it was ended as a slow reader
            watch.end("slow_reader")
            return []
        events = self._log[start:]
        watch.index = self.log_end
        return events

    def publish(self, events: list[WatchEvent]) -> None:
        """Append ``events`` to the log and wake every watch. A watch more than ``watch_buffer`` events
        behind (its client reads slower than changes arrive) is disconnected; what every remaining
        watch has taken is dropped."""
        self._log.extend(events)
        end = self.log_end
        oldest = end
        for watch in list(self._watches):
            if end - watch.index > self.settings.watch_buffer:
                watch.end("slow_reader")
            elif watch.index < oldest:
                oldest = watch.index
        del self._log[: oldest - self._log_start]
        self._log_start = oldest
        self._wake()

    def _wake(self) -> None:
        self.published.set()
        self.published = anyio.Event()

    async def run(self) -> None:
        """Follow the feed until cancelled; read changes only while someone watches."""
        while True:
            try:
                self.cursor = await self.store.head()
                break
            except StoreError as exc:
                logger.warning("watch hub cannot read the change feed yet: %s", exc)
                await anyio.sleep(_RETRY)
        self._ready.set()
        while True:
            try:
                await self._follow()
            except ChangesExpired:
                # Fell behind the feed's retention (a long stall): every watch must re-list.
                for watch in list(self._watches):
                    watch.end("expired")
                self.cursor = await self.store.head()
            except StoreError as exc:
                logger.warning("watch hub: reading the change feed failed (retrying): %s", exc)
                self._wake()  # quiet watches still send their bookmarks while the store is away
                await anyio.sleep(_RETRY)

    async def _follow(self) -> None:
        while True:
            head: int | None = None
            with anyio.move_on_after(self._tick):
                head = await self.store.wait_for_change(self.cursor)
            if head is None:
                self._wake()  # quiet: the watches see whether a bookmark is due
                continue
            if not self._watches:
                self.cursor = head  # nobody to tell; decided and moved with no await in between
                continue
            while self.cursor < head:
                changes = await self.store.changes_since(self.cursor, limit=self._page)
                if not changes:
                    self.cursor = head
                    break
                events = await read_events(self.store, changes)
                # Published and moved past with no await in between: a watch that joins now starts
                # after this page, and the events it replays end where this page ends.
                self.publish(events)
                self.cursor = changes[-1].seq

    async def ready(self) -> None:
        await self._ready.wait()

    @staticmethod
    def owner_of(token: str) -> str:
        """The key watches are counted under: a digest, so no token is held in memory twice."""
        return hashlib.blake2b(token.encode(), digest_size=8).hexdigest()

    def open(self, query: ClusterQuery, view: View, after: int | None, owner: str) -> Watch:
        """A new watch, queued from the hub's current position. ``TooManyWatches`` over the limit."""
        held = self._per_owner.get(owner, 0)
        if held >= self.settings.max_watches_per_token:
            raise TooManyWatches(
                f"this token holds {held} watches on this replica; the limit is "
                f"{self.settings.max_watches_per_token} (admin.max_watches_per_token)"
            )
        watch = Watch(self, query, view, after, owner)
        self._watches.add(watch)
        self._per_owner[owner] = held + 1
        metrics.ADMIN_WATCHES.set(len(self._watches))
        return watch

    def close(self, watch: Watch) -> None:
        if watch not in self._watches:
            return
        self._watches.discard(watch)
        left = self._per_owner[watch.owner] - 1
        if left:
            self._per_owner[watch.owner] = left
        else:
            del self._per_owner[watch.owner]
        watch.end(watch.reason)
        metrics.ADMIN_WATCHES.set(len(self._watches))
        metrics.ADMIN_WATCH_ENDS.labels(watch.reason).inc()

    def end_all(self, reason: str) -> None:
        """End every watch (shutdown): their streams finish and their handlers return."""
        for watch in list(self._watches):
            watch.end(reason)

    @property
    def watches(self) -> int:
        return len(self._watches)
