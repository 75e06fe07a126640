"""Argument parsing and dispatch: ``main`` builds the parser and runs the chosen command."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from controlplane.api import ClusterStatus, ManifestError, decode_manifests

from ._client import ApiClient, CliError, client_from_args, connection_options, positive, quote
from ._output import Table, add_output_option, age, indent, print_table, show_list


def _phase(cluster: dict[str, Any]) -> str:
    status = cluster.get("status") or {}
    if cluster.get("metadata", {}).get("deletionTimestamp") and status.get("phase") != "deleting":
        return "deleting"
    return status.get("phase") or "new"


def _message(cluster: dict[str, Any]) -> str:
    status = cluster.get("status") or {}
    message: str = status.get("failureMessage") or ""
    if not message:
        for cond in status.get("conditions") or []:
            if cond.get("message") and cond.get("status") != "True":
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


def _cluster_row(cluster: dict[str, Any]) -> list[str]:
    status = cluster.get("status") or {}
    return [
        cluster["metadata"]["name"],
        _phase(cluster),
        _version(cluster),
        _node_groups(cluster),
        age(status.get("lastSyncTime", "")),
        _message(cluster) or "-",
    ]


CLUSTER_TABLE = Table(
    ("NAME", "PHASE", "VERSION", "NODEGROUPS", "LAST SYNC", "MESSAGE"),
    _cluster_row,
    empty="No clusters found.",
)


# --- cluster commands ----------------------------------------------------------------------------------


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


def cmd_get(args: argparse.Namespace) -> int:
    client = client_from_args(args)
    if args.name:
        if args.phase is not None:
            raise CliError("--phase filters a list; it cannot be combined with NAME")
        cluster = client.call("GET", f"/v1/clusters/{quote(args.name)}")
        items = [cluster]
        obj: Any = cluster
    else:
        query = "" if args.phase is None else "?" + urllib.parse.urlencode({"phase": args.phase})
        obj = client.call("GET", f"/v1/clusters{query}")
        items = obj["items"]
    show_list(args.output, obj, items, CLUSTER_TABLE)
    return 0


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


def cmd_sync(args: argparse.Namespace) -> int:
    client_from_args(args).call("POST", f"/v1/clusters/{quote(args.name)}/sync")
    print(f"cluster/{args.name} sync queued")
    return 0


# --- credentials and settings --------------------------------------------------------------------------


def _credential_ref(value: str) -> tuple[str, str]:
    for sep in ("/", ":"):
        namespace, found, name = value.partition(sep)
        if found and namespace and name and sep not in name:
            return namespace, name
    raise CliError(f"invalid credential reference {value!r}; expected NAMESPACE/NAME")


def cmd_credentials_set(args: argparse.Namespace) -> int:
    namespace, name = _credential_ref(args.ref)
    if args.secret_key_stdin:
        secret = sys.stdin.readline().strip()
        if not secret:
            raise CliError("no secret key on stdin")
    else:
        secret = args.secret_key
    body: dict[str, str] = {"accessKey": args.access_key, "secretKey": secret}
    for key, value in (
        ("sessionToken", args.session_token),
        ("roleArn", args.role_arn),
        ("externalId", args.external_id),
    ):
        if value is not None:
            body[key] = value
    client = client_from_args(args)
    path = f"/v1/credentials/{quote(namespace)}/{quote(name)}"
    existed = client.call("GET", path, allow_404=True) is not None
    client.call("PUT", path, json.dumps(body).encode())
    print(f"credential/{namespace}/{name} {'configured' if existed else 'created'}")
    return 0


def _credential_row(credential: dict[str, Any]) -> list[str]:
    return [
        credential["namespace"],
        credential["name"],
        credential["accessKeyId"],
        "yes" if credential.get("hasSessionToken") else "no",
        credential.get("roleArn") or "-",
        credential.get("updated") or "-",
    ]


CREDENTIAL_TABLE = Table(
    ("NAMESPACE", "NAME", "ACCESS KEY ID", "SESSION TOKEN", "ROLE ARN", "UPDATED"),
    _credential_row,
    empty="No credentials found.",
)


def cmd_credentials_list(args: argparse.Namespace) -> int:
    items = client_from_args(args).call("GET", "/v1/credentials")["items"]
    show_list(args.output, {"items": items}, items, CREDENTIAL_TABLE)
    return 0


def cmd_credentials_delete(args: argparse.Namespace) -> int:
    namespace, name = _credential_ref(args.ref)
    client_from_args(args).call("DELETE", f"/v1/credentials/{quote(namespace)}/{quote(name)}")
    print(f"credential/{namespace}/{name} deleted")
    return 0


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


_IAM_PURPOSES = (
    ("generated-vpc", "the control plane creates VPCs (CloudFormation stacks)"),
    ("generated-service-role", "the control plane creates EKS service roles"),
    ("generated-node-role", "the control plane creates node group roles"),
    ("ebs-csi", "clusters enable the EBS CSI driver add-on"),
    ("ipv6", "clusters use the IPv6 family"),
    ("assume-role", "the stored keys assume a role (put this on the keys' identity)"),
)


def cmd_iam_policy(args: argparse.Namespace) -> int:
    from controlplane.aws import DEFAULT_PURPOSES, iam_policy  # noqa: PLC0415 - aiobotocore is slow

    purposes = {"core"}
    if args.all:
        purposes.update(DEFAULT_PURPOSES)
    purposes.update(p for p, _ in _IAM_PURPOSES if getattr(args, p.replace("-", "_")))
    print(json.dumps(iam_policy(purposes), indent=2))
    return 0


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

    apply = sub.add_parser("apply", parents=[conn], help="create or update clusters from manifests")
    apply.add_argument("-f", "--filename", required=True, help="YAML/JSON file (several documents) or -")
    apply.set_defaults(func=cmd_apply)

    get = sub.add_parser("get", parents=[conn], help="list clusters, or show one")
    get.add_argument("name", nargs="?", help="cluster name")
    add_output_option(get)
    get.add_argument("--phase", help="only clusters in this phase (new is the empty string)")
    get.set_defaults(func=cmd_get)

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

    sync = sub.add_parser("sync", parents=[conn], help="refresh a cluster from AWS now")
    sync.add_argument("name")
    sync.set_defaults(func=cmd_sync)

    creds = sub.add_parser("credentials", help="manage AWS credentials").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    cset = creds.add_parser("set", parents=[conn], help="create or replace a credential")
    cset.add_argument("ref", metavar="NAMESPACE/NAME")
    cset.add_argument("--access-key", required=True)
    secret = cset.add_mutually_exclusive_group(required=True)
    secret.add_argument("--secret-key-stdin", action="store_true", help="read the secret key from stdin")
    secret.add_argument("--secret-key", help="the secret key (visible in the process list: prefer stdin)")
    cset.add_argument("--session-token")
    cset.add_argument("--role-arn")
    cset.add_argument("--external-id")
    cset.set_defaults(func=cmd_credentials_set)
    clist = creds.add_parser("list", parents=[conn], help="list credentials (never their secrets)")
    add_output_option(clist)
    clist.set_defaults(func=cmd_credentials_list)
    cdel = creds.add_parser("delete", parents=[conn], help="delete a credential")
    cdel.add_argument("ref", metavar="NAMESPACE/NAME")
    cdel.set_defaults(func=cmd_credentials_delete)

    settings = sub.add_parser("settings", help="read or change runtime settings").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    sget = settings.add_parser("get", parents=[conn], help="show every setting, or one value")
    sget.add_argument("name", nargs="?")
    sget.set_defaults(func=cmd_settings_get)
    sset = settings.add_parser("set", parents=[conn], help="change a setting (e.g. eks-refresh-cron)")
    sset.add_argument("name")
    sset.add_argument("value")
    sset.set_defaults(func=cmd_settings_set)

    iam = sub.add_parser(
        "iam-policy",
        help="print the minimum IAM policy the control plane needs",
        description="The core actions, plus those of each selected purpose. No server needed.",
    )
    for purpose, help_text in _IAM_PURPOSES:
        iam.add_argument(f"--{purpose}", action="store_true", help=help_text)
    iam.add_argument("--all", action="store_true", help="every purpose except assume-role")
    iam.set_defaults(func=cmd_iam_policy)
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
