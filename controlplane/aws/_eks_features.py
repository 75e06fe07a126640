"""EKS helpers beyond Rancher's: access entries and policies, Pod Identity associations, add-on updates
and configuration schemas, Fargate profiles and Kubernetes version support. Each returns the object under
the response's top-level key as botocore parsed it, or a list for ``list_*``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._base import CallsBase, params


class EksFeatureCalls(CallsBase):
    __slots__ = ()

    # --- access entries ---------------------------------------------------------------------------
    async def list_access_entries(self, cluster_name: str) -> list[str]:
        """EKS ListAccessEntries, every page: the principal ARNs."""
        return await self._paginate(
            "eks", "ListAccessEntries", {"clusterName": cluster_name}, "accessEntries"
        )

    async def describe_access_entry(self, cluster_name: str, principal_arn: str) -> dict[str, Any]:
        """EKS DescribeAccessEntry; returns ``accessEntry``."""
        response = await self._call(
            "eks", "DescribeAccessEntry", {"clusterName": cluster_name, "principalArn": principal_arn}
        )
        return response["accessEntry"]  # type: ignore[no-any-return]

    async def list_associated_access_policies(
        self, cluster_name: str, principal_arn: str
    ) -> list[dict[str, Any]]:
        """EKS ListAssociatedAccessPolicies, every page: the ``associatedAccessPolicies``."""
        return await self._paginate(
            "eks",
            "ListAssociatedAccessPolicies",
            {"clusterName": cluster_name, "principalArn": principal_arn},
            "associatedAccessPolicies",
        )

    async def create_access_entry(
        self,
        cluster_name: str,
        principal_arn: str,
        *,
        type_: str | None = None,
        kubernetes_groups: Sequence[str] | None = None,
        username: str | None = None,
        tags: Mapping[str, str] | None = None,
        client_request_token: str | None = None,
    ) -> dict[str, Any]:
        """EKS CreateAccessEntry; returns ``accessEntry``."""
        response = await self._call(
            "eks",
            "CreateAccessEntry",
            params(
                clusterName=cluster_name,
                principalArn=principal_arn,
                type=type_,
                kubernetesGroups=list(kubernetes_groups) if kubernetes_groups is not None else None,
                username=username,
                tags=dict(tags) if tags else None,
                clientRequestToken=client_request_token,
            ),
        )
        return response["accessEntry"]  # type: ignore[no-any-return]

    async def update_access_entry(
        self,
        cluster_name: str,
        principal_arn: str,
        *,
        kubernetes_groups: Sequence[str] | None = None,
        username: str | None = None,
        client_request_token: str | None = None,
    ) -> dict[str, Any]:
        """EKS UpdateAccessEntry (groups, username); returns ``accessEntry``."""
        response = await self._call(
            "eks",
            "UpdateAccessEntry",
            params(
                clusterName=cluster_name,
                principalArn=principal_arn,
                kubernetesGroups=list(kubernetes_groups) if kubernetes_groups is not None else None,
                username=username,
                clientRequestToken=client_request_token,
            ),
        )
        return response["accessEntry"]  # type: ignore[no-any-return]

    async def delete_access_entry(self, cluster_name: str, principal_arn: str) -> None:
        """EKS DeleteAccessEntry."""
        await self._call(
            "eks", "DeleteAccessEntry", {"clusterName": cluster_name, "principalArn": principal_arn}
        )

    async def associate_access_policy(
        self, cluster_name: str, principal_arn: str, policy_arn: str, access_scope: Mapping[str, Any]
    ) -> dict[str, Any]:
        """EKS AssociateAccessPolicy (also replaces the scope of an associated policy);
        returns ``associatedAccessPolicy``."""
        response = await self._call(
            "eks",
            "AssociateAccessPolicy",
            {
                "clusterName": cluster_name,
                "principalArn": principal_arn,
                "policyArn": policy_arn,
                "accessScope": dict(access_scope),
            },
        )
        return response["associatedAccessPolicy"]  # type: ignore[no-any-return]

    async def disassociate_access_policy(
        self, cluster_name: str, principal_arn: str, policy_arn: str
    ) -> None:
        """EKS DisassociateAccessPolicy."""
        await self._call(
            "eks",
            "DisassociateAccessPolicy",
            {"clusterName": cluster_name, "principalArn": principal_arn, "policyArn": policy_arn},
        )

    # --- Pod Identity -----------------------------------------------------------------------------
    async def list_pod_identity_associations(self, cluster_name: str) -> list[dict[str, Any]]:
        """EKS ListPodIdentityAssociations, every page: the association summaries."""
        return await self._paginate(
            "eks", "ListPodIdentityAssociations", {"clusterName": cluster_name}, "associations"
        )

    async def describe_pod_identity_association(
        self, cluster_name: str, association_id: str
    ) -> dict[str, Any]:
        """EKS DescribePodIdentityAssociation; returns ``association``."""
        response = await self._call(
            "eks",
            "DescribePodIdentityAssociation",
            {"clusterName": cluster_name, "associationId": association_id},
        )
        return response["association"]  # type: ignore[no-any-return]

    async def create_pod_identity_association(
        self,
        cluster_name: str,
        namespace: str,
        service_account: str,
        role_arn: str,
        *,
        tags: Mapping[str, str] | None = None,
        client_request_token: str | None = None,
    ) -> dict[str, Any]:
        """EKS CreatePodIdentityAssociation; returns ``association``."""
        response = await self._call(
            "eks",
            "CreatePodIdentityAssociation",
            params(
                clusterName=cluster_name,
                namespace=namespace,
                serviceAccount=service_account,
                roleArn=role_arn,
                tags=dict(tags) if tags else None,
                clientRequestToken=client_request_token,
            ),
        )
        return response["association"]  # type: ignore[no-any-return]

    async def update_pod_identity_association(
        self,
        cluster_name: str,
        association_id: str,
        *,
        role_arn: str,
        client_request_token: str | None = None,
    ) -> dict[str, Any]:
        """EKS UpdatePodIdentityAssociation (the role); returns ``association``."""
        response = await self._call(
            "eks",
            "UpdatePodIdentityAssociation",
            params(
                clusterName=cluster_name,
                associationId=association_id,
                roleArn=role_arn,
                clientRequestToken=client_request_token,
            ),
        )
        return response["association"]  # type: ignore[no-any-return]

    async def delete_pod_identity_association(self, cluster_name: str, association_id: str) -> None:
        """EKS DeletePodIdentityAssociation."""
        await self._call(
            "eks",
            "DeletePodIdentityAssociation",
            {"clusterName": cluster_name, "associationId": association_id},
        )

    # --- add-ons ----------------------------------------------------------------------------------
    async def update_addon(
        self,
        cluster_name: str,
        addon_name: str,
        *,
        addon_version: str | None = None,
        service_account_role_arn: str | None = None,
        configuration_values: str | None = None,
        pod_identity_associations: Sequence[Mapping[str, str]] | None = None,
        resolve_conflicts: str | None = None,
        client_request_token: str | None = None,
    ) -> dict[str, Any]:
        """EKS UpdateAddon; returns ``update``."""
        response = await self._call(
            "eks",
            "UpdateAddon",
            params(
                clusterName=cluster_name,
                addonName=addon_name,
                addonVersion=addon_version,
                serviceAccountRoleArn=service_account_role_arn,
                configurationValues=configuration_values,
                podIdentityAssociations=(
                    [dict(a) for a in pod_identity_associations]
                    if pod_identity_associations is not None
                    else None
                ),
                resolveConflicts=resolve_conflicts,
                clientRequestToken=client_request_token,
            ),
        )
        return response.get("update") or {}

    async def describe_addon_configuration(self, addon_name: str, addon_version: str) -> dict[str, Any]:
        """EKS DescribeAddonConfiguration; returns the whole answer (``configurationSchema``...)."""
        response = await self._call(
            "eks", "DescribeAddonConfiguration", {"addonName": addon_name, "addonVersion": addon_version}
        )
        return {k: v for k, v in response.items() if k != "ResponseMetadata"}

    # --- Fargate profiles -------------------------------------------------------------------------
    async def list_fargate_profiles(self, cluster_name: str) -> list[str]:
        """EKS ListFargateProfiles, every page: the profile names."""
        return await self._paginate(
            "eks", "ListFargateProfiles", {"clusterName": cluster_name}, "fargateProfileNames"
        )

    async def describe_fargate_profile(self, cluster_name: str, name: str) -> dict[str, Any]:
        """EKS DescribeFargateProfile; returns ``fargateProfile``."""
        response = await self._call(
            "eks", "DescribeFargateProfile", {"clusterName": cluster_name, "fargateProfileName": name}
        )
        return response["fargateProfile"]  # type: ignore[no-any-return]

    async def create_fargate_profile(
        self,
        cluster_name: str,
        name: str,
        pod_execution_role_arn: str,
        *,
        subnets: Sequence[str] | None = None,
        selectors: Sequence[Mapping[str, Any]] | None = None,
        tags: Mapping[str, str] | None = None,
        client_request_token: str | None = None,
    ) -> dict[str, Any]:
        """EKS CreateFargateProfile; returns ``fargateProfile``."""
        response = await self._call(
            "eks",
            "CreateFargateProfile",
            params(
                clusterName=cluster_name,
                fargateProfileName=name,
                podExecutionRoleArn=pod_execution_role_arn,
                subnets=list(subnets) if subnets else None,
                selectors=[dict(s) for s in selectors] if selectors is not None else None,
                tags=dict(tags) if tags else None,
                clientRequestToken=client_request_token,
            ),
        )
        return response["fargateProfile"]  # type: ignore[no-any-return]

    async def delete_fargate_profile(self, cluster_name: str, name: str) -> dict[str, Any]:
        """EKS DeleteFargateProfile; returns ``fargateProfile`` (status DELETING)."""
        response = await self._call(
            "eks", "DeleteFargateProfile", {"clusterName": cluster_name, "fargateProfileName": name}
        )
        return response.get("fargateProfile") or {}

    # --- Kubernetes versions ----------------------------------------------------------------------
    async def describe_cluster_versions(self, versions: Sequence[str]) -> list[dict[str, Any]]:
        """EKS DescribeClusterVersions for ``versions``, every page: their support status and dates."""
        return await self._paginate(
            "eks", "DescribeClusterVersions", {"clusterVersions": list(versions)}, "clusterVersions"
        )
