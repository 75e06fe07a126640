"""The output layer on its own: ages, table layout and the list renderer every list command uses."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from controlplane.cli._output import Table, age, print_table, show_list

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("", "-"),
        ("yesterday", "yesterday"),
        ("2024-01-02T03:04:05Z", "0s ago"),
        ("2024-01-02T03:03:06Z", "59s ago"),
        ("2024-01-02T03:03:05Z", "1m ago"),
        ("2024-01-02T01:04:06+00:00", "1h ago"),
        ("2023-12-30T03:04:05Z", "3d ago"),
        ("2024-01-02T03:04:05", "0s ago"),
        ("2024-01-02T03:05:00Z", "just now"),
    ],
)
def test_age(timestamp: str, expected: str) -> None:
    assert age(timestamp, NOW) == expected


# Cells are one line each, without trailing blanks (a line's trailing blanks are trimmed); a table of
# them is what `print_table` promises to align.
_cell = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=12).filter(
    lambda c: c == c.rstrip()
)


@given(st.integers(1, 5).flatmap(lambda n: st.lists(st.lists(_cell, min_size=n, max_size=n), min_size=1)))
def test_print_table_aligns_every_column(table: list[list[str]]) -> None:
    headers, *rows = table
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    starts = [sum(widths[:i]) + 3 * i for i in range(len(widths))]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_table(headers, rows)
    lines = out.getvalue().split("\n")
    assert lines[-1] == ""
    assert len(lines) - 1 == len(table)
    for line, row in zip(lines, table, strict=False):
        assert line == line.rstrip()
        padded = line.ljust(sum(widths) + 3 * len(widths))
        for cell, start, width in zip(row, starts, widths, strict=True):
            assert padded[start : start + width] == cell.ljust(width)


TABLE = Table(("NAME", "SIZE"), lambda item: [item["name"], str(item["size"])], empty="Nothing here.")
DOCUMENT: dict[str, Any] = {"items": [{"name": "a", "size": 10}, {"name": "bbbbbb", "size": 2}], "next": "x"}


def test_show_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    show_list("table", DOCUMENT, DOCUMENT["items"], TABLE)
    out, err = capsys.readouterr()
    assert out == "NAME     SIZE\na        10\nbbbbbb   2\n"
    assert err == ""


def test_show_list_documents_are_the_whole_answer(capsys: pytest.CaptureFixture[str]) -> None:
    show_list("json", DOCUMENT, DOCUMENT["items"], TABLE)
    assert json.loads(capsys.readouterr().out) == DOCUMENT
    show_list("yaml", DOCUMENT, DOCUMENT["items"], TABLE)
    assert yaml.safe_load(capsys.readouterr().out) == DOCUMENT


def test_show_list_empty(capsys: pytest.CaptureFixture[str]) -> None:
    show_list("table", {"items": []}, [], TABLE)
    assert capsys.readouterr() == ("", "Nothing here.\n")
    show_list("json", {"items": []}, [], TABLE)
    assert json.loads(capsys.readouterr().out) == {"items": []}
