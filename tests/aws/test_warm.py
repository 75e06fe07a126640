"""``AwsAdapter.warm`` loads botocore's data for every service before the service freezes its heap: a
fleet's first calls then load nothing the cyclic collector would walk on every full pass."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.aws import AwsAdapter, AwsSettings
from controlplane.aws._settings import SERVICES

pytestmark = pytest.mark.anyio


def _loaded(loader: Any) -> set[tuple[str, str]]:
    return {(key[1], key[2]) for key in loader._cache if key[0] == "load_service_model"}


async def test_warm_loads_every_service_model_and_later_clients_load_nothing() -> None:
    async with AwsAdapter(AwsSettings()) as aws:
        session: Any = aws._session
        loader = session.get_component("data_loader")
        assert _loaded(loader) == set()
        await aws.warm()
        warmed = _loaded(loader)
        for service in SERVICES:
            assert (service, "service-2") in warmed
            assert (service, "endpoint-rule-set-1") in warmed
        assert ("ec2", "paginators-1") in warmed
        entries = len(loader._cache)
        keys = {"aws_access_key_id": "k", "aws_secret_access_key": "s"}
        async with session.create_client("ec2", region_name="eu-west-1", config=aws._config, **keys) as c:
            c.get_paginator("describe_subnets")
        assert len(loader._cache) == entries
