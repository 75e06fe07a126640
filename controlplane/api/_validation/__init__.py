"""Static validation of clusters, credentials and settings. Pure functions; nothing here does I/O.

Three sources of rules, each error tagged with the JSON path of the field and a short stable ``rule``:

* Rancher's API validator (``pkg/api/norman/customization/cluster/validator.go``) and eks-operator's
  ``validateCreate``/``validateUpdate``: their messages are reproduced verbatim (``[%s (id: %s)]`` is
  ``displayName`` and ``metadata.name``). Where Go returns the first failure we report every failure,
  but never two errors for one cause (e.g. an empty node group version gets Rancher's message only).
* Checks both skip although AWS rejects the request later anyway (sizes, log types, CIDRs, labels, tags,
  names, ...): reported up front with our own messages, for imported clusters too whenever the value is
  non-null, since a managed value of an imported cluster is pushed to AWS like any other.
* ``noupdate``: fields Rancher's API never lets change (``norman:"noupdate"``) and that the operator never
  pushes after create; we refuse a change of a managed value instead of silently ignoring it.

The checks that need I/O (an EKS cluster of the same name, an AWS account ID) are not here; the display-name
uniqueness among stored clusters is ``validate_unique_display_name``, given the other clusters.

One module per area: ``_cluster``, ``_networking``, ``_node_groups``, ``_tags_labels`` (shared by the
cluster and its node groups), ``_credentials`` and ``_settings``. Each declares its rules once in the
registry (``_rules``: the field, the ``rule`` name, the exact message and any machine-checkable bound),
which its checks report through and the admin API's OpenAPI document publishes. ``_spec`` runs the
cluster areas in their fixed order, and ``_core`` holds what they share (``FieldError``, rule names, syntax).

A new area (access entries, add-ons, Fargate profiles, ...) is one module ``_<area>.py`` that declares
its rules with ``rule(...)`` against the fields of its msgspec types and has ``check_*`` functions
reporting them with ``Errors.add``; ``_spec`` calls them after the existing checks (so earlier errors
keep their order), or ``_node_groups`` does for a node group field (taints). Its module must be imported
for its rules to be registered: ``_spec`` importing it does that. The OpenAPI document then carries its
bounds and messages with no change to the admin package.
"""

from __future__ import annotations

from ._addons import parse_configuration_values
from ._cluster import LOGGING_TYPES, validate_unique_display_name
from ._core import FieldError
from ._credentials import validate_credential
from ._rules import Rule, registered_rules
from ._settings import SettingValidator, known_settings, register_setting, validate_setting
from ._spec import validate_create, validate_update

__all__ = [
    "LOGGING_TYPES",
    "FieldError",
    "Rule",
    "SettingValidator",
    "known_settings",
    "parse_configuration_values",
    "register_setting",
    "registered_rules",
    "validate_create",
    "validate_credential",
    "validate_setting",
    "validate_unique_display_name",
    "validate_update",
]
