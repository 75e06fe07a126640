"""A node group's taints and rolling-update settings (UpdateNodegroupConfig's ``taints`` and
``updateConfig``)."""

from __future__ import annotations

from .._types import NodeGroup, NodeGroupUpdateConfig, Taint
from ._core import R_ENUM, R_FORMAT, R_RANGE, R_REQUIRED, R_UNIQUE
from ._rules import Errors, Length, OneOf, Range, rule

TAINT_EFFECTS = ("NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE")
MAX_TAINTS = 50
R_UPDATE_CONFIG = "update-config"

TAINT_KEY_REQUIRED = rule(R_REQUIRED, "nodegroup [{name}] taints[{index}].key is required", (Taint, "key"))
TAINT_KEY = rule(
    R_FORMAT,
    "nodegroup [{name}] taints[{index}].key {value!r} must be {min_length}-{max_length} characters",
    (Taint, "key"),
    constraints=(Length(1, 63),),
    empty_ok=True,
)
TAINT_VALUE = rule(
    R_FORMAT,
    "nodegroup [{name}] taints[{index}].value must be at most {max_length} characters",
    (Taint, "value"),
    constraints=(Length(0, 63),),
)
TAINT_EFFECT = rule(
    R_ENUM,
    "nodegroup [{name}] taints[{index}].effect {value!r} must be one of {values}",
    (Taint, "effect"),
    constraints=(OneOf(TAINT_EFFECTS),),
)
TAINT_UNIQUE = rule(
    R_UNIQUE,
    "nodegroup [{name}] taints[{index}]: key {key!r} with effect {effect} is listed twice",
    (NodeGroup, "taints"),
)
TAINT_COUNT = rule(
    R_RANGE, "nodegroup [{name}] has {count} taints; EKS allows at most {limit}", (NodeGroup, "taints")
)
MAX_UNAVAILABLE = rule(
    R_RANGE,
    "nodegroup [{name}] updateConfig.maxUnavailable must be {minimum}-{maximum}, got {value}",
    (NodeGroupUpdateConfig, "maxUnavailable"),
    constraints=(Range(1, 100),),
)
MAX_UNAVAILABLE_PERCENTAGE = rule(
    R_RANGE,
    "nodegroup [{name}] updateConfig.maxUnavailablePercentage must be {minimum}-{maximum}, got {value}",
    (NodeGroupUpdateConfig, "maxUnavailablePercentage"),
    constraints=(Range(1, 100),),
)
ONE_OF_UPDATE_CONFIG = rule(
    R_UPDATE_CONFIG,
    "nodegroup [{name}] updateConfig needs exactly one of maxUnavailable and maxUnavailablePercentage",
    (NodeGroup, "updateConfig"),
)


def check(p: str, ng: NodeGroup, e: Errors) -> None:
    """``p`` is the node group's path."""
    name = ng.nodegroup_name or ""
    taints = ng.taints or []
    if len(taints) > MAX_TAINTS:
        e.add(TAINT_COUNT, f"{p}.taints", name=name, count=len(taints), limit=MAX_TAINTS)
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(taints):
        q = f"{p}.taints[{i}]"
        if not taint.key:
            e.add(TAINT_KEY_REQUIRED, f"{q}.key", name=name, index=i)
        elif not TAINT_KEY.allows(taint.key):
            e.add(TAINT_KEY, f"{q}.key", name=name, index=i, value=taint.key)
        if taint.value is not None and not TAINT_VALUE.allows(taint.value):
            e.add(TAINT_VALUE, f"{q}.value", name=name, index=i)
        if not TAINT_EFFECT.allows(taint.effect):
            e.add(TAINT_EFFECT, f"{q}.effect", name=name, index=i, value=taint.effect)
        key = (taint.key or "", taint.effect or "")
        if taint.key and key in seen:
            e.add(TAINT_UNIQUE, q, name=name, index=i, key=taint.key, effect=taint.effect)
        seen.add(key)
    config = ng.update_config
    if config is None:
        return
    if (config.max_unavailable is None) == (config.max_unavailable_percentage is None):
        e.add(ONE_OF_UPDATE_CONFIG, f"{p}.updateConfig", name=name)
    if not MAX_UNAVAILABLE.allows(config.max_unavailable):
        e.add(MAX_UNAVAILABLE, f"{p}.updateConfig.maxUnavailable", name=name, value=config.max_unavailable)
    if not MAX_UNAVAILABLE_PERCENTAGE.allows(config.max_unavailable_percentage):
        e.add(
            MAX_UNAVAILABLE_PERCENTAGE,
            f"{p}.updateConfig.maxUnavailablePercentage",
            name=name,
            value=config.max_unavailable_percentage,
        )
