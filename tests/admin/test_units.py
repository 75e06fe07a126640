"""Pure parts of the admin package: RFC 7386 merge patch and the admin token file."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from controlplane.admin import TOKEN_FILE, AdminTokenError, admin_token
from controlplane.admin._patch import merge_patch
from controlplane.config import AdminSettings

# The examples of RFC 7386 section 3 (original, patch, result).
RFC_EXAMPLES: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("original", "patch", "result"), RFC_EXAMPLES)
def test_merge_patch_rfc_examples(original: Any, patch: Any, result: Any) -> None:
    assert merge_patch(original, patch) == result


def test_merge_patch_does_not_mutate() -> None:
    original = {"a": {"b": 1, "c": [1]}}
    merge_patch(original, {"a": {"b": None, "c": [2]}})
    assert original == {"a": {"b": 1, "c": [1]}}


def test_configured_token_wins(tmp_path: Path) -> None:
    assert admin_token(AdminSettings(token="configured"), tmp_path) == ("configured", None)
    assert not (tmp_path / TOKEN_FILE).exists()


def test_token_file_generated_private_and_reused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    token, path = admin_token(AdminSettings(), data)
    assert path == data / TOKEN_FILE
    assert len(token) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert admin_token(AdminSettings(), data) == (token, path)


def test_token_file_tightened_and_empty_refused(tmp_path: Path) -> None:
    path = tmp_path / TOKEN_FILE
    path.write_text("  from-file \n")
    path.chmod(0o644)
    assert admin_token(AdminSettings(), tmp_path) == ("from-file", path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("\n")
    with pytest.raises(AdminTokenError, match="empty"):
        admin_token(AdminSettings(), tmp_path)
