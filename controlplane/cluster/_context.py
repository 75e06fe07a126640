"""What one reconcile pass works with: the cluster, its AWS scope, the shared adapters, and helpers.

A pass mutates ``pass_.status`` in place; the actor persists it when the pass ends (or earlier, with
``await pass_.persist()``, before acting on something that must survive a crash).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio
import msgspec

from controlplane.api import Cluster, ClusterStatus, EKSClusterConfigSpec, Event, Phase
from controlplane.aws import (
    AlreadyExistsError,
    AwsError,
    AwsScope,
    NotFoundError,
    stack_failure_reason,
    stack_outputs,
)
from controlplane.config import LifecycleSettings

from . import _plan
from ._conditions import now_rfc3339
from ._versions import VersionSupport

if TYPE_CHECKING:
    from controlplane.aws import AwsAdapter
    from controlplane.probe import Prober
    from controlplane.store import Fence, Store
    from controlplane.token import TokenMinter


class ReconcileError(Exception):
    """An expected failure of a pass; its text becomes the failure message (operator wording)."""


class ClusterAccessError(ReconcileError):
    """The cluster's Kubernetes API refused our identity (401/403); the message names the identity and
    the exact fix. Not a cloud-credential problem: AWS accepted the credential."""


Requeue = float | None
"""A step's outcome: seconds until the next pass (0: at once), or None: wait for a message."""


class Next(msgspec.Struct, frozen=True, gc=False):
    """What a phase handler decides: the phase to be in, and when to come back.

    The actor enters ``phase`` (the kernel's ``transition``, which cancels the old phase's state
    timeout) and arms the state timeout ``after`` seconds from now (``None``: wait for a message).
    ``gone`` ends the cluster: AWS is clean after a delete, the actor forgets it and stops.
    """

    phase: Phase
    after: Requeue
    gone: bool = False


class ClusterDeps(msgspec.Struct, frozen=False, kw_only=True):
    """The shared adapters every cluster actor uses (built once by the service)."""

    store: Store
    aws: AwsAdapter
    prober: Prober
    minter: TokenMinter
    lifecycle: LifecycleSettings
    replica: str = ""
    """This replica's id, recorded in every status the actors write (``status.replica``)."""
    time_scale: float = 1.0
    service_account_token: Callable[[str, str, Callable[[], Awaitable[str]], str], Awaitable[str]] | None = (
        None
    )
    """``(endpoint, ca_data, token_source, cluster_name) -> token``; the downstream procedure."""
    on_refreshed: Callable[[str, int], None] | None = None
    """Told after every sync tick (refreshed or skipped) with the round id, for round accounting."""
    on_removed: Callable[[str], None] | None = None
    """Told when a deleted cluster has left AWS and the store."""
    versions: VersionSupport = msgspec.field(default_factory=VersionSupport)
    """EKS's support status of Kubernetes versions, asked once per region and version."""
    refresh_slots: anyio.Semaphore | None = None
    """Bounds the sync ticks refreshing at once (``[sync] max_concurrent_refreshes``); None: no bound."""

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale


