"""Access entries and their access policies: created, updated and deleted to match the spec; and what to
tell the user when the cluster does not let our own credential in.

Entries change at once in EKS (no update IDs), so the whole list is pushed in one pass; the pass then
ends so that the next one reads the result back before going on.
"""

from __future__ import annotations

import json
from typing import Any

from controlplane.api import AccessEntry, AccessPolicy, EKSClusterConfigSpec, SyncPolicy
from controlplane.aws import AwsError
from controlplane.sync import ACCESS_ENTRIES, ACCESS_POLICIES, keyed_diff

from ._context import Pass, ReconcileError, Requeue
from ._observe import Observation

API_MODES = frozenset({"API", "API_AND_CONFIG_MAP"})
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
NEED_API_MODE = (
    "accessEntries need authenticationMode API or API_AND_CONFIG_MAP, and the cluster's is {mode}: set "
    "authenticationMode: API_AND_CONFIG_MAP (keeps the aws-auth ConfigMap working) or API"
)


def _scope(policy: AccessPolicy) -> dict[str, Any]:
    scope = policy.access_scope
    out: dict[str, Any] = {"type": scope.type if scope is not None else "cluster"}
    if scope is not None and scope.namespaces:
        out["namespaces"] = list(scope.namespaces)
    return out


async def _policies(
    p: Pass, arn: str, want: list[AccessPolicy] | None, have: list[AccessPolicy] | None
) -> bool:
    """Associate and disassociate so that the entry holds ``want`` (unmanaged when None)."""
    d = keyed_diff(ACCESS_POLICIES, policy=SyncPolicy.DESIRED_WINS, desired=want, upstream=have or [])
    for policy in [*d.creates, *(u.want for u in d.updates)]:
        await p.scope.associate_access_policy(p.display, arn, policy.policy_arn or "", _scope(policy))
        p.event("AccessPolicyAssociated", f"access entry {arn}: {policy.policy_arn} associated")
    for policy in d.deletes:
        await p.scope.disassociate_access_policy(p.display, arn, policy.policy_arn or "")
        p.event("AccessPolicyDisassociated", f"access entry {arn}: {policy.policy_arn} disassociated")
    return d.mutates


async def _create(p: Pass, entry: AccessEntry) -> None:
    arn = entry.principal_arn or ""
    intent = f"CreateAccessEntry/{arn}"
    await p.scope.create_access_entry(
        p.display,
        arn,
        type_=entry.type,
        kubernetes_groups=entry.kubernetes_groups,
        username=entry.username,
        tags=entry.tags,
        client_request_token=p.token(intent),
    )
    p.sent(intent)
    p.event("AccessEntryCreated", f"access entry {arn} created")
    await _policies(p, arn, entry.access_policies, [])


async def _update(p: Pass, want: AccessEntry, have: AccessEntry, arns: dict[str, str]) -> None:
    arn = want.principal_arn or ""
    groups = want.kubernetes_groups if want.kubernetes_groups != have.kubernetes_groups else None
    username = want.username if want.username is not None and want.username != have.username else None
    if groups is not None or username is not None:
        intent = f"UpdateAccessEntry/{arn}"
        await p.scope.update_access_entry(
            p.display, arn, kubernetes_groups=groups, username=username, client_request_token=p.token(intent)
        )
        p.sent(intent)
        p.event("AccessEntryUpdated", f"access entry {arn}: groups/username updated")
    if want.tags is not None and want.tags != have.tags:
        current = have.tags or {}
        add = {k: v for k, v in want.tags.items() if current.get(k) != v}
        remove = [k for k in current if k not in want.tags]
        if add:
            await p.scope.tag_resource(arns[arn], add)
        if remove:
            await p.scope.untag_resource(arns[arn], remove)
    await _policies(p, arn, want.access_policies, have.access_policies)


async def push(
    p: Pass, desired: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec, obs: Observation
) -> Requeue:
    """Make the cluster's access entries what ``desired`` says; 0 when a call was made, None when none was
    needed. Never sent under CONFIG_MAP (EKS refuses every access-entry call there)."""
    want = desired.access_entries
    if want is None:
        return None
    mode = upstream.authentication_mode or ""
    if mode not in API_MODES:
        if want:
            raise ReconcileError(NEED_API_MODE.format(mode=mode or "unknown"))
        return None
    d = keyed_diff(
        ACCESS_ENTRIES, policy=SyncPolicy.DESIRED_WINS, desired=want, upstream=upstream.access_entries or []
    )
    if not d.mutates:
        return None
    arns = {
        str(e.get("principalArn")): str(e.get("accessEntryArn") or "")
        for e, _ in obs.extras.access_entries or []
    }
    try:
        for entry in d.deletes:
            await p.scope.delete_access_entry(p.display, entry.principal_arn or "")
            p.event("AccessEntryDeleted", f"access entry {entry.principal_arn} deleted")
        for entry in d.creates:
            await _create(p, entry)
        for u in d.updates:
            await _update(p, u.want, u.have, arns)
    except AwsError as exc:
        raise ReconcileError(f"error updating access entries: {exc}") from exc
    return 0


def access_hint(principal: str, mode: str) -> str:
    """The exact fix when the cluster does not let ``principal`` (an IAM ARN) in, for its ``mode``."""
    entry = {
        "principalArn": principal,
        "type": "STANDARD",
        "accessPolicies": [{"policyArn": ADMIN_POLICY, "accessScope": {"type": "cluster"}}],
    }
    if mode in API_MODES:
        return (
            f"add this element to spec.eksConfig.accessEntries: {json.dumps(entry, separators=(', ', ': '))}"
        )
    kind = "mapRoles" if ":role/" in principal else "mapUsers"
    arn_key = "rolearn" if kind == "mapRoles" else "userarn"
    name = principal.rsplit("/", 1)[-1]
    return (
        f"the cluster's authenticationMode is {mode or 'CONFIG_MAP'}, so map it in the aws-auth ConfigMap "
        f"(namespace kube-system), under {kind}: '- {arn_key}: {principal}, username: {name}, groups: "
        "[system:masters]'; or set authenticationMode: API_AND_CONFIG_MAP and add this element to "
        f"spec.eksConfig.accessEntries: {json.dumps(entry, separators=(', ', ': '))}"
    )
