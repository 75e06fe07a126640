"""The admin API client: a blocking JSON client, the connection options every client command takes, and
``CliError``, the one error a command reports (on stderr, exit code 1)."""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._args import positive

DEFAULT_SERVER = "http://127.0.0.1:8080"
TOKEN_FILE = "admin-token"
REQUEST_TIMEOUT = 30.0


class CliError(Exception):
    """A failure to report on stderr (exit code 1); the message is shown as is."""


class ServerError(CliError):
    """The server answered an error status (``status``: 404, 410, 422...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ApiClient:
    """A minimal blocking client of the admin API (urllib: nothing to start, nothing to close)."""

    def __init__(self, server: str, token: str, timeout: float = REQUEST_TIMEOUT) -> None:
        self.server = server.rstrip("/")
        self._token = token
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ApiClient(server={self.server!r})"

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
        *,
        allow_404: bool = False,
    ) -> Any:
        """The decoded JSON answer (``None`` for an empty one, or for 404 when ``allow_404``)."""
        request = self._request(method, path, body, content_type)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = response.read()
        except urllib.error.HTTPError as exc:
            data = exc.read()
            if exc.code == 404 and allow_404:
                return None
            raise ServerError(exc.code, _server_message(exc.code, data)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(f"cannot reach the control plane at {self.server}: {reason}") from None
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise CliError(f"{self.server} did not answer with JSON; is it the control plane?") from None

    def _request(
        self, method: str, path: str, body: bytes | None, content_type: str
    ) -> urllib.request.Request:
        request = urllib.request.Request(self.server + path, data=body, method=method)
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("Accept", "application/json")
        if body is not None:
            request.add_header("Content-Type", content_type)
        return request

    def stream(self, path: str, *, idle_timeout: float | None = None) -> Iterator[Any]:
        """The JSON lines of a streamed answer (a watch), decoded, as they arrive; ends with the stream.
        ``idle_timeout``: seconds without a line after which the server is taken as gone."""
        request = self._request("GET", path, None, "application/json")
        try:
            with urllib.request.urlopen(request, timeout=idle_timeout) as response:
                for line in response:
                    if line.strip():
                        yield json.loads(line)
        except urllib.error.HTTPError as exc:
            raise ServerError(exc.code, _server_message(exc.code, exc.read())) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(f"lost the watch on {self.server}: {reason}") from None


def _server_message(status: int, data: bytes) -> str:
    try:
        body = json.loads(data)
    except ValueError:
        body = None
    if not isinstance(body, dict) or "error" not in body:
        text = data.decode(errors="replace").strip()[:200]
        return f"server answered {status}" + (f": {text}" if text else "")
    lines = [f"error ({status}): {body['error']}"]
    for err in body.get("errors") or []:
        lines.append(f"  {err.get('path', '')}: [{err.get('rule', '')}] {err.get('message', '')}")
    return "\n".join(lines)


def quote(name: str) -> str:
    """``name`` as one path segment of a URL."""
    return urllib.parse.quote(name, safe="")


# --- connection options ----------------------------------------------------------------------------


def client_from_args(args: argparse.Namespace) -> ApiClient:
    """The client the connection options (or the environment, or the service's token file) point at."""
    server = args.server or os.environ.get("CONTROLPLANE_SERVER") or DEFAULT_SERVER
    if "://" not in server:
        server = "http://" + server
    token = args.token or os.environ.get("CONTROLPLANE_TOKEN") or os.environ.get("CONTROLPLANE_ADMIN_TOKEN")
    if not token:
        data_dir = Path(args.data_dir or os.environ.get("CONTROLPLANE_DATA_DIR") or "./data")
        path = data_dir / TOKEN_FILE
        try:
            token = path.read_text().strip()
        except OSError as exc:
            raise CliError(
                f"no admin token: pass --token, set CONTROLPLANE_TOKEN, or point --data-dir at the "
                f"service's data directory ({path}: {exc.strerror})"
            ) from None
        if not token:
            raise CliError(f"admin token file {path} is empty")
    return ApiClient(server, token, timeout=args.request_timeout)


def connection_options() -> argparse.ArgumentParser:
    """The parent parser of every client command: where the server is and how to authenticate."""
    conn = argparse.ArgumentParser(add_help=False)
    group = conn.add_argument_group("connection")
    group.add_argument("--server", help=f"admin API URL (env CONTROLPLANE_SERVER; default {DEFAULT_SERVER})")
    group.add_argument("--token", help="admin bearer token (env CONTROLPLANE_TOKEN; default: the token file)")
    group.add_argument(
        "--data-dir", help="service data directory holding admin-token (env CONTROLPLANE_DATA_DIR; ./data)"
    )
    group.add_argument(
        "--request-timeout", type=positive, default=REQUEST_TIMEOUT, help="seconds per request (%(default)s)"
    )
    return conn
