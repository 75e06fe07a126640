"""Add-ons: CreateAddon, DescribeAddon, DeleteAddon, ListAddons, UpdateAddon, DescribeAddonVersions and
DescribeAddonConfiguration.

The catalog (``_addon_catalog``) decides which versions run on which Kubernetes version, the default one,
and the configuration schema values are checked against. An add-on's Pod Identity associations are made
with it, replaced by its updates and removed with it.
"""

from __future__ import annotations

import uuid

from . import _addon_catalog as catalog
from . import _errors as err
from ._backend import EksBackend, Resource, settle, start_deleting
from ._model import AddonRec, ClusterRec, UpdateRec, render_addon
from ._pod_identity import add_association, find, remove_owned
from ._rules import check_role, check_tags
from ._shapes import AddonPodIdentityIn, CreateAddonIn, UpdateAddonIn
from ._updates import Plan, in_progress, request_update
from ._wire import Json, decode, page_answer, paginate

ADDON_CATALOG = catalog.CATALOG
_UPDATABLE = ("ACTIVE", "DEGRADED", "UPDATE_FAILED")


def _associate(b: EksBackend, c: ClusterRec, a: AddonRec, pairs: list[tuple[str, str]]) -> None:
    """Make ``a`` own exactly ``pairs`` of (service account, role) in its namespace."""
    remove_owned(b, c, a.arn)
    namespace = ADDON_CATALOG[a.name].namespace
    a.pod_identity_associations = [
        add_association(b, c, namespace, account, role, owner=a.arn).arn for account, role in pairs
    ]


def _pairs(name: str, given: list[AddonPodIdentityIn] | None) -> list[tuple[str, str]] | None:
    if given is None:
        return None
    accounts = [p.serviceAccount for p in given]
    if len(set(accounts)) != len(accounts):
        raise err.invalid_parameter(
            "A service account can have one Pod Identity association.", addonName=name
        )
    catalog.check_service_accounts(name, accounts)
    for p in given:
        check_role("roleArn", p.roleArn)
    return [(p.serviceAccount, p.roleArn) for p in given]


def create_addon(b: EksBackend, region: str, cluster: str, req: CreateAddonIn) -> Json:
    c = b.cluster(region, cluster)
    existing = c.addons.get(req.addonName)
    if existing is not None:
        if req.clientRequestToken is not None and existing.token == req.clientRequestToken:
            return {"addon": render_addon(c.name, existing)}
        raise err.in_use("Addon already exists.", clusterName=cluster, addonName=req.addonName)
    version = catalog.resolve(cluster, req.addonName, req.addonVersion, c.version)
    if c.status not in ("ACTIVE", "UPDATING"):
        raise err.invalid_request(f"Cluster '{cluster}' is not in ACTIVE status", clusterName=cluster)
    catalog.check_configuration(req.addonName, req.configurationValues)
    pairs = _pairs(req.addonName, req.podIdentityAssociations) or []
    if req.serviceAccountRoleArn is not None:
        check_role("serviceAccountRoleArn", req.serviceAccountRoleArn)
    tags = dict(req.tags or {})
    check_tags(tags)
    namespace = ADDON_CATALOG[req.addonName].namespace
    for account, _ in pairs:
        taken = find(c, namespace, account)
        if taken is not None:
            raise err.in_use(
                f"Association already exists: {taken.arn}", clusterName=cluster, addonName=req.addonName
            )
    now = b.wall()
    a = AddonRec(
        name=req.addonName,
        arn=b.arn(region, f"addon/{cluster}/{req.addonName}/{uuid.uuid4()}"),
        status="CREATING",
        version=version,
        created_at=now,
        modified_at=now,
        service_account_role_arn=req.serviceAccountRoleArn,
        configuration_values=req.configurationValues,
        tags=tags,
        token=req.clientRequestToken,
    )
    c.addons[a.name] = a
    _associate(b, c, a, pairs)
    b.schedule("addon", c, a, b.settings.addon_create_seconds)
    b.generation += 1
    return {"addon": render_addon(c.name, a)}


def _addon(c: ClusterRec, name: str) -> AddonRec:
    a = c.addons.get(name)
    if a is None:
        raise err.addon_not_found(c.name, name)
    return a


def describe_addon(b: EksBackend, region: str, cluster: str, name: str) -> Json:
    c = b.cluster(region, cluster)
    return {"addon": render_addon(c.name, _addon(c, name))}


def delete_addon(b: EksBackend, region: str, cluster: str, name: str) -> Json:
    c = b.cluster(region, cluster)
    a = _addon(c, name)
    if a.status != "DELETING":
        start_deleting(b, "addon", c, a, b.settings.addon_delete_seconds)
    return {"addon": render_addon(c.name, a)}


