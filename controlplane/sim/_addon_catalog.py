"""The add-ons the simulated EKS offers: their versions, which Kubernetes versions each supports (and is
the default for), configuration schemas, and the service accounts Pod Identity may serve. Pure data and
the rules over it (DescribeAddonVersions, DescribeAddonConfiguration, and the checks of Create/UpdateAddon).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import jsonschema
import yaml

from . import _errors as err

KUBERNETES = ("1.28", "1.29", "1.30", "1.31", "1.32", "1.33")


class AddonVersion(NamedTuple):
    version: str
    kubernetes: tuple[str, ...]
    """The cluster versions it runs on."""
    default_for: tuple[str, ...]
    """The cluster versions it is the default for."""


class AddonKind(NamedTuple):
    type: str
    namespace: str
    versions: tuple[AddonVersion, ...]
    """Newest first."""
    schema: dict[str, Any]
    service_accounts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(service account, recommended managed policies) Pod Identity may serve."""


def _between(low: str, high: str) -> tuple[str, ...]:
    return KUBERNETES[KUBERNETES.index(low) : KUBERNETES.index(high) + 1]


_OBJECT = {"type": "object"}
_POLICY = "arn:aws:iam::aws:policy/"

CATALOG: dict[str, AddonKind] = {
    "vpc-cni": AddonKind(
        "networking",
        "kube-system",
        (
            AddonVersion("v1.19.5-eksbuild.1", _between("1.29", "1.33"), _between("1.31", "1.33")),
            AddonVersion("v1.19.2-eksbuild.1", KUBERNETES, _between("1.28", "1.30")),
        ),
        {
            "type": "object",
            "properties": {
                "env": {"type": "object", "additionalProperties": {"type": "string"}},
                "enableNetworkPolicy": {"type": "string", "enum": ["true", "false"]},
                "resources": _OBJECT,
            },
            "additionalProperties": False,
        },
        (("aws-node", (_POLICY + "AmazonEKS_CNI_Policy",)),),
    ),
    "coredns": AddonKind(
        "networking",
        "kube-system",
        (
            AddonVersion("v1.11.4-eksbuild.2", _between("1.29", "1.33"), _between("1.29", "1.33")),
            AddonVersion("v1.10.1-eksbuild.18", _between("1.28", "1.29"), ("1.28",)),
        ),
        {
            "type": "object",
            "properties": {
                "replicaCount": {"type": "integer", "minimum": 1},
                "resources": _OBJECT,
                "tolerations": {"type": "array"},
            },
            "additionalProperties": False,
        },
    ),
    "kube-proxy": AddonKind(
        "networking",
        "kube-system",
        tuple(AddonVersion(f"v{k}.0-eksbuild.2", (k,), (k,)) for k in reversed(KUBERNETES)),
        {
            "type": "object",
            "properties": {"resources": _OBJECT, "mode": {"type": "string"}},
            "additionalProperties": False,
        },
    ),
    "aws-ebs-csi-driver": AddonKind(
        "storage",
        "kube-system",
        (
            AddonVersion("v1.41.0-eksbuild.1", KUBERNETES, KUBERNETES),
            AddonVersion("v1.40.1-eksbuild.1", KUBERNETES, ()),
        ),
        {
            "type": "object",
            "properties": {"controller": _OBJECT, "node": _OBJECT},
            "additionalProperties": False,
        },
        (("ebs-csi-controller-sa", (_POLICY + "service-role/AmazonEBSCSIDriverPolicy",)),),
    ),
    "eks-pod-identity-agent": AddonKind(
        "security",
        "kube-system",
        (
            AddonVersion("v1.3.5-eksbuild.2", KUBERNETES, KUBERNETES),
            AddonVersion("v1.3.4-eksbuild.1", KUBERNETES, ()),
        ),
        {"type": "object", "properties": {"agent": _OBJECT}, "additionalProperties": False},
    ),
}


