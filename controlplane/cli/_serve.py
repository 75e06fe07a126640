"""The commands that run a process rather than call one: ``serve`` (the control plane), ``sim`` (the AWS
simulator) and ``load`` (a load test). ``sim`` and ``load`` parse their own arguments: ``main`` hands them
everything after the command name (``PASSTHROUGH``)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

from ._client import CliError


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], conn: argparse.ArgumentParser
) -> None:
    """``serve``, and the names of the pass-through commands for the help (``conn`` is not used)."""
    serve = sub.add_parser("serve", help="run the control plane service")
    serve.add_argument("--config", help="TOML config file (default: config/controlplane.toml if present)")
    serve.add_argument("--listen", help="admin API HOST:PORT")
    serve.add_argument("--data-dir", help="state directory (SQLite database, admin token)")
    serve.add_argument("--sim", action="store_true", help="run against the built-in AWS simulator")
    serve.add_argument("--aws-endpoint", help="override every AWS endpoint with this URL")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=cmd_serve)

    for name, (_, help_text) in PASSTHROUGH.items():
        sub.add_parser(name, help=help_text, add_help=False)


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


PASSTHROUGH: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "sim": (_run_sim, "run the AWS simulator (arguments are passed to it; try `sim --help`)"),
    "load": (_run_load, "run a load test (arguments are passed to it; try `load --help`)"),
}
