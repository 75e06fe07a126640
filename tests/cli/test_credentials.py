"""``credentials set/list/delete``: secrets go in, never come out."""

from __future__ import annotations

import json

import pytest

from ..admin._support import SECRET, Api
from ._support import Run, cli

pytestmark = pytest.mark.anyio


async def test_credentials(api: Api, run: Run) -> None:
    code, out, err = await cli(
        api, "credentials", "set", "cattle-global-data/aws", "--access-key", "AKIAEXAMPLE",
        "--secret-key-stdin", stdin=SECRET.encode() + b"\n",
    )  # fmt: skip
    assert (code, out.strip()) == (0, "credential/cattle-global-data/aws created"), err
    stored = await api.store.get_credential("cattle-global-data", "aws")
    assert stored is not None
    assert stored.secret_key == SECRET
    code, out, err = await cli(
        api, "credentials", "set", "cattle-global-data:aws", "--access-key", "AKIAEXAMPLE",
        "--secret-key", SECRET, "--role-arn", "arn:aws:iam::123456789012:role/eks",
    )  # fmt: skip
    assert (code, out.strip()) == (0, "credential/cattle-global-data/aws configured"), err

    code, out, err = await run("credentials", "list")
    assert code == 0, err
    assert "AKIAEXAMPLE" in out
    assert "arn:aws:iam::123456789012:role/eks" in out
    code, out_json, _ = await run("credentials", "list", "-o", "json")
    assert json.loads(out_json)["items"][0]["accessKeyId"] == "AKIAEXAMPLE"
    assert SECRET not in out + out_json + err

    code, _, err = await run("credentials", "set", "bad", "--access-key", "A", "--secret-key", "S")
    assert code == 1
    assert "NAMESPACE/NAME" in err
    code, out, err = await run("credentials", "delete", "cattle-global-data/aws")
    assert (code, out.strip()) == (0, "credential/cattle-global-data/aws deleted"), err
    code, _, err = await run("credentials", "delete", "cattle-global-data/aws")
    assert code == 1
    assert "not found" in err
