"""``GET /``: the one-page web interface (plain HTML, CSS and JavaScript, no build step)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

#: Inline script and style only; data is fetched from this origin.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def page_html() -> str:
    return files("service").joinpath("static/index.html").read_text(encoding="utf-8")


def page_router() -> APIRouter:
    html = page_html()
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(html, headers=PAGE_HEADERS)

    return router
