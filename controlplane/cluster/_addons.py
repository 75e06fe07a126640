"""Add-ons: created, updated and deleted to match ``addons`` (and the ``ebsCSIDriver`` shortcut, which is
one more element of the same list), in the order EKS needs around an upgrade.

* ``default`` and ``latest`` are resolved with DescribeAddonVersions for the cluster's Kubernetes version
  on every pass that reaches this step, so after a control-plane upgrade those add-ons move to a
  compatible version; node groups wait until no managed add-on is UPDATING.
* An explicit version that does not run on the version a control-plane upgrade targets stops the upgrade
  (``upgrade_problem``) before UpdateClusterVersion is sent.
* ``configurationValues`` are checked against DescribeAddonConfiguration's schema before they are sent.
* A managed add-on in CREATE_FAILED is deleted to be created again (EKS refuses to update it); so is the
  shortcut's EBS add-on in DEGRADED, as the operator's CheckEBSAddon decides.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import msgspec

from controlplane.api import Addon, EKSClusterConfigSpec, SyncPolicy, parse_configuration_values
from controlplane.aws import AwsError
from controlplane.sync import ADDONS, SYMBOLIC_ADDON_VERSIONS, keyed_diff

from . import _addon, _plan
from ._context import Pass, ReconcileError, Requeue
from ._observe import Observation

BUSY = frozenset({"CREATING", "UPDATING", "DELETING"})
_VERSION = re.compile(r"\d+")


def _version_key(version: str) -> list[int]:
    return [int(n) for n in _VERSION.findall(version)]


def pick(infos: list[dict[str, Any]], kubernetes: str, which: str) -> str | None:
    """``default`` or ``latest`` of one add-on's DescribeAddonVersions answer, for ``kubernetes``."""
    candidates: list[tuple[str, bool]] = []
    for info in infos:
        for v in info.get("addonVersions") or []:
            for compat in v.get("compatibilities") or []:
                if compat.get("clusterVersion") == kubernetes:
                    candidates.append((str(v.get("addonVersion")), bool(compat.get("defaultVersion"))))
    if which == "default":
        defaults = [v for v, is_default in candidates if is_default]
        if defaults:
            return max(defaults, key=_version_key)
    return max((v for v, _ in candidates), key=_version_key, default=None)


async def _versions(p: Pass, name: str, kubernetes: str) -> list[dict[str, Any]]:
    try:
        return await p.scope.describe_addon_versions(addon_name=name, kubernetes_version=kubernetes)
    except AwsError as exc:
        raise ReconcileError(f"error reading the versions of add-on {name}: {exc}") from exc


async def resolve(p: Pass, addon: Addon, kubernetes: str) -> Addon:
    """``addon`` with a ``default``/``latest`` version replaced by the version it means now."""
    if addon.version not in SYMBOLIC_ADDON_VERSIONS:
        return addon
    version = pick(await _versions(p, addon.name or "", kubernetes), kubernetes, addon.version or "")
    if version is None:
        raise ReconcileError(f"add-on {addon.name} has no version for Kubernetes {kubernetes}")
    return msgspec.structs.replace(addon, version=version)


async def upgrade_problem(p: Pass, desired: EKSClusterConfigSpec, target: str) -> str | None:
    """Why the control plane must not move to ``target``: an add-on pinned to a version that does not run
    there (checked before UpdateClusterVersion is sent)."""
    for addon in desired.addons or []:
        if addon.version is None or addon.version in SYMBOLIC_ADDON_VERSIONS:
            continue
        infos = await _versions(p, addon.name or "", target)
        offered = {str(v.get("addonVersion")) for info in infos for v in info.get("addonVersions") or []}
        if addon.version not in offered:
            return (
                f"add-on {addon.name} version {addon.version} does not run on Kubernetes {target}: the "
                f"upgrade to {target} is stopped; set addons[{addon.name}].version to a version for "
                f"{target}, default or latest"
            )
    return None


