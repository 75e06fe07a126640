"""``/v1/credentials``: write-only AWS credentials; answers carry metadata (``CredentialInfo``) only."""

from __future__ import annotations

import msgspec
from aiohttp import web

from ..api import Credential, CredentialInfo, validate_credential
from ._http import ApiError, FieldErrorBody, decode_json, json_response, unprocessable
from ._keys import STORE


class CredentialBody(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """What ``PUT /v1/credentials/{namespace}/{name}`` accepts."""

    access_key: str
    secret_key: str
    session_token: str | None = None
    role_arn: str | None = None
    external_id: str | None = None

    def __repr__(self) -> str:
        # Never let a secret reach a log line or traceback through a repr.
        return f"CredentialBody(access_key={self.access_key!r}, secret_key='***')"


class CredentialList(msgspec.Struct):
    items: list[CredentialInfo]


def _ref(request: web.Request) -> tuple[str, str]:
    return request.match_info["namespace"], request.match_info["name"]


async def list_credentials(request: web.Request) -> web.Response:
    creds = await request.app[STORE].list_credentials()
    return json_response(CredentialList(items=[_info(c) for c in creds]))


def _info(cred: Credential | CredentialInfo) -> CredentialInfo:
    return cred if isinstance(cred, CredentialInfo) else cred.info()


async def get_credential(request: web.Request) -> web.Response:
    namespace, name = _ref(request)
    cred = await request.app[STORE].get_credential(namespace, name)
    if cred is None:
        raise ApiError(404, f"credential {namespace}/{name} not found")
    return json_response(cred.info())


async def put_credential(request: web.Request) -> web.Response:
    namespace, name = _ref(request)
    body = await decode_json(request, CredentialBody)
    cred = Credential(
        namespace=namespace,
        name=name,
        access_key=body.access_key,
        secret_key=body.secret_key,
        session_token=body.session_token,
        role_arn=body.role_arn,
        external_id=body.external_id,
    )
    errors = validate_credential(cred)
    if errors:
        raise unprocessable([FieldErrorBody(path=e.path, rule=e.rule, message=e.message) for e in errors])
    store = request.app[STORE]
    existed = await store.get_credential(namespace, name) is not None
    stored = await store.put_credential(cred)
    return json_response(_info(stored), status=200 if existed else 201)


async def delete_credential(request: web.Request) -> web.Response:
    namespace, name = _ref(request)
    store = request.app[STORE]
    ref = f"{namespace}:{name}"
    # A cluster that references the credential needs it for every AWS call, including the ones that
    # delete it; deleting the credential first would strand the cluster (and leak its AWS resources).
    users = [
        c.metadata.name
        for c in await store.list_clusters()
        if c.spec.eks_config.amazon_credential_secret == ref
    ]
    if users:
        shown = ", ".join(sorted(users)[:10])
        raise ApiError(409, f"credential {namespace}/{name} is used by cluster(s): {shown}")
    if not await store.delete_credential(namespace, name):
        raise ApiError(404, f"credential {namespace}/{name} not found")
    return web.Response(status=204)
