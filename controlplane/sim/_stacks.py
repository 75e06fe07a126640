"""CloudFormation DeleteStack that takes time, as on AWS.

moto deletes a stack within the DeleteStack call. Here the stack first shows ``DELETE_IN_PROGRESS``
(in DescribeStacks, ListStacks and ``/_sim/state``) for ``stack_delete_seconds`` (time-scaled), then
moto deletes it and its resources, so "wait until the stacks are gone" is exercised. Creation stays
immediate.

When moto fails to delete a resource of the stack, moto alone answers DeleteStack with that error
(e.g. ``DependencyViolation``) and drops the stack half-deleted; here the stack completes its
deletion as it would on AWS, and only moto keeps the leftover resource.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ._moto import regional

log = logging.getLogger("controlplane.sim")

DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"


def _live_stack(cfn: Any, name_or_id: str) -> Any | None:
    stack = cfn.stacks.get(name_or_id)
    if stack is not None:
        return stack
    for st in list(cfn.stacks.values()):
        if st.name == name_or_id:
            return st
    return None


class StackDeleter:
    """Deferred stack deletions; one loop timer per stack being deleted. ``close()`` cancels them
    all (the stacks stay ``DELETE_IN_PROGRESS`` in moto, which is stopped or reset next)."""

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._pending: dict[tuple[str, str, str], asyncio.TimerHandle] = {}

    @property
    def pending(self) -> int:
        """Stacks being deleted now."""
        return len(self._pending)

    def start(self, account: str, region: str, name_or_id: str) -> bool:
        """Begin deleting a live stack (at once when no delay is configured). False when there is
        none: moto answers then, and DeleteStack of a missing or deleted stack succeeds doing
        nothing, as on AWS. True also for a stack already being deleted (DeleteStack is idempotent)."""
        cfn = regional("cloudformation", account, region)
        stack = None if cfn is None else _live_stack(cfn, name_or_id)
        if stack is None:
            return False
        key = (account, region, str(stack.stack_id))
        if key in self._pending:
            return True
        if self._delay <= 0:
            self._finish(key)
            return True
        stack.status = DELETE_IN_PROGRESS
        self._pending[key] = asyncio.get_running_loop().call_later(self._delay, self._finish, key)
        return True

    def _finish(self, key: tuple[str, str, str]) -> None:
        self._pending.pop(key, None)
        account, region, stack_id = key
        cfn = regional("cloudformation", account, region)
        if cfn is None or stack_id not in cfn.stacks:
            return  # moto was reset meanwhile
        stack = cfn.stacks[stack_id]
        try:
            cfn.delete_stack(stack_id)
        except Exception as e:
            # moto cannot delete some resources AWS deletes (a VPC whose route table moto's
            # CloudFormation leaves behind): finish the stack as AWS would; the rest stays in moto.
            log.warning("moto could not delete every resource of stack %s: %s", stack.name, e)
            cfn.stacks.pop(stack_id, None)
            for export in list(stack.exports):
                cfn.exports.pop(export.name, None)
            stack.status = "DELETE_COMPLETE"
            cfn.deleted_stacks[stack_id] = stack

    def close(self) -> None:
        for handle in self._pending.values():
            handle.cancel()
        self._pending.clear()
