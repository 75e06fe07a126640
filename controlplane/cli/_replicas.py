"""``controlplane replicas``: the replicas sharing the fleet, their shards and clusters."""

from __future__ import annotations

import argparse
from typing import Any

from ._args import Subcommands
from ._client import client_from_args
from ._output import Table, add_output_option, age, show_list

REPLICAS = Table(
    ("ID", "ADDRESS", "ALIVE", "HEARTBEAT", "SHARDS", "CLUSTERS"),
    lambda r: [
        r["id"],
        r["address"],
        "yes" if r["alive"] else "no",
        age(r["lastHeartbeat"]),
        str(len(r["shards"])),
        str(r["clusters"]),
    ],
    empty="No replicas.",
)


def add_commands(sub: Subcommands, conn: argparse.ArgumentParser) -> None:
    replicas = sub.add_parser("replicas", parents=[conn], help="list the replicas sharing the fleet")
    add_output_option(replicas)
    replicas.set_defaults(func=cmd_replicas)


def cmd_replicas(args: argparse.Namespace) -> int:
    document: dict[str, Any] = client_from_args(args).call("GET", "/v1/replicas")
    show_list(args.output, document, document["items"], REPLICAS)
    return 0