def kind(cluster: str, name: str) -> AddonKind:
    found = CATALOG.get(name)
    if found is None:
        raise err.invalid_parameter(
            f"Addon {name} specified is not supported", clusterName=cluster, addonName=name
        )
    return found


def resolve(cluster: str, name: str, version: str | None, kubernetes: str) -> str:
    """The version to install: the one asked for (it must run on ``kubernetes``), or the default."""
    k = kind(cluster, name)
    if version is None:
        defaults = [v.version for v in k.versions if kubernetes in v.default_for]
        compatible = [v.version for v in k.versions if kubernetes in v.kubernetes]
        if not (defaults or compatible):
            raise err.invalid_parameter(
                f"Addon {name} has no version for Kubernetes {kubernetes}", addonName=name
            )
        return (defaults or compatible)[0]
    for v in k.versions:
        if v.version == version:
            if kubernetes not in v.kubernetes:
                raise err.invalid_parameter(
                    f"Addon version {version} of {name} is not supported on Kubernetes {kubernetes}",
                    clusterName=cluster,
                    addonName=name,
                )
            return version
    raise err.invalid_parameter(f"Addon version {version} specified is not supported", addonName=name)


def check_configuration(name: str, values: str | None) -> None:
    """``configurationValues`` (JSON or YAML) must match the add-on's schema, as EKS checks them."""
    if not values:
        return
    try:
        doc = json.loads(values)
    except ValueError:
        try:
            doc = yaml.safe_load(values)
        except yaml.YAMLError as e:
            raise err.invalid_parameter(
                f"ConfigurationValue provided in request is not supported: could not parse it: {e}",
                addonName=name,
            ) from None
    errors = sorted(
        jsonschema.Draft7Validator(CATALOG[name].schema).iter_errors(doc), key=lambda e: list(e.absolute_path)
    )
    if errors:
        detail = ", ".join(f"$.{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)
        raise err.invalid_parameter(
            "ConfigurationValue provided in request is not supported: Json schema validation failed with "
            f"error: [{detail}]",
            addonName=name,
        )


def check_service_accounts(name: str, accounts: list[str]) -> None:
    allowed = {sa for sa, _ in CATALOG[name].service_accounts}
    for account in accounts:
        if account not in allowed:
            raise err.invalid_parameter(
                f"Service account {account} is not used by addon {name}; Pod Identity can serve: "
                + (", ".join(sorted(allowed)) or "none"),
                addonName=name,
            )


def versions_answer(name: str, kubernetes: str | None) -> dict[str, Any]:
    """One ``AddonInfo`` of DescribeAddonVersions (versions newest first, for ``kubernetes`` if given)."""
    k = CATALOG[name]
    versions = []
    for v in k.versions:
        clusters = [c for c in v.kubernetes if kubernetes is None or c == kubernetes]
        if not clusters:
            continue
        versions.append(
            {
                "addonVersion": v.version,
                "architecture": ["amd64", "arm64"],
                "computeTypes": ["ec2"],
                "compatibilities": [
                    {"clusterVersion": c, "platformVersions": ["*"], "defaultVersion": c in v.default_for}
                    for c in clusters
                ],
                "requiresConfiguration": False,
                "requiresIamPermissions": bool(k.service_accounts),
            }
        )
    return {
        "addonName": name,
        "type": k.type,
        "addonVersions": versions,
        "publisher": "eks",
        "owner": "aws",
        "defaultNamespace": k.namespace,
    }


def configuration_answer(name: str, version: str) -> dict[str, Any]:
    k = CATALOG.get(name)
    if k is None or all(v.version != version for v in k.versions):
        raise err.EksError(
            "ResourceNotFoundException",
            404,
            f"Addon {name} version {version} could not be found",
            addonName=name,
        )
    return {
        "addonName": name,
        "addonVersion": version,
        "configurationSchema": json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", **k.schema}),
        "podIdentityConfiguration": [
            {"serviceAccount": sa, "recommendedManagedPolicies": list(policies)}
            for sa, policies in k.service_accounts
        ],
    }
