"""The web console at ``/ui/``: static files shipped inside the package, served with a strict CSP.

The console is a client of the public API and nothing else: an HTML page, one stylesheet and one
JavaScript module of our own (no framework, no build step, no network beyond this server). The admin
token is typed at login, kept in ``sessionStorage`` and sent as the bearer header on every API call;
it is never a cookie, so a page elsewhere cannot make the browser act with it (no CSRF surface).
"""

from __future__ import annotations

import importlib.resources
import mimetypes

from aiohttp import web

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""No inline script or style, nothing from another origin, no framing."""
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}
ASSETS = importlib.resources.files("controlplane.admin") / "ui"


def _asset(name: str) -> tuple[bytes, str] | None:
    if "/" in name or name.startswith(".") or not name:
        return None
    resource = ASSETS / name
    if not resource.is_file():
        return None
    suffix = "." + name.rpartition(".")[2]
    content_type = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return resource.read_bytes(), content_type


async def _serve(request: web.Request) -> web.Response:
    name = request.match_info.get("file") or "index.html"
    found = _asset(name)
    if found is None:
        raise web.HTTPNotFound()
    body, content_type = found
    charset = "utf-8" if content_type.startswith(("text/", "image/svg")) else None
    return web.Response(body=body, content_type=content_type, charset=charset, headers=_HEADERS)


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/ui/")


def install(app: web.Application) -> None:
    app.router.add_get("/ui", _redirect)
    app.router.add_get("/ui/", _serve)
    app.router.add_get("/ui/{file}", _serve)
