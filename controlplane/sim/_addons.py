"""Add-ons: CreateAddon, DescribeAddon, DeleteAddon, ListAddons, DescribeAddonVersions."""

from __future__ import annotations

import uuid

from . import _errors as err
from ._backend import EksBackend, Resource, settle, start_deleting
from ._model import AddonRec, ClusterRec, render_addon
from ._rules import check_tags
from ._shapes import CreateAddonIn
from ._wire import Json, decode, page_answer, paginate

ADDON_CATALOG: dict[str, tuple[str, str]] = {
    # name -> (type, version); one version compatible with every supported Kubernetes version.
    "vpc-cni": ("networking", "v1.19.2-eksbuild.1"),
    "coredns": ("networking", "v1.11.4-eksbuild.2"),
    "kube-proxy": ("networking", "v1.32.0-eksbuild.2"),
    "aws-ebs-csi-driver": ("storage", "v1.41.0-eksbuild.1"),
}


def create_addon(b: EksBackend, region: str, cluster: str, req: CreateAddonIn) -> Json:
    c = b.cluster(region, cluster)
    existing = c.addons.get(req.addonName)
    if existing is not None:
        if req.clientRequestToken is not None and existing.token == req.clientRequestToken:
            return {"addon": render_addon(c.name, existing)}
        raise err.in_use("Addon already exists.", clusterName=cluster, addonName=req.addonName)
    catalog = ADDON_CATALOG.get(req.addonName)
    if catalog is None:
        raise err.invalid_parameter(
            f"Addon {req.addonName} specified is not supported",
            clusterName=cluster,
            addonName=req.addonName,
        )
    if req.addonVersion is not None and req.addonVersion != catalog[1]:
        raise err.invalid_parameter(
            f"Addon version {req.addonVersion} specified is not supported", addonName=req.addonName
        )
    if c.status not in ("ACTIVE", "UPDATING"):
        raise err.invalid_request(f"Cluster '{cluster}' is not in ACTIVE status", clusterName=cluster)
    tags = dict(req.tags or {})
    check_tags(tags)
    now = b.wall()
    a = AddonRec(
        name=req.addonName,
        arn=b.arn(region, f"addon/{cluster}/{req.addonName}/{uuid.uuid4()}"),
        status="CREATING",
        version=catalog[1],
        created_at=now,
        modified_at=now,
        service_account_role_arn=req.serviceAccountRoleArn,
        configuration_values=req.configurationValues,
        tags=tags,
        token=req.clientRequestToken,
    )
    c.addons[a.name] = a
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


def describe_addon_versions(
    b: EksBackend, k8s_version: str | None, addon: str | None, max_results: int | None, token: str | None
) -> Json:
    versions = list(b.settings.kubernetes_versions)
    if k8s_version is not None:
        versions = [v for v in versions if v == k8s_version]
    names = sorted(n for n in ADDON_CATALOG if addon is None or n == addon)
    page, nxt = paginate(names, max_results, token)
    addons = []
    for n in page:
        kind, ver = ADDON_CATALOG[n]
        addons.append(
            {
                "addonName": n,
                "type": kind,
                "addonVersions": [
                    {
                        "addonVersion": ver,
                        "architecture": ["amd64", "arm64"],
                        "computeTypes": ["ec2"],
                        "compatibilities": [
                            {"clusterVersion": v, "platformVersions": ["*"], "defaultVersion": True}
                            for v in versions
                        ],
                        "requiresConfiguration": False,
                        "requiresIamPermissions": n == "aws-ebs-csi-driver",
                    }
                ],
                "publisher": "eks",
                "owner": "aws",
            }
        )
    out: Json = {"addons": addons}
    if nxt:
        out["nextToken"] = nxt
    return out


def _addon_due(b: EksBackend, c: ClusterRec, a: AddonRec) -> None:
    settle(b, c.addons, a)


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
        ("GET", ("addons", "supported-versions")): (
            "DescribeAddonVersions",
            lambda b, r, s, q, body: describe_addon_versions(
                b, q.get("kubernetesVersion"), q.get("addonName"), q.int("maxResults"), q.get("nextToken")
            ),
        ),
    },
    kind="addon",
    records=lambda c: c.addons.values(),
    on_due=_addon_due,
    tagged=True,
)
