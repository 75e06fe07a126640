"""EKS helpers. Each returns the object under the response's top-level key (``cluster``,
``nodegroup``, ``update``, ``addon``...) as botocore parsed it, or a list for ``list_*``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._base import CallsBase, params


class EksCalls(CallsBase):
    __slots__ = ()

    # --- clusters ---------------------------------------------------------------------------------
    async def create_cluster(
        self,
        name: str,
        role_arn: str,
        resources_vpc_config: Mapping[str, Any],
        *,
        version: str | None = None,
        kubernetes_network_config: Mapping[str, Any] | None = None,
        logging: Mapping[str, Any] | None = None,
        encryption_config: Sequence[Mapping[str, Any]] | None = None,
        tags: Mapping[str, str] | None = None,
        access_config: Mapping[str, Any] | None = None,
        upgrade_policy: Mapping[str, str] | None = None,
        deletion_protection: bool | None = None,
        client_request_token: str | None = None,
    ) -> dict[str, Any]:
        """EKS CreateCluster; returns ``cluster``."""
        response = await self._call(
            "eks",
            "CreateCluster",
            params(
                name=name,
                roleArn=role_arn,
                resourcesVpcConfig=dict(resources_vpc_config),
                version=version,
                kubernetesNetworkConfig=kubernetes_network_config,
                logging=logging,
                encryptionConfig=encryption_config,
                tags=tags or None,
                accessConfig=access_config,
                upgradePolicy=upgrade_policy,
                deletionProtection=deletion_protection,
                clientRequestToken=client_request_token,
            ),
        )
        return response["cluster"]  # type: ignore[no-any-return]

    async def describe_cluster(self, name: str) -> dict[str, Any]:
        """EKS DescribeCluster; returns ``cluster``."""
        response = await self._call("eks", "DescribeCluster", {"name": name})
        return response["cluster"]  # type: ignore[no-any-return]

    async def list_clusters(self) -> list[str]:
        """EKS ListClusters, every page."""
        return await self._paginate("eks", "ListClusters", {}, "clusters")

    async def delete_cluster(self, name: str) -> dict[str, Any]:
        """EKS DeleteCluster; returns ``cluster`` (status DELETING)."""
        response = await self._call("eks", "DeleteCluster", {"name": name})
        return response.get("cluster") or {}

    async def update_cluster_version(
        self, name: str, version: str, *, client_request_token: str | None = None
    ) -> dict[str, Any]:
        """EKS UpdateClusterVersion; returns ``update``."""
        response = await self._call(
            "eks",
            "UpdateClusterVersion",
            params(name=name, version=version, clientRequestToken=client_request_token),
        )
        return response.get("update") or {}

    async def update_cluster_config(
        self,
        name: str,
        *,
        resources_vpc_config: Mapping[str, Any] | None = None,
        logging: Mapping[str, Any] | None = None,
        access_config: Mapping[str, Any] | None = None,
        upgrade_policy: Mapping[str, str] | None = None,
        deletion_protection: bool | None = None,
        client_request_token: str | None = None,
    ) -> dict[str, Any]:
        """EKS UpdateClusterConfig (endpoint access, public CIDRs, logging, authentication mode, upgrade
        policy, deletion protection: one kind per call); returns ``update``
        (``{}`` when the service sent none, as moto does)."""
        response = await self._call(
            "eks",
            "UpdateClusterConfig",
            params(
                name=name,
                resourcesVpcConfig=resources_vpc_config,
                logging=logging,
                accessConfig=access_config,
                upgradePolicy=upgrade_policy,
                deletionProtection=deletion_protection,
                clientRequestToken=client_request_token,
            ),
        )
        return response.get("update") or {}

    async def list_updates(
        self, name: str, *, nodegroup_name: str | None = None, addon_name: str | None = None
    ) -> list[str]:
        """EKS ListUpdates, every page: update IDs of the cluster (or of one node group / add-on)."""
        return await self._paginate(
            "eks",
            "ListUpdates",
            params(name=name, nodegroupName=nodegroup_name, addonName=addon_name),
            "updateIds",
        )

    async def describe_update(
        self,
        name: str,
        update_id: str,
        *,
        nodegroup_name: str | None = None,
        addon_name: str | None = None,
    ) -> dict[str, Any]:
        """EKS DescribeUpdate; returns ``update``."""
        response = await self._call(
            "eks",
            "DescribeUpdate",
            params(name=name, updateId=update_id, nodegroupName=nodegroup_name, addonName=addon_name),
        )
        return response["update"]  # type: ignore[no-any-return]

    # --- node groups ------------------------------------------------------------------------------
    async def create_nodegroup(
        self,
        cluster_name: str,
        nodegroup_name: str,
        node_role: str,
        subnets: Sequence[str],
        *,
        scaling_config: Mapping[str, int] | None = None,
        labels: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        launch_template: Mapping[str, str] | None = None,
        instance_types: Sequence[str] | None = None,
        ami_type: str | None = None,
        capacity_type: str | None = None,
        disk_size: int | None = None,
        version: str | None = None,
        taints: Sequence[Mapping[str, str]] | None = None,
        update_config: Mapping[str, int] | None = None,
        client_request_token: str | None = None,
    ) -> dict[str, Any]:
        """EKS CreateNodegroup; returns ``nodegroup``."""
        response = await self._call(
            "eks",
            "CreateNodegroup",
            params(
                clusterName=cluster_name,
                nodegroupName=nodegroup_name,
                nodeRole=node_role,
                subnets=list(subnets),
                scalingConfig=scaling_config,
                labels=labels,
                tags=tags or None,
                launchTemplate=launch_template,
                instanceTypes=instance_types,
                amiType=ami_type,
                capacityType=capacity_type,
                diskSize=disk_size,
                version=version,
                taints=[dict(t) for t in taints] if taints else None,
                updateConfig=update_config,
                clientRequestToken=client_request_token,
            ),
        )
        return response["nodegroup"]  # type: ignore[no-any-return]

    async def describe_nodegroup(self, cluster_name: str, nodegroup_name: str) -> dict[str, Any]:
        """EKS DescribeNodegroup; returns ``nodegroup``."""
        response = await self._call(
            "eks", "DescribeNodegroup", {"clusterName": cluster_name, "nodegroupName": nodegroup_name}
        )
        return response["nodegroup"]  # type: ignore[no-any-return]

    async def list_nodegroups(self, cluster_name: str) -> list[str]:
        """EKS ListNodegroups, every page (the operator read only the first 100)."""
        return await self._paginate("eks", "ListNodegroups", {"clusterName": cluster_name}, "nodegroups")

    async def delete_nodegroup(self, cluster_name: str, nodegroup_name: str) -> dict[str, Any]:
        """EKS DeleteNodegroup; returns ``nodegroup``."""
        response = await self._call(
            "eks", "DeleteNodegroup", {"clusterName": cluster_name, "nodegroupName": nodegroup_name}
        )
        return response.get("nodegroup") or {}

    async def update_nodegroup_config(
        self,
        cluster_name: str,
        nodegroup_name: str,
        *,
        labels: Mapping[str, Any] | None = None,
        scaling_config: Mapping[str, int] | None = None,
        taints: Mapping[str, Any] | None = None,
        update_config: Mapping[str, int] | None = None,
        client_request_token: str | None = None,
    ) -> dict[str, Any]:
        """EKS UpdateNodegroupConfig (``labels={"addOrUpdateLabels":..., "removeLabels":...}``,
        scaling...); returns ``update``."""
        response = await self._call(
            "eks",
            "UpdateNodegroupConfig",
            params(
                clusterName=cluster_name,
                nodegroupName=nodegroup_name,
                labels=labels,
                scalingConfig=scaling_config,
                taints=taints,
                updateConfig=update_config,
                clientRequestToken=client_request_token,
            ),
        )
        return response.get("update") or {}

    async def update_nodegroup_version(
        self,
        cluster_name: str,
        nodegroup_name: str,
        *,
        version: str | None = None,
        release_version: str | None = None,
        launch_template: Mapping[str, str] | None = None,
        force: bool | None = None,
        client_request_token: str | None = None,
    ) -> dict[str, Any]:
        """EKS UpdateNodegroupVersion (Kubernetes and/or launch template version); returns ``update``."""
        response = await self._call(
            "eks",
            "UpdateNodegroupVersion",
            params(
                clusterName=cluster_name,
                nodegroupName=nodegroup_name,
                version=version,
                releaseVersion=release_version,
                launchTemplate=launch_template,
                force=force,
                clientRequestToken=client_request_token,
            ),
        )
        return response.get("update") or {}

    # --- tags -------------------------------------------------------------------------------------
    async def tag_resource(self, resource_arn: str, tags: Mapping[str, str]) -> None:
        """EKS TagResource (cluster or node group ARN)."""
        await self._call("eks", "TagResource", {"resourceArn": resource_arn, "tags": dict(tags)})

    async def untag_resource(self, resource_arn: str, tag_keys: Sequence[str]) -> None:
        """EKS UntagResource."""
        await self._call("eks", "UntagResource", {"resourceArn": resource_arn, "tagKeys": list(tag_keys)})

    # --- add-ons ----------------------------------------------------------------------------------
    async def create_addon(
        self,
        cluster_name: str,
        addon_name: str,
        *,
        addon_version: str | None = None,
        service_account_role_arn: str | None = None,
        resolve_conflicts: str | None = None,
        tags: Mapping[str, str] | None = None,
        configuration_values: str | None = None,
        pod_identity_associations: Sequence[Mapping[str, str]] | None = None,
        client_request_token: str | None = None,
    ) -> dict[str, Any]:
        """EKS CreateAddon; returns ``addon``."""
        response = await self._call(
            "eks",
            "CreateAddon",
            params(
                clusterName=cluster_name,
                addonName=addon_name,
                addonVersion=addon_version,
                serviceAccountRoleArn=service_account_role_arn,
                resolveConflicts=resolve_conflicts,
                tags=tags or None,
                configurationValues=configuration_values,
                podIdentityAssociations=(
                    [dict(a) for a in pod_identity_associations] if pod_identity_associations else None
                ),
                clientRequestToken=client_request_token,
            ),
        )
        return response["addon"]  # type: ignore[no-any-return]

    async def describe_addon(self, cluster_name: str, addon_name: str) -> dict[str, Any]:
        """EKS DescribeAddon; returns ``addon``."""
        response = await self._call(
            "eks", "DescribeAddon", {"clusterName": cluster_name, "addonName": addon_name}
        )
        return response["addon"]  # type: ignore[no-any-return]

    async def list_addons(self, cluster_name: str) -> list[str]:
        """EKS ListAddons, every page."""
        return await self._paginate("eks", "ListAddons", {"clusterName": cluster_name}, "addons")

    async def describe_addon_versions(
        self, *, addon_name: str | None = None, kubernetes_version: str | None = None
    ) -> list[dict[str, Any]]:
        """EKS DescribeAddonVersions, every page; returns the ``addons`` entries."""
        return await self._paginate(
            "eks",
            "DescribeAddonVersions",
            params(addonName=addon_name, kubernetesVersion=kubernetes_version),
            "addons",
        )

    async def delete_addon(
        self, cluster_name: str, addon_name: str, *, preserve: bool = False
    ) -> dict[str, Any]:
        """EKS DeleteAddon; returns ``addon``."""
        response = await self._call(
            "eks",
            "DeleteAddon",
            {"clusterName": cluster_name, "addonName": addon_name, "preserve": preserve},
        )
        return response.get("addon") or {}
