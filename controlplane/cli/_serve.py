"""The commands that run a process rather than call one: ``serve`` (the control plane), ``sim`` (the AWS
simulator), ``load`` (a load test) and ``chaos`` (the fault matrix). ``sim``, ``load`` and ``chaos`` parse
their own arguments: ``main`` hands them everything after the command name (``PASSTHROUGH``)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._args import Subcommands, count
from ._client import CliError

DEFAULT_CONFIG = Path("config/controlplane.toml")
"""The config file ``serve`` reads when ``--config`` is not given, if it exists: relative to the working
directory, so a checkout's shipped config."""


def add_commands(sub: Subcommands, conn: argparse.ArgumentParser) -> None:
    """``serve``, and the names of the pass-through commands for the help (``conn`` is not used)."""
    serve = sub.add_parser("serve", help="run the control plane service")
    serve.add_argument("--config", help="TOML config file (default: config/controlplane.toml if present)")
    serve.add_argument("--listen", help="admin API HOST:PORT")
    serve.add_argument("--data-dir", help="state directory (SQLite database, admin token)")
    serve.add_argument(
        "--store",
        metavar="URL",
        help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB (default: sqlite:///<data-dir>/controlplane.db)",
    )
    serve.add_argument("--sim", action="store_true", help="run against the built-in AWS simulator")
    serve.add_argument("--aws-endpoint", help="override every AWS endpoint with this URL")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--workers",
        type=count,
        default=1,
        help="run N replica processes under this one, sharing the admin port (all the cores of a machine)",
    )
    serve.set_defaults(func=cmd_serve)

    for name, (_, help_text) in PASSTHROUGH.items():
        sub.add_parser(name, help=help_text, add_help=False)


def cmd_serve(args: argparse.Namespace) -> int:
    """Settings from the config file, the environment and the flags, checked before anything starts
    (exit code 2 names the bad setting); then the service runs until SIGTERM/SIGINT."""
    # Lazy: the service, aiobotocore and the store are slow to import, and only serve needs them.
    import asyncio  # noqa: PLC0415

    import msgspec  # noqa: PLC0415

    from controlplane.aws import AwsSettings  # noqa: PLC0415
    from controlplane.config import ConfigError, load_settings  # noqa: PLC0415
    from controlplane.logs import configure_logging  # noqa: PLC0415
    from controlplane.schedule import parse_refresh_cron  # noqa: PLC0415
    from controlplane.service import serve  # noqa: PLC0415
    from controlplane.store import StoreError, StoreSettings, parse_url  # noqa: PLC0415

    config = args.config or (DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None)
    try:
        settings = load_settings(config, overrides=_overrides(args))
        msgspec.convert(settings.aws, AwsSettings)
        store = msgspec.convert(settings.store, StoreSettings)
        parse_refresh_cron(settings.sync.refresh_cron)
    except (ConfigError, msgspec.ValidationError, ValueError) as exc:
        print(f"controlplane: {exc}", file=sys.stderr)
        return 2
    if store.url:
        try:
            parse_url(store.url)
        except StoreError as exc:
            print(f"controlplane: invalid setting store.url: {exc}", file=sys.stderr)
            return 2
    configure_logging(settings.service.log_level, settings.service.log_format)
    if args.workers > 1:
        if args.sim:
            print(
                "controlplane: --workers cannot be combined with --sim (one simulator per process)",
                file=sys.stderr,
            )
            return 2
        return _serve_workers(settings, args.workers)
    from controlplane.replicas import die_with_parent  # noqa: PLC0415

    if not die_with_parent():
        print("controlplane: the parent of this worker is gone; not starting", file=sys.stderr)
        return 0
    try:
        return asyncio.run(serve(settings, sim=args.sim))
    except StoreError as exc:
        # The store refused to open (a wrong secret key, an unreachable database): one clear line.
        raise CliError(str(exc)) from None
    except OSError as exc:
        # Typically the listen address is taken; a traceback would bury the one line that matters.
        raise CliError(f"{exc.strerror or exc} ({settings.admin.listen})") from None


def _serve_workers(settings: Any, workers: int) -> int:
    """The parent of ``serve --workers N``: reserve the port, create the token, supervise the workers."""
    from controlplane.admin import admin_token  # noqa: PLC0415
    from controlplane.config import parse_listen  # noqa: PLC0415
    from controlplane.replicas import (  # noqa: PLC0415
        WorkerPool,
        reserve_port,
        resolve_identity,
        worker_command,
        worker_env,
    )

    data_dir = Path(settings.service.data_dir)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    host, port = parse_listen(settings.admin.listen)
    try:
        reserved = reserve_port(host, port)
    except OSError as exc:
        raise CliError(f"{exc.strerror or exc} ({settings.admin.listen})") from None
    identity = resolve_identity(settings.replica.id, data_dir)
    try:
        _, token_path = admin_token(settings.admin, data_dir)  # once, before the workers race for it
        bound = reserved.getsockname()[1]
        listen = f"[{host}]:{bound}" if ":" in host else f"{host}:{bound}"
        pool = WorkerPool(
            workers,
            command=worker_command(sys.argv[1:], listen),
            env=worker_env(),
            base_id=identity.id,
            stop_timeout=settings.service.shutdown_timeout + 5.0,
        )
        print(f"eks-controlplane: {workers} workers, admin API http://{listen}", file=sys.stderr, flush=True)
        if token_path is not None:
            print(f"eks-controlplane: admin token in {token_path}", file=sys.stderr, flush=True)
        return pool.run()
    finally:
        identity.close()
        reserved.close()


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The settings the flags given override, by config section (flags beat the file and the env)."""
    overrides: dict[str, dict[str, Any]] = {}
    if args.listen:
        overrides.setdefault("admin", {})["listen"] = args.listen
    if args.data_dir:
        overrides.setdefault("service", {})["data_dir"] = args.data_dir
    if args.store:
        overrides.setdefault("store", {})["url"] = args.store
    if args.log_level:
        overrides.setdefault("service", {})["log_level"] = args.log_level
    if args.aws_endpoint:
        overrides.setdefault("aws", {})["endpoint_url"] = args.aws_endpoint
    return overrides


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


def _run_chaos(argv: list[str]) -> int:
    # ``controlplane chaos ARGS`` is ``controlplane load --chaos ARGS``: the same optional package.
    return _run_load(["--chaos", *argv])


PASSTHROUGH: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "sim": (_run_sim, "run the AWS simulator (arguments are passed to it; try `sim --help`)"),
    "load": (_run_load, "run a load test (arguments are passed to it; try `load --help`)"),
    "chaos": (_run_chaos, "run the chaos scenarios against a fleet (try `chaos --help`)"),
}
