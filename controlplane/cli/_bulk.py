"""``sync`` and ``patch``: one cluster by name, or every cluster a selection picks (``-l``, ``--phase``...).

With a selection the server acts on each cluster on its own and answers one result per cluster, shown
as a table; ``--dry-run`` shows what would happen (for ``patch``: the fields that would change) and
changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from typing import Any

import yaml

from ._args import Subcommands
from ._client import ApiClient, CliError, client_from_args, quote
from ._get import add_selection_options, selection
from ._output import add_output_option, dump, print_table

MERGE_PATCH = "application/merge-patch+json"


def add_commands(sub: Subcommands, conn: argparse.ArgumentParser) -> None:
    sync = sub.add_parser("sync", parents=[conn], help="refresh a cluster, or a selection, from AWS now")
    sync.add_argument("name", nargs="?", help="cluster name (or select clusters with -l and friends)")
    add_selection_options(sync)
    sync.add_argument("--dry-run", action="store_true", help="show the clusters selected; sync none")
    add_output_option(sync)
    sync.set_defaults(func=cmd_sync)

    patch = sub.add_parser(
        "patch", parents=[conn], help="merge-patch a cluster, or every cluster of a selection"
    )
    patch.add_argument("name", nargs="?", help="cluster name (or select clusters with -l and friends)")
    add_selection_options(patch)
    source = patch.add_mutually_exclusive_group(required=True)
    source.add_argument("-p", "--patch", help="the merge patch, JSON or YAML (e.g. '{spec: {...}}')")
    source.add_argument("--patch-file", help="a file holding the merge patch (- for stdin)")
    patch.add_argument("--dry-run", action="store_true", help="show what would change; change nothing")
    add_output_option(patch)
    patch.set_defaults(func=cmd_patch)


def _target(args: argparse.Namespace) -> dict[str, str] | None:
    """The selection's filters, or ``None`` for one cluster by name; exactly one of them is needed."""
    params = selection(args)
    if args.name and params:
        raise CliError("give a cluster NAME or a selection (-l, --phase, ...), not both")
    if not args.name and not params:
        raise CliError("give a cluster NAME or a selection (-l, --phase, ...); -l '' selects every cluster")
    return None if args.name else params


def _show(answer: dict[str, Any], output: str, verb: str) -> int:
    if output != "table":
        dump(answer, output)
    elif not answer["items"]:
        print("No clusters selected.", file=sys.stderr)
    else:
        rows = []
        for item in answer["items"]:
            detail = ", ".join(item.get("changes") or []) or item.get("error") or ""
            rows.append([item["name"], item["result"], detail or "-"])
        print_table(["NAME", "RESULT", "DETAIL"], rows)
        counts = ", ".join(f"{n} {result}" for result, n in sorted(answer["results"].items()))
        prefix = "dry run: " if answer.get("dryRun") else ""
        print(f"{prefix}{answer['matched']} cluster(s) {verb}: {counts}", file=sys.stderr)
    return 1 if answer.get("results", {}).get("failed") else 0


def _bulk_path(path: str, params: dict[str, str], dry_run: bool) -> str:
    query = {**params, **({"dryRun": "All"} if dry_run else {})}
    return f"{path}?{urllib.parse.urlencode(query)}"


def cmd_sync(args: argparse.Namespace) -> int:
    params = _target(args)
    client = client_from_args(args)
    if params is None and not args.dry_run:
        client.call("POST", f"/v1/clusters/{quote(args.name)}/sync")
        print(f"cluster/{args.name} sync queued")
        return 0
    if params is None:
        client.call("GET", f"/v1/clusters/{quote(args.name)}")  # 404 if it does not exist
        print(f"cluster/{args.name} would sync")
        return 0
    answer = client.call("POST", _bulk_path("/v1/clusters:sync", params, args.dry_run))
    return _show(answer, args.output, "selected")


def _read_patch(args: argparse.Namespace) -> dict[str, Any]:
    if args.patch is not None:
        text, where = args.patch, "--patch"
    elif args.patch_file == "-":
        text, where = sys.stdin.read(), "stdin"
    else:
        try:
            with open(args.patch_file, encoding="utf-8") as f:
                text, where = f.read(), args.patch_file
        except OSError as exc:
            raise CliError(f"cannot read {args.patch_file}: {exc.strerror}") from None
    try:
        patch = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CliError(f"{where}: not JSON or YAML: {exc}") from None
    if not isinstance(patch, dict):
        raise CliError(f"{where}: a merge patch must be an object, like {{spec: {{eksConfig: {{...}}}}}}")
    return patch


def cmd_patch(args: argparse.Namespace) -> int:
    params = _target(args)
    patch = _read_patch(args)
    client = client_from_args(args)
    body = json.dumps(patch).encode()
    if params is None and not args.dry_run:
        client.call("PATCH", f"/v1/clusters/{quote(args.name)}", body, MERGE_PATCH)
        print(f"cluster/{args.name} patched")
        return 0
    if params is None:
        # A dry run of one cluster: the bulk endpoint with its name as the prefix, keeping just it.
        params = {"q": args.name}
        answer = _only(client, body, params, args.name)
    else:
        answer = client.call("PATCH", _bulk_path("/v1/clusters", params, args.dry_run), body, MERGE_PATCH)
    return _show(answer, args.output, "selected")


def _only(client: ApiClient, body: bytes, params: dict[str, str], name: str) -> dict[str, Any]:
    answer: dict[str, Any] = client.call("PATCH", _bulk_path("/v1/clusters", params, True), body, MERGE_PATCH)
    items = [item for item in answer["items"] if item["name"] == name]
    if not items:
        raise CliError(f"cluster {name!r} not found")
    results = {items[0]["result"]: 1}
    return {"dryRun": True, "matched": 1, "results": results, "items": items}
