"""The EBS CSI driver addon: IAM OIDC provider, the IRSA role stack, then CreateAddon.

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


async def _oidc_provider(p: Pass, issuer: str) -> str:
    provider_id = issuer.rstrip("/").rsplit("/", 1)[-1]
    for arn in await p.scope.list_open_id_connect_providers():
        if provider_id and provider_id in arn:
            return arn
    # From here the provider is ours. Its ARN is known before it exists (partition, account, issuer) and
    # is recorded durably first: a process killed right after the create finds the provider by listing
    # next time, and the delete still removes it (it leaked when the ARN was only recorded afterwards).
    caller = await p.scope.get_caller_identity()
    partition = caller.arn.split(":")[1] if caller.arn.count(":") >= 4 else "aws"
    p.status.created_oidc_provider_arn = (
        f"arn:{partition}:iam::{caller.account}:oidc-provider/{issuer.removeprefix('https://').rstrip('/')}"
    )
    await p.persist()
    arn = await p.scope.create_open_id_connect_provider(issuer, [OIDC_CLIENT_ID], [])
    if arn != p.status.created_oidc_provider_arn:
        p.status.created_oidc_provider_arn = arn
        await p.persist()
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
    issuer = str(((obs.cluster.get("identity") or {}).get("oidc") or {}).get("issuer") or "")
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
