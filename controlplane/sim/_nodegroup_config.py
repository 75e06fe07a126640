"""A node group's configuration, pure: the rules its values follow, the plans of the updates that
change it (ConfigUpdate, VersionUpdate), and how a completed one applies."""

from __future__ import annotations

from . import _errors as err
from ._model import NodegroupRec, Taint, render_taint
from ._rules import minor, release_version
from ._shapes import TaintIn
from ._updates import Plan
from ._wire import Json

_TAINT_EFFECTS = ("NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE")


def taint(t: TaintIn) -> Taint:
    if t.effect not in _TAINT_EFFECTS:
        raise err.invalid_parameter(f"Invalid taint effect {t.effect!r}.")
    return Taint(key=t.key, effect=t.effect, value=t.value)


def check_scaling(min_size: int, max_size: int, desired: int) -> None:
    if min_size < 0 or desired < 0 or max_size < 1:
        raise err.invalid_parameter("Scaling sizes must be non-negative and maxSize at least 1.")
    if min_size > max_size:
        raise err.invalid_parameter(
            f"Minimum capacity {min_size} can't be greater than maximum capacity {max_size}"
        )
    if desired < min_size:
        raise err.invalid_parameter(
            f"Desired capacity {desired} can't be lower than minimum capacity {min_size}"
        )
    if desired > max_size:
        raise err.invalid_parameter(
            f"Desired capacity {desired} can't be greater than maximum capacity {max_size}"
        )


def check_version(cluster: str, cluster_version: str, version: str, name: str) -> None:
    """A node group's Kubernetes version may not be newer than its cluster's."""
    if minor(version) > minor(cluster_version):  # type: ignore[operator]
        raise err.invalid_parameter(
            f"Requested Nodegroup version {version} is newer than the cluster version {cluster_version}",
            clusterName=cluster,
            nodegroupName=name,
        )


def config_plan(
    n: NodegroupRec,
    *,
    min_size: int | None = None,
    max_size: int | None = None,
    desired_size: int | None = None,
    labels_add: dict[str, str] | None = None,
    labels_remove: list[str] | None = None,
    taints_add: list[TaintIn] | None = None,
    taints_remove: list[TaintIn] | None = None,
    max_unavailable: int | None = None,
    max_unavailable_percentage: int | None = None,
) -> Plan:
    """A ConfigUpdate of the node group (empty when nothing is asked for)."""
    plan = Plan()
    check_update_config(max_unavailable, max_unavailable_percentage)
    sizes = (
        ("min", "MinSize", min_size),
        ("max", "MaxSize", max_size),
        ("desired", "DesiredSize", desired_size),
    )
    if any(size is not None for _, _, size in sizes):
        check_scaling(
            n.min_size if min_size is None else min_size,
            n.max_size if max_size is None else max_size,
            n.desired_size if desired_size is None else desired_size,
        )
        for key, label, size in sizes:
            if size is not None:
                plan.set(key, label, size)
    both = set(labels_add or ()) & set(labels_remove or ())
    if both:
        raise err.invalid_parameter(
            f"Labels {sorted(both)} cannot be both added and removed.", nodegroupName=n.name
        )
    if labels_add:
        plan.set("labels_add", "LabelsToAdd", labels_add)
    if labels_remove:
        plan.set("labels_remove", "LabelsToRemove", labels_remove)
    if taints_add:
        plan.set("taints_add", "TaintsToAdd", [render_taint(taint(t)) for t in taints_add])
    if taints_remove:
        plan.set("taints_remove", "TaintsToRemove", [render_taint(taint(t)) for t in taints_remove])
    if max_unavailable is not None:
        plan.set("max_unavailable", "MaxUnavailable", max_unavailable)
    if max_unavailable_percentage is not None:
        plan.set("max_unavailable_percentage", "MaxUnavailablePercentage", max_unavailable_percentage)
    return plan


def check_update_config(count: int | None, percentage: int | None) -> None:
    """updateConfig: maxUnavailable (1-100) or maxUnavailablePercentage (1-100), not both."""
    if count is not None and percentage is not None:
        raise err.invalid_parameter("Only one of maxUnavailable and maxUnavailablePercentage can be set.")
    if count is not None and not 1 <= count <= 100:
        raise err.invalid_parameter("maxUnavailable must be between 1 and 100.")
    if percentage is not None and not 1 <= percentage <= 100:
        raise err.invalid_parameter("maxUnavailablePercentage must be between 1 and 100.")


def version_plan(
    target: str, release: str | None = None, launch_template: dict[str, str] | None = None
) -> Plan:
    """A VersionUpdate of the node group to ``target`` (and a launch template version)."""
    plan = Plan()
    if launch_template is not None:
        plan.changes["launch_template"] = launch_template
        plan.show("LaunchTemplateName", launch_template["name"])
        plan.show("LaunchTemplateVersion", launch_template["version"])
    plan.set("version", "Version", target)
    plan.set("release_version", "ReleaseVersion", release or release_version(target))
    return plan


def apply_changes(n: NodegroupRec, ch: Json) -> None:
    if "min" in ch:
        n.min_size = ch["min"]
    if "max" in ch:
        n.max_size = ch["max"]
    if "desired" in ch:
        n.desired_size = ch["desired"]
    if ch.get("labels_add") or ch.get("labels_remove"):
        labels = dict(n.labels)
        for k in ch.get("labels_remove", []):
            labels.pop(k, None)
        labels.update(ch.get("labels_add", {}))
        n.labels = labels
    if ch.get("taints_add") or ch.get("taints_remove"):
        removed = {(t["key"], t["effect"]) for t in ch.get("taints_remove", [])}
        added = [Taint(**t) for t in ch.get("taints_add", [])]
        keys = {(t.key, t.effect) for t in added}
        n.taints = [t for t in n.taints if (t.key, t.effect) not in removed | keys] + added
    if "version" in ch:
        n.version = ch["version"]
        n.release_version = ch["release_version"]
    if "launch_template" in ch:
        n.launch_template = ch["launch_template"]
    if "max_unavailable" in ch:
        n.max_unavailable = ch["max_unavailable"]
        n.max_unavailable_percentage = None
    if "max_unavailable_percentage" in ch:
        n.max_unavailable_percentage = ch["max_unavailable_percentage"]
