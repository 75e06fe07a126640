"""The rule registry: every rule names real fields, and each constraint means the same to the validator
(``Rule.allows``) as its JSON Schema fragment (``Rule.schema``) means to a JSON Schema validator."""

from __future__ import annotations

import re
import string

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from controlplane.api import Rule, registered_rules
from controlplane.api._validation._rules import Length, MaxCount, NoPrefix, OneOf, Pattern, Range

RULES = registered_rules()
CONSTRAINED = [r for r in RULES if r.constraints]


def rule_id(r: Rule) -> str:
    return f"{r.kind}:{r.message[:40]}"


def test_every_rule_names_existing_json_fields() -> None:
    for r in RULES:
        for struct, field in r.fields:
            assert issubclass(struct, msgspec.Struct), r
            names = {f.encode_name for f in msgspec.structs.fields(struct)}
            assert field in names, (rule_id(r), struct.__name__, field)


def test_messages_are_declared_once() -> None:
    messages = [r.message for r in RULES]
    assert len(messages) == len(set(messages)), [m for m in messages if messages.count(m) > 1]


def test_templates_fill_in_the_constraints_and_keep_the_values() -> None:
    for r in RULES:
        placeholders = {name for _, name, _, _ in string.Formatter().parse(r.message) if name}
        left = {name for _, name, _, _ in string.Formatter().parse(r.template()) if name}
        assert left == placeholders - set(r.params()), rule_id(r)
    disk = next(r for r in RULES if "diskSize" in r.message)
    assert disk.template() == "nodegroup [{name}] diskSize must be 1-16384 GiB, got {value}"


def _values(r: Rule) -> st.SearchStrategy[object]:
    """Values of the constrained part: near the bounds, matching the patterns, and arbitrary."""
    found: list[st.SearchStrategy[object]] = []
    for c in r.constraints:
        if isinstance(c, Range):
            found.append(st.integers(min_value=-3, max_value=20000))
        elif isinstance(c, MaxCount):
            found.append(st.dictionaries(st.text(max_size=3), st.just("v"), max_size=c.max_count + 3))
        elif isinstance(c, Pattern):
            found.append(st.from_regex(c.regex))
        elif isinstance(c, OneOf):
            found.append(st.sampled_from(c.values).map(lambda v: v.upper()) | st.sampled_from(c.values))
        elif isinstance(c, NoPrefix):
            found.append(st.sampled_from([c.prefix, c.prefix.upper()]).map(lambda p: p + "x"))
        elif isinstance(c, Length):
            found.append(st.text(max_size=(c.max_length or 10) + 2))
    found.append(st.text(alphabet=string.printable, max_size=20) | st.just(""))
    return st.one_of(found)


@pytest.mark.parametrize("rule", CONSTRAINED, ids=rule_id)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_allows_agrees_with_the_published_schema(rule: Rule, data: st.DataObject) -> None:
    value = data.draw(_values(rule))
    published = Draft202012Validator(rule.schema()).is_valid(value)
    if (
        isinstance(value, str)
        and value.endswith("\n")
        and any(isinstance(c, OneOf) and c.ignore_case for c in rule.constraints)
    ):
        return  # Python's "$" accepts a trailing newline; ipFamily's check (lower() in values) does not
    assert rule.allows(value) == published, (value, rule.schema())


def test_constraint_schemas() -> None:
    assert Range(1, 3).schema() == {"minimum": 1, "maximum": 3}
    assert Length(1).schema() == {"minLength": 1}
    assert Length(max_length=5).schema() == {"maxLength": 5}
    assert OneOf(("a", "b")).schema() == {"enum": ["a", "b"]}
    assert OneOf(("ipv4",), ignore_case=True).schema() == {"pattern": "^(?:[Ii][Pp][Vv]4)$"}
    assert NoPrefix("aws:").schema() == {"not": {"pattern": "^[Aa][Ww][Ss]:"}}
    assert MaxCount(2).schema() == {"maxProperties": 2}
    empty_ok = Rule("format", "m", "eks-controlplane", constraints=(Pattern("^a$"),), empty_ok=True)
    assert empty_ok.schema() == {"anyOf": [{"const": ""}, {"pattern": "^a$"}]}
    assert empty_ok.allows("") and empty_ok.allows("a") and not empty_ok.allows("b")


def test_patterns_compile_as_python_regexes() -> None:
    for r in CONSTRAINED:
        for c in r.constraints:
            if isinstance(c, Pattern):
                assert c.regex.startswith("^") and c.regex.endswith("$"), c.regex
                re.compile(c.regex)
