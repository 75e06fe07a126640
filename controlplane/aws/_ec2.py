"""EC2 helpers: the managed launch template, its versions, and AMI lookups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from ._base import CallsBase, params

MAX_VERSIONS_PER_DELETE = 200
"""DeleteLaunchTemplateVersions accepts at most 200 versions per call."""

GONE_VERSION_CODES = frozenset({"launchTemplateVersionDoesNotExist", "launchTemplateIdDoesNotExist"})
"""Per-version failure codes that mean "already gone" (the operator ignores them too)."""


class FailedVersionDeletion(msgspec.Struct, frozen=True):
    """One version DeleteLaunchTemplateVersions did not delete."""

    version: int
    code: str
    message: str


class VersionDeletionResult(msgspec.Struct, frozen=True):
    """Outcome of ``delete_launch_template_versions`` over all batches."""

    deleted: list[int]
    gone: list[int]
    """Versions (or the template) that did not exist: nothing left to delete."""
    failed: list[FailedVersionDeletion]
    """Versions still there (e.g. the default version); worth retrying later."""


class Ec2Calls(CallsBase):
    __slots__ = ()

    async def create_launch_template(
        self,
        name: str,
        data: Mapping[str, Any],
        *,
        tags: Mapping[str, str] | None = None,
        client_token: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """EC2 CreateLaunchTemplate (tags on the ``launch-template`` resource); returns ``LaunchTemplate``."""
        tag_specs = (
            [{"ResourceType": "launch-template", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
            if tags
            else None
        )
        response = await self._call(
            "ec2",
            "CreateLaunchTemplate",
            params(
                LaunchTemplateName=name,
                LaunchTemplateData=dict(data),
                TagSpecifications=tag_specs,
                ClientToken=client_token,
                VersionDescription=description,
            ),
        )
        return response["LaunchTemplate"]  # type: ignore[no-any-return]

    async def create_launch_template_version(
        self,
        template_id: str,
        data: Mapping[str, Any],
        *,
        source_version: str | None = None,
        description: str | None = None,
        client_token: str | None = None,
    ) -> dict[str, Any]:
        """EC2 CreateLaunchTemplateVersion; returns ``LaunchTemplateVersion`` (int ``VersionNumber``)."""
        response = await self._call(
            "ec2",
            "CreateLaunchTemplateVersion",
            params(
                LaunchTemplateId=template_id,
                LaunchTemplateData=dict(data),
                SourceVersion=source_version,
                VersionDescription=description,
                ClientToken=client_token,
            ),
        )
        return response["LaunchTemplateVersion"]  # type: ignore[no-any-return]

    async def describe_launch_templates(
        self, *, ids: Sequence[str] | None = None, names: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """EC2 DescribeLaunchTemplates by IDs or names, every page. A missing ID or name raises
        ``NotFoundError`` (EC2 fails the whole call)."""
        return await self._paginate(
            "ec2",
            "DescribeLaunchTemplates",
            params(
                LaunchTemplateIds=list(ids) if ids else None,
                LaunchTemplateNames=list(names) if names else None,
            ),
            "LaunchTemplates",
        )

    async def describe_launch_template_versions(
        self, template_id: str, versions: Sequence[int | str] | None = None
    ) -> list[dict[str, Any]]:
        """EC2 DescribeLaunchTemplateVersions (all versions, or the listed ones), every page."""
        return await self._paginate(
            "ec2",
            "DescribeLaunchTemplateVersions",
            params(
                LaunchTemplateId=template_id,
                Versions=[str(v) for v in versions] if versions else None,
            ),
            "LaunchTemplateVersions",
        )

    async def delete_launch_template(self, template_id: str) -> dict[str, Any]:
        """EC2 DeleteLaunchTemplate with every version; returns ``LaunchTemplate``."""
        response = await self._call("ec2", "DeleteLaunchTemplate", {"LaunchTemplateId": template_id})
        return response.get("LaunchTemplate") or {}

    async def delete_launch_template_versions(
        self, template_id: str, versions: Sequence[int]
    ) -> VersionDeletionResult:
        """EC2 DeleteLaunchTemplateVersions in batches of 200; per-version failures are reported,
        not raised (a call-level error still raises)."""
        deleted: list[int] = []
        gone: list[int] = []
        failed: list[FailedVersionDeletion] = []
        unique = sorted(set(versions))
        for start in range(0, len(unique), MAX_VERSIONS_PER_DELETE):
            batch = unique[start : start + MAX_VERSIONS_PER_DELETE]
            response = await self._call(
                "ec2",
                "DeleteLaunchTemplateVersions",
                {"LaunchTemplateId": template_id, "Versions": [str(v) for v in batch]},
            )
            for item in response.get("SuccessfullyDeletedLaunchTemplateVersions") or ():
                deleted.append(int(item["VersionNumber"]))
            for item in response.get("UnsuccessfullyDeletedLaunchTemplateVersions") or ():
                error = item.get("ResponseError") or {}
                code = str(error.get("Code") or "")
                version = int(item["VersionNumber"])
                if code in GONE_VERSION_CODES:
                    gone.append(version)
                else:
                    failed.append(FailedVersionDeletion(version, code, str(error.get("Message") or "")))
        return VersionDeletionResult(deleted=deleted, gone=gone, failed=failed)

    async def describe_images(self, image_ids: Sequence[str]) -> list[dict[str, Any]]:
        """EC2 DescribeImages by ID (one call: EC2 does not page an ID-filtered request)."""
        response = await self._call("ec2", "DescribeImages", {"ImageIds": list(image_ids)})
        return response.get("Images") or []

    async def describe_availability_zones(self) -> list[dict[str, Any]]:
        """EC2 DescribeAvailabilityZones: the zones of the scope's region this account may use (available,
        of type ``availability-zone``: no Local or Wavelength Zones). Not paged by EC2."""
        response = await self._call(
            "ec2",
            "DescribeAvailabilityZones",
            {
                "Filters": [
                    {"Name": "state", "Values": ["available"]},
                    {"Name": "zone-type", "Values": ["availability-zone"]},
                ]
            },
        )
        return response.get("AvailabilityZones") or []
