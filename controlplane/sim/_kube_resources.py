"""The simulated Kubernetes API's vocabulary: the resource kinds it serves, its discovery documents,
errors as ``Status`` objects, and equality-based label selectors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

RBAC_GROUP: Final = "rbac.authorization.k8s.io"


# --- API errors ---------------------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, *, kind: str = "", name: str = "") -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.kind, self.name = code, reason, message, kind, name

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.kind or self.name:
            details: dict[str, Any] = {"name": self.name, "kind": self.kind}
            body["details"] = details
        return body


def not_found(resource: Resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{resource.plural} "{name}" not found', kind=resource.plural, name=name)


# --- resources ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    plural: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = ("create", "delete", "get", "list", "update")

    @property
    def api_version(self) -> str:
        return f"{self.group}/v1" if self.group else "v1"


RESOURCES: Final = {
    (r.group, r.plural): r
    for r in (
        Resource("", "namespaces", "Namespace", namespaced=False),
        Resource("", "serviceaccounts", "ServiceAccount", namespaced=True),
        Resource("", "secrets", "Secret", namespaced=True),
        Resource("", "configmaps", "ConfigMap", namespaced=True),
        Resource(RBAC_GROUP, "clusterroles", "ClusterRole", namespaced=False),
        Resource(RBAC_GROUP, "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
        Resource(RBAC_GROUP, "roles", "Role", namespaced=True),
        Resource(RBAC_GROUP, "rolebindings", "RoleBinding", namespaced=True),
    )
}
NAMESPACES: Final = RESOURCES[("", "namespaces")]
SERVICE_ACCOUNTS: Final = RESOURCES[("", "serviceaccounts")]
SECRETS: Final = RESOURCES[("", "secrets")]
CLUSTER_ROLES: Final = RESOURCES[(RBAC_GROUP, "clusterroles")]

Key = tuple[str, str, str]  # (plural, namespace or "", name)
RESOURCES_BY_PLURAL: Final = {r.plural: r for r in RESOURCES.values()}


def group_list() -> dict[str, Any]:
    groups = sorted({g for g, _ in RESOURCES if g})
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"},
            }
            for g in groups
        ],
    }


def resource_list(group: str) -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/v1" if group else "v1",
        "resources": [
            {
                "name": r.plural,
                "singularName": r.kind.lower(),
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": list(r.verbs),
            }
            for (g, _), r in sorted(RESOURCES.items())
            if g == group
        ],
    }


# --- label selectors ------------------------------------------------------------------------------------


def parse_label_selector(selector: str) -> list[tuple[str, str, str]]:
    """Equality-based selectors (``a=b``, ``a==b``, ``a!=b``, ``a``, ``!a``), comma-separated."""
    terms: list[tuple[str, str, str]] = []
    for raw in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in raw:
            k, v = raw.split("!=", 1)
            terms.append(("!=", k.strip(), v.strip()))
        elif "==" in raw:
            k, v = raw.split("==", 1)
            terms.append(("=", k.strip(), v.strip()))
        elif "=" in raw:
            k, v = raw.split("=", 1)
            terms.append(("=", k.strip(), v.strip()))
        elif raw.startswith("!"):
            terms.append(("!", raw[1:].strip(), ""))
        elif " " in raw or "(" in raw:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {raw}")
        else:
            terms.append(("exists", raw, ""))
    return terms


def labels_match(labels: dict[str, str], terms: list[tuple[str, str, str]]) -> bool:
    for op, key, value in terms:
        if (
            (op == "=" and labels.get(key) != value)
            or (op == "!=" and labels.get(key) == value)
            or (op == "exists" and key not in labels)
            or (op == "!" and key in labels)
        ):
            return False
    return True