def list_addons(b: EksBackend, region: str, cluster: str, max_results: int | None, token: str | None) -> Json:
    c = b.cluster(region, cluster)
    return page_answer("addons", sorted(c.addons), max_results, token)


def update_addon(b: EksBackend, region: str, cluster: str, name: str, req: UpdateAddonIn) -> Json:
    c = b.cluster(region, cluster)
    a = _addon(c, name)

    def plan() -> Plan:
        if a.status not in _UPDATABLE:
            raise err.in_use(
                f"Addon {name} is currently {a.status}; the update requires ACTIVE.",
                clusterName=cluster,
                addonName=name,
            )
        p = Plan()
        version = a.version
        if req.addonVersion is not None:
            version = catalog.resolve(cluster, name, req.addonVersion, c.version)
            p.set("version", "AddonVersion", version)
        if req.serviceAccountRoleArn is not None:
            check_role("serviceAccountRoleArn", req.serviceAccountRoleArn)
            p.set("role", "ServiceAccountRoleArn", req.serviceAccountRoleArn)
        if req.configurationValues is not None:
            catalog.check_configuration(name, req.configurationValues)
            p.set("configuration", "ConfigurationValues", req.configurationValues)
        pairs = _pairs(name, req.podIdentityAssociations)
        if pairs is not None:
            p.changes["associations"] = pairs
            p.show("PodIdentityAssociations", [f"{sa}={role}" for sa, role in pairs])
        if req.resolveConflicts is not None:
            p.show("ResolveConflicts", req.resolveConflicts)
        return p

    return request_update(b, c, "AddonUpdate", req.clientRequestToken, plan, addon=a)


def describe_addon_versions(
    b: EksBackend, k8s_version: str | None, addon: str | None, max_results: int | None, token: str | None
) -> Json:
    names = sorted(n for n in ADDON_CATALOG if addon is None or n == addon)
    page, nxt = paginate(names, max_results, token)
    out: Json = {"addons": [catalog.versions_answer(n, k8s_version) for n in page]}
    if nxt:
        out["nextToken"] = nxt
    return out


def _addon_due(b: EksBackend, c: ClusterRec, a: AddonRec) -> None:
    if a.status == "DELETING":
        remove_owned(b, c, a.arn)
    settle(b, c.addons, a)
    b.touch(c)


def _apply_addon_update(b: EksBackend, c: ClusterRec, u: UpdateRec) -> None:
    a = c.addons.get(u.addon or "")
    if a is None:
        return
    ch = u.changes
    if "version" in ch:
        a.version = ch["version"]
    if "role" in ch:
        a.service_account_role_arn = ch["role"]
    if "configuration" in ch:
        a.configuration_values = ch["configuration"] or None
    if "associations" in ch:
        _associate(b, c, a, [(sa, role) for sa, role in ch["associations"]])
    a.modified_at = b.wall()
    if a.status == "UPDATING" and in_progress(c, addon=a.name) is None:
        a.status = "ACTIVE"


RESOURCE = Resource(
    routes={
        ("POST", ("clusters", "*", "addons")): (
            "CreateAddon",
            lambda b, r, s, q, body: create_addon(b, r, s[1], decode(body, CreateAddonIn)),
        ),
        ("GET", ("clusters", "*", "addons")): (
            "ListAddons",
            lambda b, r, s, q, body: list_addons(b, r, s[1], q.int("maxResults"), q.get("nextToken")),
        ),
        ("GET", ("clusters", "*", "addons", "*")): (
            "DescribeAddon",
            lambda b, r, s, q, body: describe_addon(b, r, s[1], s[3]),
        ),
        ("DELETE", ("clusters", "*", "addons", "*")): (
            "DeleteAddon",
            lambda b, r, s, q, body: delete_addon(b, r, s[1], s[3]),
        ),
        ("POST", ("clusters", "*", "addons", "*", "update")): (
            "UpdateAddon",
            lambda b, r, s, q, body: update_addon(b, r, s[1], s[3], decode(body, UpdateAddonIn)),
        ),
        ("GET", ("addons", "supported-versions")): (
            "DescribeAddonVersions",
            lambda b, r, s, q, body: describe_addon_versions(
                b, q.get("kubernetesVersion"), q.get("addonName"), q.int("maxResults"), q.get("nextToken")
            ),
        ),
        ("GET", ("addons", "configuration-schemas")): (
            "DescribeAddonConfiguration",
            lambda b, r, s, q, body: catalog.configuration_answer(
                q.get("addonName") or "", q.get("addonVersion") or ""
            ),
        ),
    },
    kind="addon",
    records=lambda c: c.addons.values(),
    on_due=_addon_due,
    apply_update=_apply_addon_update,
    tagged=True,
)
