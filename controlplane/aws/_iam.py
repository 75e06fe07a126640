"""IAM and STS helpers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._base import CallsBase, params


class IamCalls(CallsBase):
    __slots__ = ()

    async def get_role(self, name: str) -> dict[str, Any]:
        """IAM GetRole; returns ``Role`` (``Role["Arn"]`` is what CreateCluster needs)."""
        response = await self._call("iam", "GetRole", {"RoleName": name})
        return response["Role"]  # type: ignore[no-any-return]

    async def list_open_id_connect_providers(self) -> list[str]:
        """IAM ListOpenIDConnectProviders (not paged by AWS); returns the provider ARNs."""
        response = await self._call("iam", "ListOpenIDConnectProviders", {})
        return [p["Arn"] for p in response.get("OpenIDConnectProviderList") or ()]

    async def create_open_id_connect_provider(
        self,
        url: str,
        client_ids: Sequence[str],
        thumbprints: Sequence[str] = (),
        *,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """IAM CreateOpenIDConnectProvider; returns the new provider's ARN."""
        response = await self._call(
            "iam",
            "CreateOpenIDConnectProvider",
            params(
                Url=url,
                ClientIDList=list(client_ids),
                ThumbprintList=list(thumbprints) or None,
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()] if tags else None,
            ),
        )
        return str(response["OpenIDConnectProviderArn"])

    async def delete_open_id_connect_provider(self, arn: str) -> None:
        """IAM DeleteOpenIDConnectProvider (the delete flow removes the provider it created)."""
        await self._call("iam", "DeleteOpenIDConnectProvider", {"OpenIDConnectProviderArn": arn})
