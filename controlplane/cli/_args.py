"""What the command group modules share to declare their arguments."""

from __future__ import annotations

import argparse
from typing import TypeAlias

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""Where a command group module adds its commands (``add_subparsers()``'s answer)."""


def action_group(sub: Subcommands, name: str, help_text: str) -> Subcommands:
    """``controlplane NAME ACTION``: a command whose subcommands are actions on one kind of object."""
    return sub.add_parser(name, help=help_text).add_subparsers(dest="action", metavar="ACTION", required=True)


def count(value: str) -> int:
    """An argparse type: a whole number of at least one."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value!r}")
    return number


def positive(value: str) -> float:
    """An argparse type: a number of seconds greater than zero."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value!r}")
    return number
