"""Manifests used by the component tests."""

from __future__ import annotations

from typing import Any


def nodegroup(name: str, **fields: Any) -> dict[str, Any]:
    ng: dict[str, Any] = {
        "nodegroupName": name,
        "instanceType": "m5.large",
        "diskSize": 20,
        "ec2SshKey": "",
        "resourceTags": {},
        "version": "1.30",
        "minSize": 1,
        "maxSize": 3,
        "desiredSize": 2,
        "gpu": False,
        "subnets": [],
        "tags": {},
        "labels": {},
        "requestSpotInstances": False,
    }
    ng.update(fields)
    return ng


def created(
    name: str, *, nodegroups: list[dict[str, Any]] | None = None, policy: str = "three-way", **fields: Any
) -> dict[str, Any]:
    eks: dict[str, Any] = {
        "displayName": name,
        "region": "us-west-2",
        "amazonCredentialSecret": "default:test",
        "kubernetesVersion": "1.30",
        "publicAccess": True,
        "privateAccess": False,
        "secretsEncryption": False,
        "tags": {},
        "subnets": [],
        "securityGroups": [],
        "loggingTypes": [],
        "publicAccessSources": [],
        "nodeGroups": nodegroups if nodegroups is not None else [nodegroup("ng1")],
    }
    eks.update(fields)
    return {
        "apiVersion": "eks-controlplane.io/v1",
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {"syncPolicy": policy, "eksConfig": eks},
    }


def imported(name: str, policy: str = "three-way", **fields: Any) -> dict[str, Any]:
    eks: dict[str, Any] = {
        "displayName": name,
        "region": "us-west-2",
        "amazonCredentialSecret": "default:test",
        "imported": True,
    }
    eks.update(fields)
    return {
        "apiVersion": "eks-controlplane.io/v1",
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {"syncPolicy": policy, "eksConfig": eks},
    }
