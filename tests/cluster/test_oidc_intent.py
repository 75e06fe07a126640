"""The OIDC provider the EBS CSI add-on needs is recorded as ours before it is created: a process killed
right after the create must still delete it with the cluster (it leaked: found by the chaos run)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from controlplane.aws import CallerIdentity
from controlplane.cluster._addon import _oidc_provider

pytestmark = pytest.mark.anyio

ISSUER = "https://oidc.eks.us-west-2.amazonaws.com/id/ABC123"
EXPECTED = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC123"


class Killed(BaseException):
    """The process dies right after AWS created the provider."""


def fake_pass(existing: list[str], *, die_after_create: bool) -> Any:
    persisted: list[str] = []
    created: list[str] = []
    status = SimpleNamespace(created_oidc_provider_arn="")

    async def list_providers() -> list[str]:
        return existing + created

    async def identity() -> CallerIdentity:
        return CallerIdentity(account="123456789012", arn="arn:aws:iam::123456789012:user/x", user_id="x")

    async def create(url: str, client_ids: Any, thumbprints: Any) -> str:
        created.append(EXPECTED)
        if die_after_create:
            raise Killed
        return EXPECTED

    async def persist() -> None:
        persisted.append(status.created_oidc_provider_arn)

    scope = SimpleNamespace(
        list_open_id_connect_providers=list_providers,
        get_caller_identity=identity,
        create_open_id_connect_provider=create,
    )
    events: list[tuple[str, str]] = []

    def event(reason: str, message: str) -> None:
        events.append((reason, message))

    return SimpleNamespace(
        scope=scope, status=status, persist=persist, persisted=persisted, event=event, events=events
    )


async def test_the_arn_is_persisted_before_the_create() -> None:
    p = fake_pass([], die_after_create=True)
    with pytest.raises(Killed):
        await _oidc_provider(p, ISSUER)
    assert p.persisted == [EXPECTED]  # durable before the call: the delete will remove it


async def test_a_provider_someone_else_made_is_used_not_claimed() -> None:
    p = fake_pass([EXPECTED], die_after_create=False)
    assert await _oidc_provider(p, ISSUER) == EXPECTED
    assert p.status.created_oidc_provider_arn == "" and p.persisted == []


async def test_a_normal_create_persists_once() -> None:
    p = fake_pass([], die_after_create=False)
    assert await _oidc_provider(p, ISSUER) == EXPECTED
    assert p.persisted == [EXPECTED] and p.status.created_oidc_provider_arn == EXPECTED
    assert [reason for reason, _ in p.events] == ["OIDCProviderCreated"]
