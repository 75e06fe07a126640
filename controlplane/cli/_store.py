"""``store copy``: move a whole fleet from one store to another (SQLite to PostgreSQL or back), with the
service stopped. It works on the databases directly, not through the admin API."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ._args import Subcommands, action_group
from ._client import CliError

if TYPE_CHECKING:
    from controlplane.store import CopySummary, Portable


def add_commands(sub: Subcommands, conn: argparse.ArgumentParser) -> None:
    """``store copy`` (``conn`` is not used: no server is involved)."""
    actions = action_group(sub, "store", "work on a store's database directly (the service stopped)")
    copy = actions.add_parser(
        "copy",
        help="copy every cluster, event, credential, setting and secret into an empty store",
        description="Copy a whole fleet from one store to another, e.g. SQLite to PostgreSQL. Stop the "
        "service first. The target must be empty; the counts are verified afterwards. Secrets are "
        "decrypted with the source's key and encrypted with the target's. Prefer a password in "
        "PGPASSWORD or ~/.pgpass to one in the URL (command lines are visible to other users).",
    )
    copy.add_argument(
        "--from", dest="source", required=True, metavar="URL", help="sqlite:///PATH or postgresql://..."
    )
    copy.add_argument(
        "--to", dest="target", required=True, metavar="URL", help="sqlite:///PATH or postgresql://..."
    )
    copy.add_argument(
        "--from-key-file",
        metavar="FILE",
        help="the source's secret key (default for SQLite: secret.key beside the database)",
    )
    copy.add_argument(
        "--to-key-file",
        metavar="FILE",
        help="the target's secret key (required for PostgreSQL; for SQLite, secret.key beside the database, "
        "generated when absent)",
    )
    copy.set_defaults(func=cmd_copy)


def cmd_copy(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415 - lazy: the store's drivers are slow to import

    from controlplane.store import StoreError  # noqa: PLC0415

    try:
        summary = asyncio.run(_copy(args.source, args.target, args.from_key_file, args.to_key_file))
    except StoreError as exc:
        raise CliError(str(exc)) from None
    print(summary)
    return 0


async def _copy(
    source_url: str, target_url: str, source_key: str | None, target_key: str | None
) -> CopySummary:
    from controlplane.store import copy_store  # noqa: PLC0415

    source = _store(source_url, source_key, "--from-key-file", must_exist=True)
    target = _store(target_url, target_key, "--to-key-file", must_exist=False)
    if source.url == target.url:
        raise CliError(f"--from and --to are the same store ({source.url})")

    def progress(done: int, total: int) -> None:
        print(f"copied {done}/{total} clusters", file=sys.stderr, flush=True)

    async with source, target:
        return await copy_store(source, target, progress=progress)


def _store(url: str, key_file: str | None, flag: str, *, must_exist: bool) -> Portable:
    from controlplane.store import StoreSettings, open_store, parse_url  # noqa: PLC0415

    parsed = parse_url(url)
    if parsed.backend == "postgresql":
        if not key_file:
            raise CliError(f"{flag} is required for a PostgreSQL store ({parsed.redacted})")
        return open_store(url, StoreSettings(secret_key_file=key_file), data_dir=".")
    path = Path(parsed.target)
    if must_exist and not path.is_file():
        raise CliError(f"no SQLite database at {path}")
    return open_store(url, StoreSettings(secret_key_file=key_file or ""), data_dir=path.parent)
