"""A store that refuses (locked, disk full, unreachable) is a documented 503 with Retry-After, not a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controlplane.admin._openapi import openapi_document
from controlplane.store import StoreError

from ._support import AUTH, cluster, running_api

pytestmark = pytest.mark.anyio


async def test_a_refusing_store_is_a_503_to_retry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_api(tmp_path) as api:

        async def refuse(*args: Any, **kwargs: Any) -> Any:
            raise StoreError("sqlite: database or disk is full")

        monkeypatch.setattr(api.store, "create_cluster", refuse)
        monkeypatch.setattr(api.store, "list_page", refuse)
        resp = await api.client.post("/v1/clusters", json=cluster("full"), headers=AUTH)
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "1"
        assert (await resp.json())[
            "error"
        ] == "the store is unavailable, retry: sqlite: database or disk is full"
        assert (await api.client.get("/v1/clusters", headers=AUTH)).status == 503
        monkeypatch.undo()
        assert (await api.client.post("/v1/clusters", json=cluster("full"), headers=AUTH)).status == 201


def test_every_v1_operation_documents_401_500_and_503() -> None:
    for path, ops in openapi_document()["paths"].items():
        for method, op in ops.items():
            if path.startswith("/v1"):
                assert {"401", "500", "503"} <= set(op["responses"]), (method, path)
                assert "Retry-After" in op["responses"]["503"]["headers"]
