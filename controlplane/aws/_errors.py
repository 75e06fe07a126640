"""Typed AWS errors and the classifier that maps botocore exceptions onto them.

Messages are kept as botocore renders them (users see them in failure messages); none of them
carries credentials, since botocore never puts keys or tokens into error text.
"""

from __future__ import annotations

import http.client
from typing import Any, ClassVar

from botocore.exceptions import (
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from botocore.parsers import ResponseParserError

THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
"""botocore's standard-mode throttling codes."""

NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "NoSuchEntity",
        "NotFoundException",
        "InvalidLaunchTemplateName.NotFoundException",
        "InvalidLaunchTemplateId.NotFound",
        "InvalidLaunchTemplateId.VersionNotFound",
        "InvalidAMIID.NotFound",
        "InvalidAMIID.Unavailable",
        "StackNotFoundException",
    }
)

ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "AuthFailure",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
    }
)

ALREADY_EXISTS_CODES = frozenset(
    {
        "AlreadyExistsException",
        "EntityAlreadyExists",
        "InvalidLaunchTemplateName.AlreadyExistsException",
    }
)

SERVER_ERROR_CODES = frozenset(
    {"InternalFailure", "InternalError", "InternalServerError", "ServerException", "ServiceUnavailable"}
)

UPDATE_IN_PROGRESS_TEXT = "currently has update"


class AwsError(Exception):
    """An AWS call failed. ``str()`` is the message to show; attributes say where and why."""

    outcome: ClassVar[str] = "client_error"
    """The ``outcome`` label of ``controlplane_aws_requests_total`` for this class."""

    def __init__(
        self,
        message: str,
        *,
        service: str = "",
        operation: str = "",
        code: str = "",
        status: int = 0,
        request_id: str = "",
        aws_message: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.service = service
        self.operation = operation
        self.code = code
        self.status = status
        self.request_id = request_id
        self.aws_message = aws_message
        """The service's own error message (without botocore's "An error occurred" framing)."""


class CredentialError(AwsError):
    """Credentials could not be found, read or used (Rancher's wording where it has one)."""

    outcome = "access_denied"


class NotFoundError(AwsError):
    """The resource does not exist (or no longer does)."""

    outcome = "not_found"


class ResourceInUseError(AwsError):
    """The resource is busy or already exists under that name (EKS ``ResourceInUseException``)."""

    outcome = "in_use"


class UpdateInProgressError(ResourceInUseError):
    """EKS refuses a second update while one runs (message contains ``currently has update``)."""


class AlreadyExistsError(AwsError):
    """A create found the resource already there (CloudFormation, IAM, EC2 launch templates)."""


class ThrottledError(AwsError):
    """AWS throttled the call and botocore's retries did not get it through."""

    outcome = "throttled"


class AccessDeniedError(AwsError):
    """The identity lacks the permission, or its keys/token are invalid or expired."""

    outcome = "access_denied"


class ClientRequestError(AwsError):
    """Any other 4xx: the request is invalid for the resource's state or shape."""


class ServerError(AwsError):
    """AWS failed (5xx) after botocore's retries."""

    outcome = "server_error"


class AwsConnectionError(AwsError):
    """No answer: DNS, connect, TLS or read failure or timeout, after botocore's retries."""

    outcome = "connection_error"


def classify_code(code: str, status: int, message: str) -> type[AwsError]:
    """The error class of an AWS error response (pure; the order of the checks matters)."""
    if code in THROTTLE_CODES or status == 429:
        return ThrottledError
    if code in ACCESS_DENIED_CODES or status == 403:
        return AccessDeniedError
    if (
        code in NOT_FOUND_CODES
        or code.endswith((".NotFound", ".NotFoundException"))
        or "VersionNotFound" in code
        # CloudFormation has no code for a missing stack: "Stack with id x does not exist".
        or (code == "ValidationError" and "does not exist" in message)
    ):
        return NotFoundError
    if UPDATE_IN_PROGRESS_TEXT in message:
        return UpdateInProgressError
    if code == "ResourceInUseException":
        return ResourceInUseError
    if code in ALREADY_EXISTS_CODES:
        return AlreadyExistsError
    if status >= 500 or code in SERVER_ERROR_CODES:
        return ServerError
    return ClientRequestError


def _is_html(text: str) -> bool:
    head = text.lstrip()[:512].lower()
    return head.startswith(("<!doctype html", "<html")) or "<body" in head or "</html>" in text[-512:].lower()


def readable_message(status: int, message: str) -> str:
    """``message`` fit to show a user: an HTML page (what a proxy or load balancer answers, and what
    botocore passes on as the message when it is not a bare ``<html>`` 5xx) becomes the HTTP reason
    phrase, as botocore words its generic errors ("Bad Gateway"). Pure."""
    if not _is_html(message):
        return message
    reason = http.client.responses.get(status, "")
    return (
        f"{reason} (an HTML page instead of an AWS answer)"
        if reason
        else "an HTML page instead of an AWS answer"
    )


def classify(exc: BaseException, service: str = "", operation: str = "") -> AwsError:
    """Map an exception raised by an aiobotocore call onto the typed errors (``AwsError`` passes)."""
    if isinstance(exc, AwsError):
        return exc
    if isinstance(exc, ClientError):
        response: dict[str, Any] = exc.response or {}
        error = response.get("Error") or {}
        meta = response.get("ResponseMetadata") or {}
        code = str(error.get("Code") or "")
        aws_message = str(error.get("Message") or "")
        status = int(meta.get("HTTPStatusCode") or 0)
        cls = classify_code(code, status, aws_message)
        text = str(exc)
        readable = readable_message(status, aws_message)
        if readable != aws_message:
            text, aws_message = text.replace(aws_message, readable), readable
        return cls(
            text,
            service=service,
            operation=operation,
            code=code,
            status=status,
            request_id=str(meta.get("RequestId") or ""),
            aws_message=aws_message,
        )
    if isinstance(exc, ResponseParserError):
        # An unparseable body is what botocore raises for HTML error pages from overloaded
        # servers and proxies (after retrying): report it as a server-side failure.
        text = str(exc)
        if _is_html(text.partition("\n")[2] or text):
            # botocore appends the body it could not parse; a page of HTML is no message to show.
            text = "Unable to parse response: an HTML page instead of an AWS answer (a proxy in between?)"
        return ServerError(text, service=service, operation=operation, code="ResponseParserError")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return CredentialError(str(exc), service=service, operation=operation)
    if isinstance(exc, BotoConnectionError | HTTPClientError | ConnectionError | TimeoutError):
        return AwsConnectionError(str(exc) or type(exc).__name__, service=service, operation=operation)
    return ClientRequestError(
        f"{type(exc).__name__}: {exc}", service=service, operation=operation, code=type(exc).__name__
    )
