"""The rule registry: every validation rule declared once, read by the validators and by the OpenAPI.

A ``Rule`` is the field(s) it is about, the ``rule`` name clients match on, the exact message (a
``str.format`` template) and, where the rule is a plain bound on one value, its ``constraints``. The area
modules declare their rules with ``rule(...)`` at import; a check reports a violation with
``Errors.add(RULE, path, **values)`` and tests a constrained value with ``RULE.allows(value)``. The admin
API's OpenAPI document publishes every constraint as JSON Schema on the field it names, and every rule's
message under ``x-rules``, from the same objects, so that the schema and the errors cannot drift apart.

Constraints follow JSON Schema's semantics: each applies to values of its own type and ignores the rest
(``Range`` to integers, ``Length`` and ``Pattern`` to strings, ``MaxCount`` to objects). Patterns are
Python ``re`` syntax, tested with ``re.match`` and anchored with ``^``/``$``, which is also how Python's
``jsonschema`` reads them. ECMA-262 readers differ in two corners: ``\\w`` and ``\\d`` match ASCII only,
and ``$`` does not accept a trailing newline.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from ._core import FieldError

Origin = Literal["rancher", "eks-operator", "eks-controlplane"]
"""Whose message it is: Rancher's and eks-operator's are reproduced verbatim and must never be reworded."""

Part = Literal["value", "items", "keys", "values"]
"""What of the field the constraints bound: the value, each list item, each object key or value."""

Json = dict[str, Any]


@functools.cache
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


class Range(msgspec.Struct, frozen=True):
    """An integer bound (JSON Schema ``minimum``/``maximum``)."""

    minimum: int | None = None
    maximum: int | None = None

    def allows(self, value: object) -> bool:
        if not isinstance(value, int):
            return True
        return (self.minimum is None or value >= self.minimum) and (
            self.maximum is None or value <= self.maximum
        )

    def schema(self) -> Json:
        bounds = {"minimum": self.minimum, "maximum": self.maximum}
        return {k: v for k, v in bounds.items() if v is not None}

    def params(self) -> dict[str, object]:
        return self.schema()


class Length(msgspec.Struct, frozen=True):
    """A string length bound in characters (``minLength``/``maxLength``)."""

    min_length: int = 0
    max_length: int | None = None

    def allows(self, value: object) -> bool:
        if not isinstance(value, str):
            return True
        return len(value) >= self.min_length and (self.max_length is None or len(value) <= self.max_length)

    def schema(self) -> Json:
        out: Json = {"minLength": self.min_length} if self.min_length else {}
        if self.max_length is not None:
            out["maxLength"] = self.max_length
        return out

    def params(self) -> dict[str, object]:
        return {"min_length": self.min_length, "max_length": self.max_length}


class Pattern(msgspec.Struct, frozen=True):
    """A regular expression a string must match from its start (``pattern``); anchor it with ``^...$``."""

    regex: str

    def allows(self, value: object) -> bool:
        return not isinstance(value, str) or _compiled(self.regex).match(value) is not None

    def schema(self) -> Json:
        return {"pattern": self.regex}

    def params(self) -> dict[str, object]:
        return {}


class OneOf(msgspec.Struct, frozen=True):
    """One of a fixed set of strings (``enum``); with ``ignore_case``, published as a pattern instead."""

    values: tuple[str, ...]
    ignore_case: bool = False

    def allows(self, value: object) -> bool:
        if self.ignore_case:
            return not isinstance(value, str) or value.lower() in self.values
        return value in self.values

    def schema(self) -> Json:
        if not self.ignore_case:
            return {"enum": list(self.values)}
        return {"pattern": "^(?:" + "|".join(_any_case(v) for v in self.values) + ")$"}

    def params(self) -> dict[str, object]:
        return {"values": ", ".join(self.values), "alternatives": " or ".join(self.values)}


class NoPrefix(msgspec.Struct, frozen=True):
    """A string must not start with ``prefix``, in any letter case (``not: {pattern}``)."""

    prefix: str

    def allows(self, value: object) -> bool:
        return not isinstance(value, str) or not value.lower().startswith(self.prefix.lower())

    def schema(self) -> Json:
        return {"not": {"pattern": "^" + _any_case(self.prefix)}}

    def params(self) -> dict[str, object]:
        return {"prefix": self.prefix}


class MaxCount(msgspec.Struct, frozen=True):
    """At most ``max_count`` entries in an object (``maxProperties``)."""

    max_count: int

    def allows(self, value: object) -> bool:
        return not isinstance(value, Mapping) or len(value) <= self.max_count

    def schema(self) -> Json:
        return {"maxProperties": self.max_count}

    def params(self) -> dict[str, object]:
        return {"max_count": self.max_count}


Constraint = Range | Length | Pattern | OneOf | NoPrefix | MaxCount


def _any_case(text: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in text)


class Rule(msgspec.Struct, frozen=True):
    """One validation rule. ``fields`` are (struct, JSON field name) pairs: where the rule applies."""

    kind: str
    """The ``rule`` of the errors it reports (``range``, ``format``, ...): what clients match on."""
    message: str
    """The exact message, a ``str.format`` template over the check's values and the constraints' params."""
    origin: Origin
    fields: tuple[tuple[type, str], ...] = ()
    constraints: tuple[Constraint, ...] = ()
    """Machine-checkable bounds, all of which a valid value meets; empty when only code can tell."""
    part: Part = "value"
    empty_ok: bool = False
    """The constraints do not apply to ``""`` (another rule reports it, or it means "unmanaged")."""

    def allows(self, value: object) -> bool:
        """Whether ``value`` (of the constrained part) meets every constraint."""
        if self.empty_ok and value == "":
            return True
        # A loop, not all(<generator>): this runs for every tag and label, and is twice as fast.
        for c in self.constraints:  # noqa: SIM110
            if not c.allows(value):
                return False
        return True

    def params(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for c in self.constraints:
            out.update(c.params())
        return out

    def error(self, path: str, **values: object) -> FieldError:
        return FieldError(path=path, rule=self.kind, message=self.message.format(**self.params(), **values))

    def schema(self) -> Json:
        """The constraints as one JSON Schema fragment for the constrained part ({} when there are none)."""
        fragment: Json = {}
        for c in self.constraints:
            fragment.update(c.schema())
        if self.empty_ok and fragment:
            return {"anyOf": [{"const": ""}, fragment]}
        return fragment

    def template(self) -> str:
        """The message with the constraints' params filled in and the check's values left as ``{name}``."""
        params = self.params()
        out = []
        for literal, name, spec, conversion in string.Formatter().parse(self.message):
            out.append(literal)
            if name is None:
                continue
            if name in params:
                out.append(f"{{{name}{'!' + conversion if conversion else ''}:{spec}}}".format(**params))
            else:
                out.append(f"{{{name}}}")
        return "".join(out)


_REGISTRY: list[Rule] = []


def rule(
    kind: str,
    message: str,
    *fields: tuple[type, str],
    origin: Origin = "eks-controlplane",
    constraints: tuple[Constraint, ...] = (),
    part: Part = "value",
    empty_ok: bool = False,
) -> Rule:
    """Declare and register a rule (once, at import of its area module)."""
    declared = Rule(kind, message, origin, fields, constraints, part, empty_ok)
    _REGISTRY.append(declared)
    return declared


def registered_rules() -> tuple[Rule, ...]:
    """Every declared rule, in declaration order."""
    return tuple(_REGISTRY)


class Errors:
    """The violations found so far, in the order the checks ran."""

    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, rule: Rule, path: str, **values: object) -> None:
        self.items.append(rule.error(path, **values))
