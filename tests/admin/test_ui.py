"""The console's files: served from the package with a strict CSP, and written to need no exception to it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controlplane.admin._ui import ASSETS, CSP

from ._support import Api, running_api

pytestmark = pytest.mark.anyio
UI = Path(str(ASSETS))


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(tmp_path) as api:
        yield api


async def test_console_files_are_served_with_a_strict_csp(api: Api) -> None:
    resp = await api.client.get("/ui/")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert resp.headers["Content-Security-Policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert '<script type="module" src="/ui/app.js">' in await resp.text()
    for name, kind in [
        ("app.js", "text/javascript"),
        ("style.css", "text/css"),
        ("yaml.js", "text/javascript"),
    ]:
        resp = await api.client.get(f"/ui/{name}")
        assert resp.status == 200, name
        assert resp.headers["Content-Type"].startswith(kind)
    for missing in ("/ui/nope.js", "/ui/..%2F_ui.py", "/ui/.hidden"):
        assert (await api.client.get(missing)).status == 404
    resp = await api.client.get("/ui", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (302, "/ui/")


def test_no_inline_script_style_or_markup_from_data() -> None:
    html = (UI / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert " style=" not in html and "<style" not in html
    for script in UI.glob("*.js"):
        text = script.read_text()
        assert "innerHTML" not in text and "outerHTML" not in text, script.name
        assert "eval(" not in text and "new Function" not in text, script.name
        urls = set(re.findall(r"https?://[^\s\"'`]+", text)) - {"http://www.w3.org/2000/svg"}
        assert not urls, f"{script.name} reaches out: {urls}"  # the SVG namespace is a name, not a fetch
        assert "document.cookie" not in text and "localStorage" not in text, script.name
