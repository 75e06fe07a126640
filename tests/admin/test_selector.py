"""The label selector parser: every Kubernetes form, its errors, and properties (round trip, no crash)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controlplane.admin._listing import (
    ClusterQuery,
    ParamError,
    changed_paths,
    decode_continue,
    encode_continue,
    parse_list_params,
)
from controlplane.admin._selector import SelectorError, format_selector, parse_selector
from controlplane.api import Phase
from controlplane.store import LabelOp, LabelRequirement

R = LabelRequirement


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("   ", ()),
        ("env=prod", (R("env", LabelOp.EQUALS, ("prod",)),)),
        ("env==prod", (R("env", LabelOp.EQUALS, ("prod",)),)),
        ("env = prod", (R("env", LabelOp.EQUALS, ("prod",)),)),
        ("env=", (R("env", LabelOp.EQUALS, ("",)),)),
        ("tier!=dev", (R("tier", LabelOp.NOT_EQUALS, ("dev",)),)),
        ("team in (a,b)", (R("team", LabelOp.IN, ("a", "b")),)),
        ("team in (a, b, a)", (R("team", LabelOp.IN, ("a", "b")),)),
        ("team notin (a)", (R("team", LabelOp.NOT_IN, ("a",)),)),
        ("owner", (R("owner", LabelOp.EXISTS),)),
        ("!legacy", (R("legacy", LabelOp.NOT_EXISTS),)),
        ("example.com/owner=x_y.z-1", (R("example.com/owner", LabelOp.EQUALS, ("x_y.z-1",)),)),
        (
            "env=prod,tier!=dev,team in (a,b)",
            (
                R("env", LabelOp.EQUALS, ("prod",)),
                R("tier", LabelOp.NOT_EQUALS, ("dev",)),
                R("team", LabelOp.IN, ("a", "b")),
            ),
        ),
        ("in=notin", (R("in", LabelOp.EQUALS, ("notin",)),)),
    ],
)
def test_every_form_parses(text: str, expected: tuple[LabelRequirement, ...]) -> None:
    assert parse_selector(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("env=prod,", "expected a requirement after the last ','"),
        (",env", "expected a label key at position 0"),
        ("env prod", "expected '=', '==', '!=', 'in', 'notin', ',' or the end after key 'env' at position 4"),
        ("team in a,b", "expected '(' to open a set of values at position 8"),
        ("team in (a,b", "expected ')' to close the set of values at the end"),
        ("team in ()", "cannot be empty"),
        ("team in (a b)", "expected ',' or ')' in the set of values"),
        ("env=pr od", "expected ',' between requirements at position 7"),
        ("env=prod!", "expected ',' between requirements at position 8"),
        ("!", "expected a label key after '!' at the end"),
        ("-env=x", "invalid label key '-env'"),
        ("Example.com/x=y", "the prefix must be a DNS subdomain"),
        ("/x=y", "the prefix must be a DNS subdomain"),
        ("env=" + "v" * 64, "invalid label value"),
        ("env=a/b", "invalid label value 'a/b'"),
        ("env=prod;drop", "unexpected character ';' at position 8"),
        ('env="x"', "unexpected character '\"' at position 4"),
    ],
)
def test_bad_selectors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_selector(text)
    assert message in str(caught.value)


_names = st.from_regex(r"[a-z0-9]([a-z0-9_.-]{0,8}[a-z0-9])?", fullmatch=True)
_keys = st.builds(lambda p, n: f"{p}/{n}" if p else n, st.sampled_from(["", "example.com", "a.b-c"]), _names)
_values = st.one_of(st.just(""), _names)
_requirements = st.one_of(
    st.builds(R, _keys, st.sampled_from([LabelOp.EXISTS, LabelOp.NOT_EXISTS])),
    st.builds(R, _keys, st.sampled_from([LabelOp.EQUALS, LabelOp.NOT_EQUALS]), st.tuples(_values)),
    st.builds(
        R,
        _keys,
        st.sampled_from([LabelOp.IN, LabelOp.NOT_IN]),
        st.lists(_names, min_size=1, max_size=4, unique=True).map(tuple),
    ),
)


@given(st.lists(_requirements, max_size=5).map(tuple))
def test_format_then_parse_is_the_identity(requirements: tuple[LabelRequirement, ...]) -> None:
    assert parse_selector(format_selector(requirements)) == requirements


@given(st.text(alphabet="abc=!(), in/.-_xyz\t", max_size=30))
def test_any_text_parses_or_raises_a_selector_error(text: str) -> None:
    try:
        parse_selector(text)
    except SelectorError as exc:
        assert str(exc)


def test_list_params_and_their_errors() -> None:
    p = parse_list_params({"labelSelector": "env=prod", "phase": "active", "q": "prod-", "limit": "20"})
    assert p.query == ClusterQuery(
        labels=(R("env", LabelOp.EQUALS, ("prod",)),), phase=Phase.ACTIVE, name_prefix="prod-"
    )
    assert p.limit == 20
    assert p.filtered
    assert parse_list_params({}).limit == 500
    assert not parse_list_params({}).filtered
    assert parse_list_params({"conflict": "true", "failing": "1"}).query == ClusterQuery(
        conflict=True, failing=True
    )
    assert parse_list_params({"phase": ""}).query.phase is Phase.NEW
    for params, message in [
        ({"limit": "0"}, "invalid limit '0'; expected an integer from 1 to 5000"),
        ({"limit": "5001"}, "expected an integer from 1 to 5000"),
        ({"labelSelector": "env in"}, "invalid labelSelector: expected '(' to open a set of values"),
        ({"phase": "running"}, "invalid phase 'running'"),
        ({"conflict": "maybe"}, "invalid conflict 'maybe'; expected true or false"),
        ({"view": "wide"}, "invalid view 'wide'"),
        ({"timeoutSeconds": "5"}, "timeoutSeconds applies to watch=true only"),
        ({"watch": "true", "limit": "5"}, "limit and continue apply to lists"),
        ({"watch": "true", "resourceVersion": "-1"}, "invalid resourceVersion '-1'"),
    ]:
        with pytest.raises(ParamError) as caught:
            parse_list_params(params)
        assert message in str(caught.value)


def test_continue_tokens_are_opaque_and_tied_to_their_filters() -> None:
    q = ClusterQuery(name_prefix="a")
    token = encode_continue("a-17", 99, q)
    assert decode_continue(token, q) == ("a-17", 99)
    with pytest.raises(ParamError, match="other filters"):
        decode_continue(token, ClusterQuery())
    with pytest.raises(ParamError, match="invalid continue token"):
        decode_continue("not a token!", q)
    with pytest.raises(ParamError, match="invalid continue token"):
        decode_continue("e30", q)


def test_changed_paths() -> None:
    old = {"spec": {"a": 1, "b": [1, 2], "c": {"d": 1}}, "metadata": {"labels": {"x": "1"}}}
    new = {"spec": {"a": 1, "b": [1, 3], "c": {}}, "metadata": {"labels": {"x": "1", "y": "2"}}}
    assert changed_paths(old, new) == ["metadata.labels.y", "spec.b", "spec.c.d"]
    assert changed_paths(old, old) == []
