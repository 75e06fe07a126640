"""Answers to requests signed with a revoked access key (``FaultSettings.revoked_access_keys``).

Each service refuses in its own words and envelope, as AWS does for a key whose identity lost its
permissions or whose session token expired: EKS (rest-json) ``AccessDeniedException`` /
``ExpiredTokenException`` with HTTP 403, JSON-protocol services the same codes in ``__type``, EC2
``UnauthorizedOperation`` (403) / ``AuthFailure`` (401) in its own envelope, and the other query services
(STS, IAM, CloudFormation) ``AccessDenied`` / ``ExpiredToken`` (403) in ``ErrorResponse``.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from . import _errors as err
from ._query import ec2_error_xml, request_id
from ._settings import Revocation

EXPIRED_MESSAGE = "The security token included in the request is expired"


def _denied_message(service: str, operation: str) -> str:
    return (
        "User: arn:aws:iam::123456789012:user/revoked is not authorized to perform: "
        f"{service}:{operation} with an explicit deny"
    )


def eks_error(kind: Revocation, operation: str) -> err.EksError:
    if kind == "ExpiredToken":
        return err.EksError("ExpiredTokenException", 403, EXPIRED_MESSAGE)
    return err.EksError("AccessDeniedException", 403, _denied_message("eks", operation))


def forwarded(kind: Revocation, service: str, operation: str, *, json_protocol: bool) -> web.Response:
    """The refusal of a request the simulator would otherwise forward to moto."""
    expired = kind == "ExpiredToken"
    message = EXPIRED_MESSAGE if expired else _denied_message(service, operation)
    if json_protocol:
        code = "ExpiredTokenException" if expired else "AccessDeniedException"
        body = msgspec.json.encode({"__type": code, "message": message})
        return web.Response(
            status=400,
            body=body,
            content_type="application/x-amz-json-1.1",
            headers={"x-amzn-RequestId": request_id()},
        )
    if service == "ec2":
        if expired:
            code, status, message = (
                "AuthFailure",
                401,
                "AWS was not able to validate the provided access credentials",
            )
        else:
            code, status, message = (
                "UnauthorizedOperation",
                403,
                "You are not authorized to perform this operation.",
            )
        return web.Response(status=status, text=ec2_error_xml(code, message), content_type="text/xml")
    code = "ExpiredToken" if expired else "AccessDenied"
    xml = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        f"<RequestId>{request_id()}</RequestId></ErrorResponse>"
    )
    return web.Response(status=403, text=xml, content_type="text/xml")
