"""The runtime settings commands: ``settings get`` and ``settings set`` (e.g. ``eks-refresh-cron``)."""

from __future__ import annotations

import argparse
import json

from ._args import Subcommands, action_group
from ._client import client_from_args, quote
from ._output import print_table


def add_commands(sub: Subcommands, conn: argparse.ArgumentParser) -> None:
    """``settings ACTION``, as a subcommand of ``sub``; ``conn`` holds the connection options."""
    settings = action_group(sub, "settings", "read or change runtime settings")
    sget = settings.add_parser("get", parents=[conn], help="show every setting, or one value")
    sget.add_argument("name", nargs="?")
    sget.set_defaults(func=cmd_settings_get)
    sset = settings.add_parser("set", parents=[conn], help="change a setting (e.g. eks-refresh-cron)")
    sset.add_argument("name")
    sset.add_argument("value")
    sset.set_defaults(func=cmd_settings_set)


def cmd_settings_get(args: argparse.Namespace) -> int:
    client = client_from_args(args)
    if args.name:
        print(client.call("GET", f"/v1/settings/{quote(args.name)}")["value"])
        return 0
    items = client.call("GET", "/v1/settings")["items"]
    print_table(["NAME", "VALUE"], [[k, v] for k, v in sorted(items.items())])
    return 0


def cmd_settings_set(args: argparse.Namespace) -> int:
    body = json.dumps({"value": args.value}).encode()
    answer = client_from_args(args).call("PUT", f"/v1/settings/{quote(args.name)}", body)
    print(f"setting/{answer['name']} set to {answer['value']!r}")
    return 0
