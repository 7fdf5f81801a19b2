"""``GET /``: the one-page web interface (plain HTML, CSS and JavaScript, no build step)."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

#: The page's own inline script runs (by its hash), no other; inline style; data from this origin.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src {scripts}; "
    "style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def script_hashes(html: str) -> str:
    """CSP sources allowing exactly the page's inline scripts (``'sha256-…'`` each)."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _SCRIPT.findall(html)
    ]
    return " ".join(hashes) or "'none'"


def page_headers(html: str) -> dict[str, str]:
    csp = PAGE_HEADERS["Content-Security-Policy"].replace("{scripts}", script_hashes(html))
    return {**PAGE_HEADERS, "Content-Security-Policy": csp}


def page_html() -> str:
    return files("service").joinpath("static/index.html").read_text(encoding="utf-8")


def page_router() -> APIRouter:
    html = page_html()
    headers = page_headers(html)
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(html, headers=headers)

    return router
