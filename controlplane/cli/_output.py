"""The output layer: tables, JSON and YAML documents, and the human-readable bits (ages) in them.

A command that lists objects declares its table once, as a ``Table`` (titles and a row function over one
API object), and hands what the API answered to ``show_list``. The declaration knows nothing of how the
list arrived, so other ways of showing the same objects (a streamed ``--watch``: a row or a JSON line per
change; a ``get`` that follows pages) reuse each command's ``Table`` as it is.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controlplane.api import encode_yaml

FORMATS = ("table", "json", "yaml")
"""The values of ``-o/--output``."""


def add_output_option(parser: argparse.ArgumentParser) -> None:
    """``-o/--output``, for the commands that print API objects."""
    parser.add_argument("-o", "--output", choices=FORMATS, default="table")


@dataclass(frozen=True, slots=True)
class Table:
    """How a list of API objects prints as a table: one row per object."""

    headers: tuple[str, ...]
    """The column titles."""
    row: Callable[[Any], list[str]]
    """One object's cells, in the order of ``headers``."""
    empty: str
    """Said on stderr instead of an empty table (stdout stays empty, for scripts)."""


def show_list(output: str, document: Any, items: Sequence[Any], table: Table) -> None:
    """A list the API answered: the whole ``document`` as JSON/YAML, or its ``items`` as ``table``."""
    if output != "table":
        dump(document, output)
    elif not items:
        print(table.empty, file=sys.stderr)
    else:
        print_table(table.headers, [table.row(item) for item in items])


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Left-aligned columns, each as wide as its widest cell, three spaces apart."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    for row in (headers, *rows):
        print("   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def dump(obj: Any, output: str) -> None:
    """``obj`` as an indented JSON document (``output == "json"``) or as YAML."""
    if output == "json":
        print(json.dumps(obj, indent=2))
    else:
        print(encode_yaml(obj).rstrip())


def age(timestamp: str, now: datetime | None = None) -> str:
    """``2m ago``-style age of an RFC 3339 timestamp (``-`` when absent; unreadable text is shown as is)."""
    if not timestamp:
        return "-"
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    if seconds < 0:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def indent(obj: Any, prefix: str = "  ") -> str:
    """``obj`` as YAML, every line indented (a block inside ``describe``)."""
    text = encode_yaml(obj).rstrip()
    return "\n".join(prefix + line for line in text.splitlines())


class RowStream:
    """A table printed as it grows (``--watch``): the first rows set the column widths, later rows
    reuse them (a wider cell pushes its line out rather than re-printing what was shown)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.widths = [len(h) for h in table.headers]
        self.started = False

    def show(self, items: Sequence[Any]) -> None:
        """Print ``items`` (the header first, once)."""
        rows = [self.table.row(item) for item in items]
        if not self.started:
            for row in rows:
                self.widths = [max(w, len(c)) for w, c in zip(self.widths, row, strict=True)]
            rows.insert(0, list(self.table.headers))
            self.started = True
        for row in rows:
            print("   ".join(c.ljust(w) for c, w in zip(row, self.widths, strict=True)).rstrip(), flush=True)


def dump_line(obj: Any) -> None:
    """``obj`` as one compact JSON line (a streamed event)."""
    print(json.dumps(obj, separators=(",", ":")), flush=True)