async def _check_configuration(p: Pass, addon: Addon, kubernetes: str) -> None:
    values = addon.configuration_values
    if not values:
        return
    if addon.version is None:  # EKS installs the default one: check against its schema
        addon = await resolve(p, msgspec.structs.replace(addon, version="default"), kubernetes)
    try:
        answer = await p.scope.describe_addon_configuration(addon.name or "", addon.version or "")
    except AwsError as exc:
        raise ReconcileError(f"error reading the configuration schema of add-on {addon.name}: {exc}") from exc
    schema = json.loads(answer.get("configurationSchema") or "{}")
    try:
        doc = parse_configuration_values(values)
    except ValueError as exc:
        raise ReconcileError(f"addons[{addon.name}].configurationValues: {exc}") from exc
    validator = jsonschema.validators.validator_for(schema)(schema)
    problems = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if problems:
        details = "; ".join(f"$.{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in problems)
        raise ReconcileError(
            f"addons[{addon.name}].configurationValues do not match the schema of {addon.name} "
            f"{addon.version} (DescribeAddonConfiguration): {details}"
        )


def _associations(addon: Addon) -> list[dict[str, str]] | None:
    if addon.pod_identity_associations is None:
        return None
    return [
        {"serviceAccount": a.service_account or "", "roleArn": a.role_arn or ""}
        for a in addon.pod_identity_associations
    ]


async def _wanted(p: Pass, desired: EKSClusterConfigSpec, obs: Observation) -> list[Addon] | float | None:
    """The managed add-ons: ``addons`` plus the shortcut's EBS CSI driver (None: none managed)."""
    wanted = list(desired.addons) if desired.addons is not None else None
    if desired.ebs_csi_driver and not any(a.name == _plan.EBS_ADDON_NAME for a in wanted or []):
        element = await _addon.ebs_element(p, obs)
        if isinstance(element, float):
            return element
        wanted = [*(wanted or []), element]
    return wanted


async def push(
    p: Pass, desired: EKSClusterConfigSpec, upstream: EKSClusterConfigSpec, obs: Observation
) -> Requeue:
    """Make the managed add-ons what the spec says: 0 when a call was made, a delay to wait (an add-on
    or the EBS role in flight), None when every managed add-on is settled."""
    wanted = await _wanted(p, desired, obs)
    if wanted is None or isinstance(wanted, float):
        return wanted
    raw = {str(a.get("addonName")): a for a in obs.extras.addons or []}
    if obs.ebs_addon is not None:
        raw.setdefault(_plan.EBS_ADDON_NAME, obs.ebs_addon)
    names = {a.name for a in wanted}
    have = upstream.addons or []
    if desired.addons is None:
        # Only the shortcut's add-on is managed (the others are left alone), as this pass read it.
        have = [
            Addon(
                name=name,
                version=raw[name].get("addonVersion"),
                service_account_role_arn=raw[name].get("serviceAccountRoleArn"),
            )
            for name in sorted(n for n in names if n in raw)
        ]
    for name in names:
        status = (raw.get(name or "") or {}).get("status")
        shortcut = name == _plan.EBS_ADDON_NAME and desired.ebs_csi_driver
        if status == "CREATE_FAILED" or (shortcut and status in _addon.ABSENT):
            await p.scope.delete_addon(p.display, name or "")
            p.event("AddonReplacing", f"{name} is {status}: deleting it to create it again", warning=True)
            return p.wait()
    kubernetes = upstream.kubernetes_version or desired.kubernetes_version or ""
    resolved = [await resolve(p, a, kubernetes) for a in wanted]
    d = keyed_diff(ADDONS, policy=SyncPolicy.DESIRED_WINS, desired=resolved, upstream=have)
    busy = {n for n, a in raw.items() if a.get("status") in BUSY and n in names}
    acted = False
    try:
        for addon in d.creates:
            if addon.name in raw:
                continue  # still DELETING (being replaced): created once it is gone
            await _create(p, addon, kubernetes)
            acted = True
        for u in d.updates:
            if u.want.name not in busy:
                await _update(p, u.want, u.have, kubernetes)
                acted = True
        for addon in d.deletes:
            if addon.name not in busy:
                await p.scope.delete_addon(p.display, addon.name or "")
                p.event("AddonDeleting", f"add-on {addon.name} deleted")
                acted = True
    except AwsError as exc:
        if desired.ebs_csi_driver and _plan.EBS_ADDON_NAME in names and not desired.addons:
            raise ReconcileError(
                f"error enabling ebs csi driver addon: failed to install ebs csi driver addon: {exc}"
            ) from exc
        raise ReconcileError(f"error updating add-ons: {exc}") from exc
    if acted:
        return 0
    # Node groups move only once the add-ons stopped updating (after an upgrade, add-ons go first).
    updating = [n for n in busy if raw[n].get("status") == "UPDATING"]
    return p.wait() if updating or (d.mutates and busy) else None


async def _create(p: Pass, addon: Addon, kubernetes: str) -> None:
    await _check_configuration(p, addon, kubernetes)
    intent = f"CreateAddon/{addon.name}"
    await p.scope.create_addon(
        p.display,
        addon.name or "",
        addon_version=addon.version,
        service_account_role_arn=addon.service_account_role_arn,
        resolve_conflicts=addon.resolve_conflicts,
        configuration_values=addon.configuration_values,
        pod_identity_associations=_associations(addon),
        client_request_token=p.token(intent),
    )
    p.sent(intent)
    p.event("AddonCreating", f"{addon.name} requested")


async def _update(p: Pass, want: Addon, have: Addon, kubernetes: str) -> None:
    version = want.version if want.version is not None and want.version != have.version else None
    role = want.service_account_role_arn
    role = role if role is not None and role != have.service_account_role_arn else None
    config = want.configuration_values
    config = config if config is not None and config != (have.configuration_values or "") else None
    associations = (
        _associations(want) if want.pod_identity_associations != have.pod_identity_associations else None
    )
    if version is None and role is None and config is None and associations is None:
        return
    checked = msgspec.structs.replace(want, configuration_values=config, version=want.version or have.version)
    await _check_configuration(p, checked, kubernetes)
    intent = f"UpdateAddon/{want.name}"
    await p.scope.update_addon(
        p.display,
        want.name or "",
        addon_version=version,
        service_account_role_arn=role,
        configuration_values=config,
        pod_identity_associations=associations,
        resolve_conflicts=want.resolve_conflicts,
        client_request_token=p.token(intent),
    )
    p.sent(intent)
    changes = ", ".join(
        k
        for k, v in (
            ("version", version),
            ("role", role),
            ("configuration", config),
            ("pod identity", associations),
        )
        if v is not None
    )
    p.event("AddonUpdating", f"add-on {want.name}: {changes}")
