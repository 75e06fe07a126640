"""The credential commands: ``credentials set``, ``credentials list`` and ``credentials delete``.

Secrets only ever go to the server: ``set`` reads the secret key from stdin (or, visibly, a flag) and the
server never answers with it.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ._args import Subcommands, action_group
from ._client import CliError, client_from_args, quote
from ._output import Table, add_output_option, show_list


def add_commands(sub: Subcommands, conn: argparse.ArgumentParser) -> None:
    """``credentials ACTION``, as a subcommand of ``sub``; ``conn`` holds the connection options."""
    creds = action_group(sub, "credentials", "manage AWS credentials")
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
