"""The cluster commands ``apply``, ``describe`` and ``delete``, and the cluster table ``get`` prints."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import msgspec

from controlplane.api import ClusterStatus, ManifestError, decode_manifests

from ._args import Subcommands, positive
from ._client import ApiClient, CliError, client_from_args, quote
from ._output import Table, age, indent, print_table


def add_commands(sub: Subcommands, conn: argparse.ArgumentParser) -> None:
    """The cluster commands, as subcommands of ``sub``; ``conn`` holds the connection options."""
    apply = sub.add_parser("apply", parents=[conn], help="create or update clusters from manifests")
    apply.add_argument("-f", "--filename", required=True, help="YAML/JSON file (several documents) or -")
    apply.set_defaults(func=cmd_apply)

    describe = sub.add_parser("describe", parents=[conn], help="show a cluster in detail, with events")
    describe.add_argument("name")
    describe.add_argument("--events", type=int, default=20, help="recent events shown (%(default)s)")
    describe.set_defaults(func=cmd_describe)

    delete = sub.add_parser("delete", parents=[conn], help="delete a cluster and its AWS resources")
    delete.add_argument("name")
    delete.add_argument("--wait", action="store_true", help="wait until the cluster is gone")
    delete.add_argument("--timeout", type=positive, default=1800.0, help="seconds to --wait (%(default)s)")
    delete.add_argument("--poll-interval", type=positive, default=1.0, help=argparse.SUPPRESS)
    delete.set_defaults(func=cmd_delete)


def _phase(cluster: dict[str, Any]) -> str:
    status = cluster.get("status") or {}
    if cluster.get("metadata", {}).get("deletionTimestamp") and status.get("phase") != "deleting":
        return "deleting"
    return status.get("phase") or "new"


def needs_attention(condition: dict[str, Any]) -> bool:
    """A condition the user should act on: ``False`` with a message, or a ``Conflict`` that holds.
    ``Unknown`` is work in progress (``describe`` shows it); ``True`` is fine."""
    if not condition.get("message"):
        return False
    if condition.get("type") == "Conflict":
        return condition.get("status") == "True"
    return condition.get("status") == "False"


def _message(cluster: dict[str, Any]) -> str:
    """The MESSAGE column: the failure message, else the first condition that needs attention."""
    status = cluster.get("status") or {}
    message: str = status.get("failureMessage") or ""
    if not message:
        for cond in status.get("conditions") or []:
            if needs_attention(cond):
                message = f"{cond.get('type')}: {cond['message']}"
                break
    message = " ".join(message.split())
    return message if len(message) <= 60 else message[:57] + "..."


def _eks(cluster: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = (cluster.get("spec") or {}).get("eksConfig") or {}
    return spec


def _upstream(cluster: dict[str, Any]) -> dict[str, Any]:
    status = cluster.get("status") or {}
    upstream: dict[str, Any] = (status.get("eksStatus") or {}).get("upstreamSpec") or {}
    return upstream


def _version(cluster: dict[str, Any]) -> str:
    version = _eks(cluster).get("kubernetesVersion") or _upstream(cluster).get("kubernetesVersion")
    return str(version) if version else "-"


def _node_groups(cluster: dict[str, Any]) -> str:
    groups = _eks(cluster).get("nodeGroups")
    if groups is None:
        groups = _upstream(cluster).get("nodeGroups")
    return "-" if groups is None else str(len(groups))


def _warning(cluster: dict[str, Any]) -> str:
    """What costs money or is about to change without asking: extended support."""
    eks_status = (cluster.get("status") or {}).get("eksStatus") or {}
    support = (_upstream(cluster).get("upgradePolicy") or {}).get("supportType")
    if eks_status.get("versionSupport") == "EXTENDED_SUPPORT" and support != "STANDARD":
        return "extended support (extra cost)"
    return "-"


def _cluster_row(cluster: dict[str, Any]) -> list[str]:
    status = cluster.get("status") or {}
    return [
        cluster["metadata"]["name"],
        _phase(cluster),
        _version(cluster),
        _node_groups(cluster),
        age(status.get("lastSyncTime", "")),
        _warning(cluster),
        _message(cluster) or "-",
    ]


CLUSTER_TABLE = Table(
    ("NAME", "PHASE", "VERSION", "NODEGROUPS", "LAST SYNC", "WARNING", "MESSAGE"),
    _cluster_row,
    empty="No clusters found.",
)


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None


def cmd_apply(args: argparse.Namespace) -> int:
    data = _read_input(args.filename)
    try:
        clusters = decode_manifests(data)
    except ManifestError as exc:
        raise CliError(f"{args.filename}: {exc}") from None
    if not clusters:
        raise CliError(f"{args.filename}: no manifest found")
    client = client_from_args(args)
    failed = 0
    for cluster in clusters:
        name = cluster.metadata.name or cluster.spec.eks_config.display_name
        try:
            print(_apply_one(client, msgspec.structs.replace(cluster, status=ClusterStatus()), name))
        except CliError as exc:
            failed += 1
            print(f"cluster/{name}: {exc}", file=sys.stderr)
    return 1 if failed else 0


def _apply_one(client: ApiClient, cluster: Any, name: str) -> str:
    existing = client.call("GET", f"/v1/clusters/{quote(name)}", allow_404=True)
    if existing is None:
        client.call("POST", "/v1/clusters", msgspec.json.encode(cluster))
        return f"cluster/{name} created"
    wanted = msgspec.to_builtins(cluster.spec)
    labels = cluster.metadata.labels
    if wanted == existing.get("spec") and (not labels or labels == existing["metadata"].get("labels", {})):
        return f"cluster/{name} unchanged"
    # The resourceVersion just read makes the replace conditional: a concurrent edit is a 409, not lost.
    metadata = msgspec.structs.replace(
        cluster.metadata, name=name, resource_version=existing["metadata"].get("resourceVersion", "")
    )
    body = msgspec.json.encode(msgspec.structs.replace(cluster, metadata=metadata))
    client.call("PUT", f"/v1/clusters/{quote(name)}", body)
    return f"cluster/{name} configured"


def cmd_describe(args: argparse.Namespace) -> int:
    client = client_from_args(args)
    name = quote(args.name)
    cluster = client.call("GET", f"/v1/clusters/{name}")
    events = client.call("GET", f"/v1/clusters/{name}/events?limit={args.events}")["items"]
    meta = cluster["metadata"]
    status = cluster.get("status") or {}
    eks_status = status.get("eksStatus") or {}
    spec = cluster.get("spec") or {}
    labels = ", ".join(f"{k}={v}" for k, v in sorted((meta.get("labels") or {}).items())) or "<none>"
    fields = [
        ("Name", meta["name"]),
        ("Labels", labels),
        ("Created", meta.get("creationTimestamp") or "-"),
        ("Deletion requested", meta.get("deletionTimestamp") or "-"),
        ("Resource version", meta.get("resourceVersion") or "-"),
        ("Generation", f"{meta.get('generation', 0)} (observed {status.get('observedGeneration', 0)})"),
        ("Phase", _phase(cluster)),
        ("Failure", status.get("failureMessage") or "-"),
        ("Sync policy", spec.get("syncPolicy", "three-way")),
        ("Last sync", f"{status.get('lastSyncTime') or '-'} ({age(status.get('lastSyncTime', ''))})"),
        ("API endpoint", status.get("apiEndpoint") or "-"),
        ("VPC", eks_status.get("virtualNetwork") or "-"),
        ("Subnets", ", ".join(eks_status.get("subnets") or []) or "-"),
        ("Security groups", ", ".join(eks_status.get("securityGroups") or []) or "-"),
    ]
    if eks_status.get("privateRequiresTunnel") is not None:
        fields.append(("Private requires tunnel", str(eks_status["privateRequiresTunnel"]).lower()))
    width = max(len(k) for k, _ in fields) + 2
    for key, value in fields:
        print(f"{key + ':':<{width}}{value}")
    print("Spec (eksConfig; absent fields are unmanaged):")
    print(indent(spec.get("eksConfig") or {}))
    print("Conditions:")
    conditions = status.get("conditions") or []
    if conditions:
        print_table(
            ["  TYPE", "STATUS", "LAST UPDATE", "REASON", "MESSAGE"],
            [
                [
                    "  " + c.get("type", ""),
                    c.get("status", "Unknown"),
                    age(c.get("lastUpdateTime", "")),
                    c.get("reason") or "-",
                    c.get("message") or "-",
                ]
                for c in conditions
            ],
        )
    else:
        print("  <none>")
    print("Events:")
    if events:
        print_table(
            ["  AGE", "TYPE", "REASON", "MESSAGE"],
            [["  " + age(e["time"]), e["type"], e["reason"], e["message"]] for e in events],
        )
    else:
        print("  <none>")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    client = client_from_args(args)
    path = f"/v1/clusters/{quote(args.name)}"
    client.call("DELETE", path)
    print(f"cluster/{args.name} deletion requested")
    if not args.wait:
        return 0
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if client.call("GET", path, allow_404=True) is None:
            print(f"cluster/{args.name} deleted")
            return 0
        time.sleep(min(args.poll_interval, max(0.0, deadline - time.monotonic())))
    raise CliError(f"timed out after {args.timeout:g}s waiting for cluster/{args.name} to be deleted")
