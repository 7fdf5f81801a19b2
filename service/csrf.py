"""Refusing cross-site writes (CSRF) and DNS-rebinding, with or without an API key.

The service usually runs on the analyst's own machine without a key, so any web page the analyst
opens could otherwise post to it (``fetch(url, {mode: "no-cors", body: form})`` needs no CORS
permission). Every request with an unsafe method (POST, PUT, PATCH, DELETE) must:

- not come from another site: ``Sec-Fetch-Site`` (sent by every current browser) is
  ``same-origin`` or ``none`` (typed by the user, or not a browser), and ``Origin``, when present,
  is this server's own origin or one of ``RAG_CORS_ORIGINS``;
- be unsendable by a plain cross-site form: a POST carries ``Content-Type: application/json``,
  ``Authorization`` or ``X-Requested-With`` (none of which a form or a no-cors fetch can set).

And when the server listens on a loopback address, the ``Host`` header must name a loopback host,
so a page whose domain was re-pointed at 127.0.0.1 (DNS rebinding) is refused even for reads.
Command-line clients (curl, httpx) send no ``Origin`` and no ``Sec-Fetch-Site``; they pass by
sending JSON, the key, or ``-H 'X-Requested-With: curl'`` with a file upload.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import error_response

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_SITE_VALUES = frozenset({"same-origin", "none"})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
#: Headers that make a request "non-simple": a cross-site page cannot send them without CORS.
NON_SIMPLE_HEADERS = (b"authorization", b"x-requested-with")


def is_loopback(host: str) -> bool:
    """Whether a bind address or host name is a loopback one."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(host: str) -> str:
    """``Host`` header without its port (``[::1]:8000`` → ``[::1]``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class CrossSiteGuardMiddleware:
    """403 for cross-site writes and, on loopback, for foreign ``Host`` names."""

    def __init__(
        self, app: ASGIApp, *, allowed_origins: Iterable[str] = (), loopback_only: bool = False
    ) -> None:
        self.app = app
        self.allowed_origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reason = self.refusal(scope)
        if reason is not None:
            message, hint = reason
            response = error_response(403, "cross_site_refused", message, hint=hint)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[str, str] | None:
        headers = {k.lower(): v for k, v in scope.get("headers") or ()}
        host = headers.get(b"host", b"").decode("latin-1")
        if self.loopback_only and host and host_name(host) not in LOOPBACK_HOSTS:
            return (
                f"this server answers only to localhost names, not {host_name(host)!r}",
                "open it as http://127.0.0.1:PORT (or serve with --host to expose it)",
            )
        if scope["method"] not in UNSAFE_METHODS:
            return None
        origin = headers.get(b"origin", b"").decode("latin-1").strip().rstrip("/").lower()
        allowed = origin in self.allowed_origins
        site = headers.get(b"sec-fetch-site", b"").decode("latin-1").strip().lower()
        if site and site not in SAME_SITE_VALUES and not allowed:
            return (
                f"a {site} request may not change or query this server",
                "use the server's own page, or list your origin in RAG_CORS_ORIGINS",
            )
        if origin and not allowed:
            scheme = scope.get("scheme", "http")
            own = f"{scheme}://{host}".lower()
            if origin != own:
                return (
                    f"requests from origin {origin!r} are refused",
                    "use the server's own page, or list your origin in RAG_CORS_ORIGINS",
                )
        if scope["method"] == "POST":
            media = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
            if media != b"application/json" and not any(h in headers for h in NON_SIMPLE_HEADERS):
                return (
                    "a form post without Content-Type: application/json, Authorization or "
                    "X-Requested-With is refused (cross-site request forgery protection)",
                    "send the header `X-Requested-With: <anything>` with a file upload, "
                    "e.g. curl -H 'X-Requested-With: curl' -F file=@a.pdf URL/documents",
                )
        return None