class Pass:
    """One reconcile pass over one cluster."""

    def __init__(
        self,
        cluster: Cluster,
        scope: AwsScope,
        deps: ClusterDeps,
        persist: Callable[[bool], Awaitable[None]],
        fence: Fence | None = None,
    ) -> None:
        self.cluster = cluster
        self.scope = scope
        self.deps = deps
        self._persist = persist
        self.fence = fence
        """The lease every store write of this pass is made under (see ``ClusterActor``)."""
        self.events: list[Event] = []
        self.converged = False
        """Set by an update pass that found nothing left to change (Rancher's complete active pass)."""

    @property
    def name(self) -> str:
        return self.cluster.metadata.name

    @property
    def spec(self) -> EKSClusterConfigSpec:
        return self.cluster.spec.eks_config

    @property
    def status(self) -> ClusterStatus:
        return self.cluster.status

    @property
    def display(self) -> str:
        return self.spec.display_name

    @property
    def who(self) -> str:
        """The operator's ``%s (id: %s)`` rendering."""
        return f"{self.display} (id: {self.name})"

    @property
    def lifecycle(self) -> LifecycleSettings:
        return self.deps.lifecycle

    def wait(self) -> float:
        return self.deps.scaled(self.lifecycle.wait_interval)

    def stack_poll(self) -> float:
        return self.deps.scaled(self.lifecycle.stack_poll_interval)

    def requeue(self) -> float:
        return self.deps.scaled(self.lifecycle.requeue_interval)

    @property
    def phase(self) -> Phase:
        """The phase this pass runs in (the handler returns the next one; it never sets it)."""
        return self.status.phase

    def token(self, intent: str) -> str:
        """The idempotency token for the next call of ``intent`` (see ``ClusterStatus.intents``)."""
        meta = self.cluster.metadata
        count = self.status.intents.get(intent, 0)
        return _plan.intent_token(meta.name, meta.creation_timestamp, intent, meta.generation, count)

    def sent(self, intent: str) -> None:
        """A call of ``intent`` went through: the next one gets a new token."""
        intents = self.status.intents
        intents[intent] = intents.pop(intent, 0) + 1  # re-inserted last: the dict stays oldest-first
        while len(intents) > _plan.INTENTS_KEPT:
            del intents[next(iter(intents))]

    def stay(self, after: Requeue) -> Next:
        """Remain in the current phase and come back ``after`` seconds from now."""
        return Next(self.status.phase, after)

    async def persist(self) -> None:
        """Make the status durable now (before an AWS call whose result must not be lost)."""
        await self._persist(True)

    def event(self, reason: str, message: str, *, warning: bool = False) -> None:
        self.events.append(
            Event(
                time=now_rfc3339(),
                type="Warning" if warning else "Normal",
                reason=reason,
                message=message,
                cluster=self.name,
            )
        )

    # --- CloudFormation, without blocking -------------------------------------------------------

    async def ensure_stack(
        self,
        stack_name: str,
        template_body: Callable[[], str | Awaitable[str]],
        *,
        capabilities: tuple[str, ...] = (),
        parameters: dict[str, str] | None = None,
        error_prefix: str,
    ) -> dict[str, str] | None:
        """The stack's outputs once CREATE_COMPLETE; None while it is being created (poll again).

        Creating is idempotent: the name is deterministic and an existing stack is reused. A stack
        that failed raises with the reason found in its events, like the operator's helper.
        """
        try:
            stack = await self.scope.describe_stack(stack_name)
        except NotFoundError:
            stack = None
        if stack is None:
            intent = f"CreateStack/{stack_name}"
            body = template_body()  # only rendered when the stack is created (it may ask AWS first)
            if not isinstance(body, str):
                body = await body
            try:
                await self.scope.create_stack(
                    stack_name,
                    body,
                    capabilities=capabilities,
                    parameters=parameters,
                    tags={"displayName": self.display},
                    client_request_token=self.token(intent),
                )
                self.sent(intent)
            except AlreadyExistsError:
                return None  # created by an earlier pass or process: poll it next time
            except AwsError as exc:
                raise ReconcileError(f"{error_prefix}: error creating master: {exc}") from exc
            self.event("StackCreating", f"creating CloudFormation stack {stack_name}")
            return None
        state = str(stack.get("StackStatus") or "")
        if state in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            return stack_outputs(stack)
        if state == "CREATE_IN_PROGRESS":
            return None
        if state == "DELETE_IN_PROGRESS":
            return None  # a previous delete is still running; recreate once it is gone
        events = await self.scope.describe_stack_events(stack_name)
        raise ReconcileError(f"{error_prefix}: stack failed to create: {stack_failure_reason(events)}")

    async def stack_gone(self, stack_name: str) -> bool:
        """Delete ``stack_name`` if it exists; True once it no longer exists (or is DELETE_COMPLETE)."""
        try:
            stack = await self.scope.describe_stack(stack_name)
        except NotFoundError:
            return True
        state = str(stack.get("StackStatus") or "")
        if state == "DELETE_COMPLETE":
            return True
        if state == "DELETE_IN_PROGRESS":
            return False
        if state == "DELETE_FAILED":
            events = await self.scope.describe_stack_events(stack_name)
            reason = stack_failure_reason(
                [
                    {**e, "ResourceStatus": "CREATE_FAILED"}
                    if e.get("ResourceStatus") == "DELETE_FAILED"
                    else e
                    for e in events
                ]
            )
            self.event(
                "StackDeleteFailed", f"stack {stack_name} failed to delete: {reason}; retrying", warning=True
            )
        await self.scope.delete_stack(stack_name)
        return False
