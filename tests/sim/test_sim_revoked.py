"""Revoked access keys: every service refuses that key in its own words; other keys go on."""

from __future__ import annotations

from typing import Any

import pytest
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError

from controlplane.aws import AccessDeniedError, classify_code
from controlplane.sim import FaultSettings, Simulator

from .conftest import _SESSION

pytestmark = pytest.mark.anyio

NO_RETRY = AioConfig(retries={"mode": "standard", "total_max_attempts": 1})


def client(sim: Simulator, service: str, key: str) -> Any:
    return _SESSION.create_client(
        service,
        endpoint_url=sim.url,
        region_name="us-west-2",
        aws_access_key_id=key,
        aws_secret_access_key="x",
        config=NO_RETRY,
    )


async def _error(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as e:
        await call
    err = e.value.response["Error"]
    return err["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize(
    ("kind", "codes"),
    [
        (
            "AccessDenied",
            {
                "eks": ("AccessDeniedException", 403),
                "sts": ("AccessDenied", 403),
                "iam": ("AccessDenied", 403),
                "cloudformation": ("AccessDenied", 403),
                "ec2": ("UnauthorizedOperation", 403),
            },
        ),
        (
            "ExpiredToken",
            {
                "eks": ("ExpiredTokenException", 403),
                "sts": ("ExpiredToken", 403),
                "iam": ("ExpiredToken", 403),
                "cloudformation": ("ExpiredToken", 403),
                "ec2": ("AuthFailure", 401),
            },
        ),
    ],
)
async def test_revoked_key_is_refused_by_every_service(
    sim: Simulator, kind: str, codes: dict[str, tuple[str, int]]
) -> None:
    sim.set_faults(FaultSettings(revoked_access_keys={"AKIDREVOKED": kind}))  # type: ignore[dict-item]
    got: dict[str, tuple[str, int]] = {}
    async with client(sim, "eks", "AKIDREVOKED") as eks:
        got["eks"] = await _error(eks.list_clusters())
    async with client(sim, "sts", "AKIDREVOKED") as sts:
        got["sts"] = await _error(sts.get_caller_identity())
    async with client(sim, "iam", "AKIDREVOKED") as iam:
        got["iam"] = await _error(iam.list_open_id_connect_providers())
    async with client(sim, "cloudformation", "AKIDREVOKED") as cfn:
        got["cloudformation"] = await _error(cfn.describe_stacks())
    async with client(sim, "ec2", "AKIDREVOKED") as ec2:
        got["ec2"] = await _error(ec2.describe_launch_templates())
    assert got == codes
    # The control plane reads every one of them as the credential being refused.
    for code, status in got.values():
        assert classify_code(code, status, "") is AccessDeniedError


async def test_other_keys_go_on(sim: Simulator) -> None:
    sim.set_faults(FaultSettings(revoked_access_keys={"AKIDREVOKED": "AccessDenied"}, services=("eks",)))
    async with client(sim, "eks", "AKIDGOOD") as eks:
        assert (await eks.list_clusters())["clusters"] == []
    async with client(sim, "sts", "AKIDGOOD") as sts:
        assert (await sts.get_caller_identity())["Account"]
    # ``services`` limits the other faults, not a revocation: a key is refused everywhere.
    async with client(sim, "sts", "AKIDREVOKED") as sts:
        assert (await _error(sts.get_caller_identity()))[0] == "AccessDenied"


async def test_revocation_lifted_by_the_next_faults(sim: Simulator) -> None:
    sim.set_faults(FaultSettings(revoked_access_keys={"AKIDREVOKED": "ExpiredToken"}))
    async with client(sim, "eks", "AKIDREVOKED") as eks:
        assert (await _error(eks.list_clusters()))[0] == "ExpiredTokenException"
        sim.set_faults(FaultSettings())
        assert (await eks.list_clusters())["clusters"] == []
