"""Sync, the pure core: the upstream spec built from AWS answers, diffs, and the merge policies. No I/O."""

from ._changes import Conflict, FieldChange
from ._diff import FORCED_FIELDS, SYNCED_FIELDS, diff_fields
from ._merge import (
    MergeResult,
    desired_wins,
    observe,
    rancher_merge,
    reconcile,
    three_way_merge,
    update_in_progress,
)
from ._upstream import (
    SYNCING_ERROR_PREFIX,
    SYNCING_FAILED_PREFIX,
    UPDATABLE_ISSUE_CODES,
    LaunchTemplateVersions,
    UpstreamBuildError,
    UpstreamResult,
    build_upstream_cluster_state,
    build_upstream_spec,
    ebs_csi_driver_installed,
    managed_launch_template_versions_needed,
    nodegroup_health_issues,
    nodegroup_issue_is_updatable,
    syncing_error_message,
    syncing_failed_message,
)

__all__ = [
    "FORCED_FIELDS",
    "SYNCED_FIELDS",
    "SYNCING_ERROR_PREFIX",
    "SYNCING_FAILED_PREFIX",
    "UPDATABLE_ISSUE_CODES",
    "Conflict",
    "FieldChange",
    "LaunchTemplateVersions",
    "MergeResult",
    "UpstreamBuildError",
    "UpstreamResult",
    "build_upstream_cluster_state",
    "build_upstream_spec",
    "desired_wins",
    "diff_fields",
    "ebs_csi_driver_installed",
    "managed_launch_template_versions_needed",
    "nodegroup_health_issues",
    "nodegroup_issue_is_updatable",
    "observe",
    "rancher_merge",
    "reconcile",
    "syncing_error_message",
    "syncing_failed_message",
    "three_way_merge",
    "update_in_progress",
]
