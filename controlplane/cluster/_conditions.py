"""Rancher's condition helpers, with its exact semantics.

An absent condition reads as ``Unknown`` with an empty message. Setting a status refreshes
``lastUpdateTime`` (and ``lastTransitionTime`` when the status really changes); a set that would change
neither status nor message is a no-op, which is Rancher's guard against needless writes.
"""

from __future__ import annotations

import datetime as dt

from controlplane.api import ClusterStatus, Condition, ConditionStatus

PROVISIONED = "Provisioned"
UPDATED = "Updated"
WAITING = "Waiting"
PENDING = "Pending"
CONFLICT = "Conflict"

MSG_NODEGROUP_REQUIRED = "Cluster must have at least one managed nodegroup or one self-managed node."
MSG_WAITING_FOR_API = "Waiting for API to be available"
MSG_WAITING_FOR_AGENT = "waiting for cluster agent to be deployed"
SYNC_ERROR_PREFIX = "[Syncing error"


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def get(status: ClusterStatus, ctype: str) -> tuple[ConditionStatus, str]:
    for cond in status.conditions:
        if cond.type == ctype:
            return cond.status, cond.message
    return "Unknown", ""


def set_condition(status: ClusterStatus, ctype: str, value: ConditionStatus, message: str = "") -> bool:
    """Set a condition in place; returns whether anything changed (Rancher's no-op guard)."""
    now = now_rfc3339()
    for cond in status.conditions:
        if cond.type == ctype:
            if cond.status == value and cond.message == message:
                return False
            if cond.status != value:
                cond.last_transition_time = now
            cond.status = value
            cond.message = message
            cond.last_update_time = now
            return True
    if value == "Unknown" and not message:
        return False  # absent already reads as Unknown with no message
    status.conditions.append(
        Condition(type=ctype, status=value, message=message, last_update_time=now, last_transition_time=now)
    )
    return True


def get_reason(status: ClusterStatus, ctype: str) -> str:
    return next((c.reason for c in status.conditions if c.type == ctype), "")


def set_reason(status: ClusterStatus, ctype: str, reason: str) -> None:
    for cond in status.conditions:
        if cond.type == ctype:
            cond.reason = reason


def set_message(status: ClusterStatus, ctype: str, message: str) -> bool:
    """Rewrite only the message (Rancher does this for ``Waiting``); timestamps untouched. A condition
    that does not exist yet is created ``Unknown``, with both timestamps like any new condition."""
    for cond in status.conditions:
        if cond.type == ctype:
            if cond.message == message:
                return False
            cond.message = message
            return True
    now = now_rfc3339()
    status.conditions.append(
        Condition(
            type=ctype, status="Unknown", message=message, last_update_time=now, last_transition_time=now
        )
    )
    return True


def credential_message(failure: str) -> str:
    """Rancher's wording of an access-denied failure (it spots one by "403" in the message; we know
    the error's type, so a cluster or stack named "x403" is not taken for one)."""
    return f"cannot access EKS, check cloud credential: {failure}" if failure else failure
