"""Rancher's management-side duties, folded into the cluster actor (rancher reference sections 1-4).

Runs after the operator's step of every pass: conditions with Rancher's exact messages and no-op guard,
the applied spec, tunnel detection for private-only endpoints, and the service-account token.
"""

from __future__ import annotations

import secrets

from controlplane.api import Cluster, Phase
from controlplane.aws import AwsError
from controlplane.downstream import DownstreamError

from . import _conditions as cond
from ._access import access_hint
from ._context import ClusterAccessError, Pass, ReconcileError, Requeue
from ._observe_extras import our_principal

TOKEN_SECRET_PREFIX = "cluster-serviceaccounttoken-"


def phase_conditions(cluster: Cluster, *, access_denied: bool = False) -> None:
    """The condition part of every pass (and of a failed one), for phases other than ``active``.

    ``access_denied``: the failure was AWS (or the cluster's API) refusing our credential, which
    Rancher shows as a credential problem."""
    st = cluster.status
    failure = cond.credential_message(st.failure_message) if access_denied else st.failure_message
    imported = cluster.spec.eks_config.imported
    if st.phase == Phase.UPDATING:
        cond.set_condition(st, cond.PROVISIONED, "True", "")
        if failure:
            cond.set_condition(st, cond.UPDATED, "False", failure)
        else:
            cond.set_condition(st, cond.UPDATED, "Unknown", "")
        return
    if st.phase in (Phase.NEW, Phase.IMPORTING, Phase.CREATING):
        if imported and st.phase != Phase.CREATING:
            cond.set_condition(st, cond.PENDING, "Unknown", "")
        if failure:
            cond.set_condition(st, cond.PROVISIONED, "False", failure)
        else:
            cond.set_condition(st, cond.PROVISIONED, "Unknown", "")


async def active_duties(p: Pass) -> Requeue:
    """Rancher's phase-``active`` pass (section 2.4), steps 2-14; step 1 is the update pass's upstream."""
    st = p.status
    if st.eks_status.upstream_spec is None:
        return p.requeue()  # step 1: the update pass records it; nothing below runs before that
    if p.spec.imported and cond.get(st, cond.PENDING)[0] == "Unknown":
        cond.set_condition(st, cond.PENDING, "True", cond.get(st, cond.PENDING)[1])
    updated_status, updated_message = cond.get(st, cond.UPDATED)
    if updated_status == "False" and updated_message.startswith(cond.SYNC_ERROR_PREFIX):
        return None  # the refresher's error stays visible until a later refresh clears it
    _nodegroup_rule(p)
    cond.set_condition(st, cond.PROVISIONED, "True", "")
    upstream = st.eks_status.upstream_spec
    if (
        st.eks_status.private_requires_tunnel is None
        and upstream is not None
        and upstream.public_access is False
    ):
        await _detect_tunnel(p)
        if st.eks_status.private_requires_tunnel is None:
            return p.requeue()
    if not st.service_account_token_secret and st.api_endpoint:
        outcome = await _service_account_token(p)
        if outcome is not None:
            return outcome
    _api_available(p)
    if st.applied_spec != p.spec:
        st.applied_spec = p.spec
    cond.set_condition(st, cond.UPDATED, "True", "")
    return None


def _nodegroup_rule(p: Pass) -> None:
    spec_ngs = p.spec.node_groups
    upstream = p.status.eks_status.upstream_spec
    upstream_ngs = upstream.node_groups if upstream is not None else None
    if (spec_ngs is not None and not spec_ngs) or (spec_ngs is None and not upstream_ngs):
        cond.set_condition(p.status, cond.WAITING, "False", cond.MSG_NODEGROUP_REQUIRED)
    elif cond.get(p.status, cond.WAITING)[1] == cond.MSG_NODEGROUP_REQUIRED:
        cond.set_message(p.status, cond.WAITING, cond.MSG_WAITING_FOR_API)


def _api_available(p: Pass) -> None:
    """``Waiting`` True once a service-account token was minted through the cluster's API.

    Rancher's health syncer sets it when the cluster agent reports healthy components; there is no
    agent here, so the token (which needs a reachable, authenticating API server) is the moment the API
    is available. The node-group rule's ``False`` stays: that needs the user's attention."""
    st = p.status
    if st.service_account_token_secret and cond.get(st, cond.WAITING)[1] != cond.MSG_NODEGROUP_REQUIRED:
        cond.set_condition(st, cond.WAITING, "True", "")


async def _refused_message(p: Pass, message: str) -> str:
    """The seed's access problem: who we are, that the cluster's access lacks us, and the exact fix."""
    try:
        caller = (await p.scope.get_caller_identity()).arn
        principal = await our_principal(p)
    except AwsError as exc:
        return f"{message}; the cluster's access does not include our IAM identity (unknown: {exc})"
    upstream = p.status.eks_status.upstream_spec
    mode = (upstream.authentication_mode if upstream is not None else None) or "CONFIG_MAP"
    who = caller if caller == principal else f"{caller} (IAM principal {principal})"
    return (
        f"{message}. The control plane calls the cluster's Kubernetes API as {who}, and the cluster's "
        f"access does not include it: {access_hint(principal, mode)}"
    )


async def _token_source(p: Pass) -> str:
    creds = await p.scope.frozen_credentials()
    return await p.deps.minter.token(cluster_name=p.display, region=p.spec.region, credentials=creds)


async def _detect_tunnel(p: Pass) -> None:
    """generateSATokenWithPublicAPI's verdict, decided once: ``tunnel`` (name does not resolve, or
    connect/handshake times out), ``direct`` (then the token is generated right away), or undecided."""
    st = p.status
    result = await p.deps.prober.probe(st.api_endpoint, ca_data=st.ca_cert)
    if result.verdict == "tunnel":
        st.eks_status.private_requires_tunnel = True
        p.event("TunnelRequired", f"private endpoint not reachable from here ({result.reason})")
    elif result.verdict == "direct":
        st.eks_status.private_requires_tunnel = False
        p.event("TunnelNotRequired", "private endpoint reachable directly")
    else:
        raise ReconcileError(f"cannot decide whether a tunnel is needed: {result.reason}")


async def _service_account_token(p: Pass) -> Requeue:
    st = p.status
    if st.eks_status.private_requires_tunnel:
        # Rancher would dial through the cluster agent's tunnel; until one exists, it waits.
        cond.set_condition(st, cond.WAITING, "Unknown", cond.MSG_WAITING_FOR_AGENT)
        return None
    generate = p.deps.service_account_token
    if generate is None:
        return None
    try:
        token = await generate(st.api_endpoint, st.ca_cert, lambda: _token_source(p), p.name)
    except (DownstreamError, AwsError) as exc:
        message = f"failed to communicate with cluster: {exc}"
        refused = isinstance(exc, DownstreamError) and exc.status in (401, 403)
        if refused:
            message = await _refused_message(p, message)
        cond.set_condition(st, cond.WAITING, "False", message)
        raise (ClusterAccessError if refused else ReconcileError)(message) from exc
    if not token:
        raise ReconcileError("failed to create or update service account token secret, secret can't be empty")
    secret_name = st.service_account_token_secret or f"{TOKEN_SECRET_PREFIX}{secrets.token_hex(3)}"
    await p.deps.store.put_secret(f"{p.name}/{secret_name}", {"credential": token}, fence=p.fence)
    st.service_account_token_secret = secret_name
    p.event("ServiceAccountToken", f"service account token stored in secret {secret_name}")
    return None
