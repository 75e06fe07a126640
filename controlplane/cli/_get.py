"""``get``: list clusters (every page, fetched one after another) or show one; ``--watch`` follows changes.

The selection flags map to the list API's filters, so the server does the filtering. ``--watch`` prints
the list, then one row (or one JSON line with ``-o json``) per change, from the list's resourceVersion,
re-watching when the server ends a watch and re-listing when its position expired (410).
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

from ._args import Subcommands
from ._client import ApiClient, CliError, ServerError, client_from_args, quote
from ._clusters import CLUSTER_TABLE
from ._output import RowStream, add_output_option, dump, dump_line, show_list

WATCH_SECONDS = 300
"""Each watch request asks the server to end after this; the CLI then re-watches from where it was."""


def add_selection_options(parser: argparse.ArgumentParser) -> None:
    """The filters of the list API, shared by ``get``, ``sync`` and ``patch``."""
    group = parser.add_argument_group("selection")
    group.add_argument("-l", "--selector", help="label selector: env=prod,tier!=dev,team in (a,b),!legacy")
    group.add_argument("--phase", help="only clusters in this phase (new is the empty string)")
    group.add_argument("--conflict", action="store_true", help="only clusters with a sync conflict")
    group.add_argument("--failing", action="store_true", help="only clusters with a failure message")
    group.add_argument("--prefix", help="only clusters whose name starts with this")


def selection(args: argparse.Namespace) -> dict[str, str]:
    """The list API's filter parameters the selection flags ask for."""
    params: dict[str, str] = {}
    if args.selector is not None:
        params["labelSelector"] = args.selector
    if args.phase is not None:
        params["phase"] = args.phase
    if args.conflict:
        params["conflict"] = "true"
    if args.failing:
        params["failing"] = "true"
    if args.prefix:
        params["q"] = args.prefix
    return params


def add_commands(sub: Subcommands, conn: argparse.ArgumentParser) -> None:
    get = sub.add_parser("get", parents=[conn], help="list clusters, or show one; --watch follows changes")
    get.add_argument("name", nargs="?", help="cluster name")
    add_output_option(get)
    add_selection_options(get)
    get.add_argument(
        "--limit", type=int, default=500, help="clusters per page fetched; every page is shown (%(default)s)"
    )
    get.add_argument("-w", "--watch", action="store_true", help="after the list, print every change")
    get.add_argument("--watch-timeout", type=int, help=argparse.SUPPRESS)  # stop watching after N s
    get.set_defaults(func=cmd_get)


def pages(client: ApiClient, params: dict[str, str], limit: int) -> Iterator[dict[str, Any]]:
    """Every page of the list, following ``metadata.continue``."""
    query = {**params, "limit": str(limit)}
    while True:
        page: dict[str, Any] = client.call("GET", "/v1/clusters?" + urllib.parse.urlencode(query))
        yield page
        token = page.get("metadata", {}).get("continue")
        if not token:
            return
        query["continue"] = token


def list_all(client: ApiClient, params: dict[str, str], limit: int) -> tuple[str, list[Any]]:
    """(the list's resourceVersion, every cluster)."""
    items: list[Any] = []
    rv = ""
    for page in pages(client, params, limit):
        rv = rv or str(page.get("metadata", {}).get("resourceVersion", ""))
        items += page["items"]
    return rv, items


def cmd_get(args: argparse.Namespace) -> int:
    params = selection(args)
    if not 1 <= args.limit <= 5000:
        raise CliError("--limit must be from 1 to 5000")
    client = client_from_args(args)
    if args.name:
        if params or args.watch:
            raise CliError("selection flags and --watch apply to lists; they cannot be combined with NAME")
        cluster = client.call("GET", f"/v1/clusters/{quote(args.name)}")
        show_list(args.output, cluster, [cluster], CLUSTER_TABLE)
        return 0
    rv, items = list_all(client, params, args.limit)
    document: dict[str, Any] = {
        "apiVersion": "eks-controlplane.io/v1",
        "kind": "ClusterList",
        "metadata": {"resourceVersion": rv},
        "items": items,
    }
    if not args.watch:
        show_list(args.output, document, items, CLUSTER_TABLE)
        return 0
    return _watch(client, args, params, rv, items)


def _show_rows(rows: RowStream, output: str, items: list[Any]) -> None:
    if output == "table":
        rows.show(items)
    else:
        for item in items:
            if output == "yaml":
                dump(item, output)
                print("---")
            else:
                dump_line(item)


def _watch(
    client: ApiClient, args: argparse.Namespace, params: dict[str, str], rv: str, items: list[Any]
) -> int:
    rows = RowStream(CLUSTER_TABLE)
    _show_rows(rows, args.output, items)
    deadline = None if args.watch_timeout is None else time.monotonic() + args.watch_timeout
    while deadline is None or time.monotonic() < deadline:
        left = WATCH_SECONDS if deadline is None else max(1, round(deadline - time.monotonic()))
        query = {**params, "watch": "true", "resourceVersion": rv, "timeoutSeconds": str(left)}
        expired = False
        try:
            for event in client.stream("/v1/clusters?" + urllib.parse.urlencode(query)):
                kind = event.get("type")
                if kind == "ERROR":  # the position was trimmed while the watch replayed it
                    expired = True
                    break
                rv = str(event.get("resourceVersion", rv))
                if kind != "BOOKMARK":
                    _show_event(rows, args.output, event)
        except ServerError as exc:
            if exc.status != 410:
                raise
            expired = True
        if expired:
            print("controlplane: the watch fell too far behind; listing again", file=sys.stderr)
            rv, items = list_all(client, params, args.limit)
            _show_rows(rows, args.output, items)
    return 0


def _show_event(rows: RowStream, output: str, event: dict[str, Any]) -> None:
    if output == "json":
        dump_line({"type": event["type"], "object": event["object"]})
        return
    if output == "yaml":
        dump({"type": event["type"], "object": event["object"]}, output)
        print("---")
        return
    obj = event["object"]
    if event["type"] == "DELETED":
        obj = {
            **obj,
            "status": {"phase": "deleted"},
            "metadata": {**obj.get("metadata", {}), "deletionTimestamp": ""},
        }
    rows.show([obj])
