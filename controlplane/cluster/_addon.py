"""The EBS CSI driver addon: IAM OIDC provider, the IRSA role stack, then CreateAddon; and the IAM OIDC
provider every IPv6 cluster gets.

Departure from the operator: no thumbprint is fetched with TLS verification disabled. IAM has not
needed a thumbprint for EKS-hosted OIDC issuers since 2023 (it trusts them through its CA library),
and an unverified TLS fetch is exactly what a security review flags.
"""

from __future__ import annotations

from controlplane.aws import AwsError, Template, render

from . import _plan
from ._context import Pass, ReconcileError
from ._observe import Observation

OIDC_CLIENT_ID = "sts.amazonaws.com"
_ABSENT = frozenset({"CREATE_FAILED", "DEGRADED"})


def _issuer(obs: Observation) -> str:
    return str(((obs.cluster.get("identity") or {}).get("oidc") or {}).get("issuer") or "")


async def ensure_ipv6_oidc_provider(p: Pass, obs: Observation) -> None:
    """The operator's first step of every update pass of an IPv6 cluster: make sure the cluster's IAM
    OIDC provider exists (the VPC CNI's pods assume their role through it)."""
    prefix = "error configuring OIDC provider for IPv6"
    issuer = _issuer(obs)
    if not issuer:
        raise ReconcileError(f"{prefix}: cluster has no OIDC issuer")
    try:
        await _oidc_provider(p, issuer)
    except AwsError as exc:
        raise ReconcileError(f"{prefix}: {exc}") from exc


async def _oidc_provider(p: Pass, issuer: str) -> str:
    provider_id = issuer.rstrip("/").rsplit("/", 1)[-1]
    for arn in await p.scope.list_open_id_connect_providers():
        if provider_id and provider_id in arn:
            return arn
    arn = await p.scope.create_open_id_connect_provider(issuer, [OIDC_CLIENT_ID], [])
    p.status.created_oidc_provider_arn = arn
    await p.persist()
    p.event("OIDCProviderCreated", f"IAM OIDC provider {arn} created for {issuer}")
    return arn


async def ensure_ebs_csi(p: Pass, obs: Observation) -> float | None:
    """None when installed (or just requested); a float means "poll again" (role stack in progress)."""
    addon = obs.ebs_addon
    if addon is not None and addon.get("status") not in _ABSENT:
        return None
    if addon is not None:
        # EKS refuses CreateAddon over a failed one (the operator retried forever): remove it first.
        await p.scope.delete_addon(p.display, _plan.EBS_ADDON_NAME)
        p.event(
            "AddonReplacing",
            f"{_plan.EBS_ADDON_NAME} is {addon.get('status')}: deleting it to retry",
            warning=True,
        )
        return p.wait()
    issuer = _issuer(obs)
    if not issuer:
        raise ReconcileError("error enabling ebs csi driver addon: cluster has no OIDC issuer")
    try:
        try:
            await _oidc_provider(p, issuer)
        except AwsError as exc:
            raise ReconcileError(f"could not configure oidc provider: {exc}") from exc
        outputs = await p.ensure_stack(
            _plan.ebs_role_stack_name(p.display),
            lambda: render(Template.EBS_CSI_DRIVER_ROLE, p.spec.region, oidc_issuer=issuer),
            capabilities=("CAPABILITY_IAM",),
            error_prefix="could not create ebs csi driver role",
        )
        if outputs is None:
            return p.stack_poll()
        role_arn = outputs.get("EBSCSIDriverRole", "")
        try:
            intent = f"CreateAddon/{_plan.EBS_ADDON_NAME}"
            await p.scope.create_addon(
                p.display,
                _plan.EBS_ADDON_NAME,
                service_account_role_arn=role_arn,
                client_request_token=p.token(intent),
            )
            p.sent(intent)
        except AwsError as exc:
            raise ReconcileError(f"failed to install ebs csi driver addon: {exc}") from exc
    except ReconcileError as exc:
        raise ReconcileError(f"error enabling ebs csi driver addon: {exc}") from exc
    p.event("AddonCreating", f"{_plan.EBS_ADDON_NAME} requested")
    return None
