"""The AWS query protocol (EC2, CloudFormation): request parameters in, XML answers out."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from aiohttp import web

EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"
CFN_XMLNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


class QueryError(Exception):
    """A call-level error answer of a query-protocol service."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def request_id() -> str:
    return str(uuid.uuid4())


def params(query: Mapping[str, str], body: bytes) -> dict[str, str]:
    """The flat parameters of a request: URL query, then the form-encoded body (botocore POSTs)."""
    out = dict(query)
    if body:
        out.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return out


def indexed(p: Mapping[str, str], name: str) -> list[str]:
    """A flattened list parameter (``Name.1``, ``Name.2``, ...) in index order."""
    prefix = name + "."
    items: list[tuple[int, str]] = []
    for key, value in p.items():
        if key.startswith(prefix) and key[len(prefix) :].isdigit():
            items.append((int(key[len(prefix) :]), value))
    return [value for _, value in sorted(items)]


def text(tag: str, value: object) -> str:
    """``<tag>value</tag>`` with the value escaped."""
    return f"<{tag}>{escape(str(value))}</{tag}>"


def ec2_error_xml(code: str, message: str) -> str:
    """EC2's error envelope (unlike the other query services: ``Response/Errors/Error``)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"{text('Code', code)}{text('Message', message)}</Error></Errors>"
        f"{text('RequestID', request_id())}</Response>"
    )


def ec2_error(e: QueryError) -> web.Response:
    return web.Response(status=e.status, text=ec2_error_xml(e.code, e.message), content_type="text/xml")


def ec2_answer(action: str, inner: str) -> web.Response:
    """A successful EC2 answer: ``<ActionResponse>`` with the request ID and ``inner`` members."""
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{EC2_XMLNS}">'
        f"{text('requestId', request_id())}{inner}</{action}Response>"
    )
    return web.Response(text=xml, content_type="text/xml")


def cfn_answer(action: str, result: str = "") -> web.Response:
    """A successful CloudFormation answer; ``result`` is the inside of ``<ActionResult>`` (none
    for operations without output, such as DeleteStack)."""
    body = f"<{action}Result>{result}</{action}Result>" if result else ""
    xml = (
        f'<{action}Response xmlns="{CFN_XMLNS}">{body}'
        f"<ResponseMetadata>{text('RequestId', request_id())}</ResponseMetadata></{action}Response>"
    )
    return web.Response(text=xml, content_type="text/xml")
