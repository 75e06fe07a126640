"""EC2 launch-template behaviour moto lacks or gets wrong, applied to moto's in-process EC2 backend.

- DeleteLaunchTemplateVersions (moto has none): per-version outcomes as EC2 reports them.
- Version numbers are never reused once versions were deleted (moto numbers ``len(versions) + 1``
  and finds versions by list position, which deleting breaks).
- DescribeLaunchTemplates by an ID that does not exist fails the call (moto drops the ID), and
  DeleteLaunchTemplate by ID says ``InvalidLaunchTemplateId.NotFound`` (moto answers the by-name code).

Called on the event loop while moto's threads serve other requests: mutations are single list
operations (atomic under the GIL), as moto's own are.
"""

from __future__ import annotations

from types import MethodType
from typing import Any

import msgspec

from ._query import QueryError, text

MAX_VERSIONS_PER_DELETE = 200
"""EC2 deletes at most 200 versions per DeleteLaunchTemplateVersions call."""

VERSION_MISSING_MESSAGE = "The specified launch template version does not exist."
DEFAULT_VERSION_MESSAGE = (
    "Cannot delete the default version of a launch template. Modify the launch template to set a "
    "different default version, then try again."
)


class VersionFailure(msgspec.Struct, frozen=True):
    version: int
    code: str
    message: str


class DeletedVersions(msgspec.Struct, frozen=True):
    """Outcome of one DeleteLaunchTemplateVersions call."""

    template_id: str | None
    template_name: str | None
    deleted: list[int]
    failed: list[VersionFailure]


def find(ec2: Any | None, template_id: str | None, name: str | None) -> Any | None:
    """moto's launch template by ID (when given) or name, or None."""
    if ec2 is None:
        return None
    if template_id:
        return ec2.launch_templates.get(template_id)
    tid = ec2.launch_template_name_to_ids.get(name)
    return None if tid is None else ec2.launch_templates.get(tid)


def not_found(template_id: str) -> QueryError:
    return QueryError(
        "InvalidLaunchTemplateId.NotFound",
        f"The specified launch template, with template ID {template_id}, does not exist.",
    )


def name_not_found(name: str) -> QueryError:
    return QueryError(
        "InvalidLaunchTemplateName.NotFoundException",
        f"The specified launch template, with template name {name}, does not exist.",
    )


def check_ids_exist(ec2: Any | None, template_ids: list[str]) -> None:
    """DescribeLaunchTemplates fails the whole call when one of the IDs does not exist."""
    for tid in template_ids:
        if find(ec2, tid, None) is None:
            raise QueryError(
                "InvalidLaunchTemplateId.NotFound",
                "At least one of the launch templates specified in the request does not exist.",
            )


def delete_versions(
    ec2: Any | None, template_id: str | None, name: str | None, versions: list[str]
) -> DeletedVersions:
    """Delete launch template versions from moto's backend as EC2 does: call-level errors for a bad
    request; per-version failures for a missing template, a missing version or the default one."""
    if template_id and name:
        raise QueryError(
            "InvalidParameterCombination",
            "The request must contain either the parameter launchTemplateName or launchTemplateId, not both",
        )
    if not template_id and not name:
        raise QueryError(
            "MissingParameter",
            "The request must contain the parameter launchTemplateName or launchTemplateId",
        )
    if not versions:
        raise QueryError("MissingParameter", "The request must contain the parameter launchTemplateVersion")
    if len(versions) > MAX_VERSIONS_PER_DELETE:
        raise QueryError(
            "InvalidParameterValue",
            f"You can specify up to {MAX_VERSIONS_PER_DELETE} launch template version numbers.",
        )
    numbers: list[int] = []
    for v in versions:
        if not v.strip().isdigit():
            raise QueryError("InvalidParameterValue", f"Invalid launch template version number: {v}")
        numbers.append(int(v))
    lt = find(ec2, template_id, name)
    if lt is None:
        if template_id:
            code, message = (
                "launchTemplateIdDoesNotExist",
                f"The specified launch template, with template ID {template_id}, does not exist.",
            )
        else:
            code, message = (
                "launchTemplateNameDoesNotExist",
                f"The specified launch template, with template name {name}, does not exist.",
            )
        return DeletedVersions(template_id, name, [], [VersionFailure(n, code, message) for n in numbers])
    own_numbering(lt)
    deleted: list[int] = []
    failed: list[VersionFailure] = []
    for n in numbers:
        version = next((v for v in list(lt.versions) if v.number == n), None)
        if version is None:
            failed.append(VersionFailure(n, "launchTemplateVersionDoesNotExist", VERSION_MISSING_MESSAGE))
        elif n == lt.default_version_number:
            # The model's LaunchTemplateErrorCode has no code for this; EC2 reports it as unexpectedError.
            failed.append(VersionFailure(n, "unexpectedError", DEFAULT_VERSION_MESSAGE))
        else:
            lt.versions.remove(version)
            deleted.append(n)
    return DeletedVersions(str(lt.id), str(lt.name), deleted, failed)


def render_deleted(result: DeletedVersions) -> str:
    """The members of ``DeleteLaunchTemplateVersionsResponse`` (locationNames of botocore's model)."""

    def ids() -> str:
        out = ""
        if result.template_id:
            out += text("launchTemplateId", result.template_id)
        if result.template_name:
            out += text("launchTemplateName", result.template_name)
        return out

    ok = "".join(f"<item>{ids()}{text('versionNumber', n)}</item>" for n in result.deleted)
    failed = "".join(
        f"<item>{ids()}{text('versionNumber', f.version)}<responseError>"
        f"{text('code', f.code)}{text('message', f.message)}</responseError></item>"
        for f in result.failed
    )
    return (
        f"<successfullyDeletedLaunchTemplateVersionSet>{ok}</successfullyDeletedLaunchTemplateVersionSet>"
        f"<unsuccessfullyDeletedLaunchTemplateVersionSet>{failed}"
        "</unsuccessfullyDeletedLaunchTemplateVersionSet>"
    )


# --- version numbers that survive deletions --------------------------------------------------------


def own_numbering(lt: Any) -> None:
    """Make one moto launch template number and find its versions by version number (as EC2 does),
    before its version list gets gaps. Idempotent."""
    if getattr(lt, "_sim_next_version", None) is not None:
        return
    lt._sim_next_version = max(v.number for v in lt.versions) + 1
    lt.create_version = MethodType(_create_version, lt)
    lt.get_version = MethodType(_get_version, lt)
    lt.default_version = MethodType(_default_version, lt)


def _create_version(self: Any, data: dict[str, Any], description: str) -> Any:
    from moto.ec2.models.launch_templates import LaunchTemplateVersion  # noqa: PLC0415

    number = self._sim_next_version
    self._sim_next_version = number + 1
    version = LaunchTemplateVersion(self, number, data, description)
    self.versions.append(version)
    return version


def _get_version(self: Any, num: Any) -> Any:
    from moto.ec2.exceptions import InvalidLaunchTemplateVersionNotFound  # noqa: PLC0415

    key = str(num).strip().lower()
    if key == "$latest":
        return self.versions[-1]
    if key == "$default":
        return self.default_version()
    for v in list(self.versions):
        if str(v.number) == key:
            return v
    raise InvalidLaunchTemplateVersionNotFound(template_id=self.id, version=num)


def _default_version(self: Any) -> Any:
    for v in list(self.versions):
        if v.number == self.default_version_number:
            return v
    raise LookupError(f"default version {self.default_version_number} of {self.id} is gone")
