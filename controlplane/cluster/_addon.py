"""The EBS CSI driver shortcut (``ebsCSIDriver: true``): the IAM OIDC provider and the IRSA role stack,
then the ``aws-ebs-csi-driver`` element the add-on step (``_addons``) pushes like any other add-on; and the
IAM OIDC provider every IPv6 cluster gets.

Departure from the operator: no thumbprint is fetched with TLS verification disabled. IAM has not
needed a thumbprint for EKS-hosted OIDC issuers since 2023 (it trusts them through its CA library),
and an unverified TLS fetch is exactly what a security review flags.
"""

from __future__ import annotations

from controlplane.api import Addon
from controlplane.aws import AwsError, Template, render

from . import _plan
from ._context import Pass, ReconcileError
from ._observe import Observation

OIDC_CLIENT_ID = "sts.amazonaws.com"
ABSENT = frozenset({"CREATE_FAILED", "DEGRADED"})
"""The operator's CheckEBSAddon counts these as not installed: the add-on is replaced."""


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
    p.event("OIDCProviderCreated", f"IAM OIDC provider {arn} created for {issuer}")
    return arn


async def ebs_element(p: Pass, obs: Observation) -> Addon | float:
    """The add-on the shortcut asks for: as it is when installed (nothing to push), with the IRSA role
    once the role exists; a float means "poll again" (the role stack is being created)."""
    addon = obs.ebs_addon
    if addon is not None:
        return Addon(name=_plan.EBS_ADDON_NAME)  # installed (or failed: the add-on step replaces it)
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
    except ReconcileError as exc:
        raise ReconcileError(f"error enabling ebs csi driver addon: {exc}") from exc
    if outputs is None:
        return p.stack_poll()
    return Addon(name=_plan.EBS_ADDON_NAME, service_account_role_arn=outputs.get("EBSCSIDriverRole", ""))
