"""Pod Identity associations (the cluster's own; an add-on's are pushed with the add-on): created,
changed and deleted to match ``podIdentityAssociations``. They change at once in EKS."""

from __future__ import annotations

from controlplane.api import EKSClusterConfigSpec, PodIdentityAssociation, SyncPolicy
from controlplane.aws import AwsError
from controlplane.sync import POD_IDENTITY_ASSOCIATIONS, keyed_diff

from ._context import Pass, ReconcileError, Requeue
from ._observe import Observation

AGENT_ADDON = "eks-pod-identity-agent"
NEEDS_AGENT = (
    "podIdentityAssociations need the eks-pod-identity-agent add-on, and the cluster does not have it: add "
    "the add-on eks-pod-identity-agent (version default) to addons"
)


def _has_agent(desired: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec) -> bool:
    named = {a.name for a in upstream.addons or []} | {a.name for a in desired.addons or []}
    return AGENT_ADDON in named


async def push(
    p: Pass, desired: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec, obs: Observation
) -> Requeue:
    """0 when a call was made, None when the associations already match."""
    want = desired.pod_identity_associations
    if want is None:
        return None
    d = keyed_diff(
        POD_IDENTITY_ASSOCIATIONS,
        policy=SyncPolicy.DESIRED_WINS,
        desired=want,
        upstream=upstream.pod_identity_associations or [],
    )
    if not d.mutates:
        return None
    if want and not _has_agent(desired, upstream):
        raise ReconcileError(NEEDS_AGENT)
    raw = {
        (str(a.get("namespace")), str(a.get("serviceAccount"))): a
        for a in obs.extras.pod_identity_associations or []
        if not a.get("ownerArn")
    }
    scope, cluster = p.scope, p.display
    try:
        for a in d.deletes:
            await scope.delete_pod_identity_association(cluster, str(raw[_key(a)]["associationId"]))
            p.event("PodIdentityDeleted", f"Pod Identity association {_label(a)} deleted")
        for a in d.creates:
            intent = f"CreatePodIdentityAssociation/{_label(a)}"
            await scope.create_pod_identity_association(
                cluster,
                a.namespace or "",
                a.service_account or "",
                a.role_arn or "",
                tags=a.tags,
                client_request_token=p.token(intent),
            )
            p.sent(intent)
            p.event("PodIdentityCreated", f"Pod Identity association {_label(a)} created")
        for u in d.updates:
            current = raw[_key(u.have)]
            if u.want.role_arn is not None and u.want.role_arn != u.have.role_arn:
                intent = f"UpdatePodIdentityAssociation/{_label(u.want)}"
                await scope.update_pod_identity_association(
                    cluster,
                    str(current["associationId"]),
                    role_arn=u.want.role_arn,
                    client_request_token=p.token(intent),
                )
                p.sent(intent)
            if u.want.tags is not None and u.want.tags != u.have.tags:
                have_tags = u.have.tags or {}
                add = {k: v for k, v in u.want.tags.items() if have_tags.get(k) != v}
                remove = [k for k in have_tags if k not in u.want.tags]
                if add:
                    await scope.tag_resource(str(current["associationArn"]), add)
                if remove:
                    await scope.untag_resource(str(current["associationArn"]), remove)
            p.event("PodIdentityUpdated", f"Pod Identity association {_label(u.want)} updated")
    except AwsError as exc:
        raise ReconcileError(f"error updating Pod Identity associations: {exc}") from exc
    return 0


def _key(a: PodIdentityAssociation) -> tuple[str, str]:
    return (a.namespace or "", a.service_account or "")


def _label(a: PodIdentityAssociation) -> str:
    return f"{a.namespace}/{a.service_account}"
