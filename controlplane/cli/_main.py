"""Argument parsing and dispatch: ``main`` builds the parser and runs the chosen command."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

from . import _clusters, _credentials, _iam, _settings
from ._client import CliError, connection_options

# --- service, simulator, load test ---------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from controlplane.service import serve_from_args  # noqa: PLC0415 - lazy: fast start

    return serve_from_args(args)


def _run_sim(argv: list[str]) -> int:
    from controlplane.sim import main as sim_main  # noqa: PLC0415 - lazy: fast start

    return sim_main(argv)


def _run_load(argv: list[str]) -> int:
    # Optional: the load test ships with the benchmarks extra; import it by name so its absence is a
    # clear message instead of a traceback.
    try:
        module = importlib.import_module("controlplane.loadtest")
    except ModuleNotFoundError as exc:
        if exc.name != "controlplane.loadtest":
            raise
        raise CliError("the load test is not available in this installation") from None
    load_main: Callable[[list[str]], int] = module.main
    return load_main(argv)


_PASSTHROUGH: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "sim": (_run_sim, "run the AWS simulator (arguments are passed to it; try `sim --help`)"),
    "load": (_run_load, "run a load test (arguments are passed to it; try `load --help`)"),
}


# --- argument parsing ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="controlplane", description="An asyncio control plane for fleets of Amazon EKS clusters."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    conn = connection_options()

    serve = sub.add_parser("serve", help="run the control plane service")
    serve.add_argument("--config", help="TOML config file (default: config/controlplane.toml if present)")
    serve.add_argument("--listen", help="admin API HOST:PORT")
    serve.add_argument("--data-dir", help="state directory (SQLite database, admin token)")
    serve.add_argument("--sim", action="store_true", help="run against the built-in AWS simulator")
    serve.add_argument("--aws-endpoint", help="override every AWS endpoint with this URL")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=cmd_serve)

    for name, (_, help_text) in _PASSTHROUGH.items():
        sub.add_parser(name, help=help_text, add_help=False)
    _clusters.add_commands(sub, conn)
    _credentials.add_commands(sub, conn)
    _settings.add_commands(sub, conn)
    _iam.add_commands(sub, conn)

    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in _PASSTHROUGH:
            return _PASSTHROUGH[argv[0]][0](argv[1:])
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
