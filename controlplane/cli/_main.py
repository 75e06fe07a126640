"""Argument parsing and dispatch: ``main`` builds the parser and runs the chosen command."""

from __future__ import annotations

import argparse
import sys

from . import _bulk, _clusters, _credentials, _get, _iam, _replicas, _serve, _settings, _store, _top
from ._client import CliError, connection_options


def build_parser() -> argparse.ArgumentParser:
    """Every command; each command group module adds its own (in this order in ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="controlplane", description="An asyncio control plane for fleets of Amazon EKS clusters."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    conn = connection_options()
    _serve.add_commands(sub, conn)
    _clusters.add_commands(sub, conn)
    _get.add_commands(sub, conn)
    _bulk.add_commands(sub, conn)
    _top.add_commands(sub, conn)
    _credentials.add_commands(sub, conn)
    _settings.add_commands(sub, conn)
    _replicas.add_commands(sub, conn)
    _store.add_commands(sub, conn)
    _iam.add_commands(sub, conn)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` (default: the process's arguments) names; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in _serve.PASSTHROUGH:
            return _serve.PASSTHROUGH[argv[0]][0](argv[1:])
        args = build_parser().parse_args(argv)
        result: int = args.func(args)
        return result
    except CliError as exc:
        print(f"controlplane: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `controlplane get | head`: the reader went away; not an error worth a traceback.
        return 0
