"""Request ids and the structured access log (one line per request, at INFO).

Every response carries ``X-Request-ID``: the client's own when it sent a well-formed one
(1–128 characters of ``A-Z a-z 0-9 . _ -``), else a new random id. The access line is logfmt::

    method=POST path=/ask route=/ask status=200 duration_ms=12.3 request_id=5f0c…

The question text is logged only when ``RAG_LOG_QUESTIONS=true`` (it can be sensitive); the
query string is never logged (the page passes questions as ``?q=``).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.printable import printable
from service.metrics import ServiceMetrics

logger = logging.getLogger("service.access")

HEADER = b"x-request-id"
_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
#: Set by a route that wants its question in the access log (only when enabled).
QUESTION_KEY = "rag.question"


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name.lower() == HEADER:
            text = value.decode("latin-1").strip()
            if _VALID_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


_NEEDS_QUOTES = re.compile(r'[\s"=\x00-\x1f\x7f-\x9f]')


def _logfmt(value: object) -> str:
    """A logfmt value: quoted (JSON) when it holds spaces, quotes, '=' or control characters,
    with every control character escaped, so a request path holding ESC or a newline can
    neither drive the terminal that shows the log nor forge a line."""
    text = str(value)
    if text and not _NEEDS_QUOTES.search(text):
        return text
    return printable(json.dumps(text, ensure_ascii=False), keep="")


class AccessLogMiddleware:
    """Outermost middleware: request id in, ``X-Request-ID`` out, one log line and the request
    metrics per request."""

    def __init__(
        self, app: ASGIApp, *, metrics: ServiceMetrics, routes: Any, log_questions: bool
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes
        self.log_questions = log_questions

    def route_of(self, scope: Scope, routes: Any = None) -> str:
        """The template of the route that serves ``scope`` (included routers are searched)."""
        for route in self.routes if routes is None else routes:
            match, child = route.matches(scope)
            if match == Match.NONE:  # PARTIAL: the path, another method (405)
                continue
            found = child.get("route") if isinstance(child, dict) else None
            path = getattr(found if found is not None else route, "path", None)
            if path is not None:
                return str(path)
            inner = getattr(route, "routes", None)
            if inner is None:  # a router included in FastAPI's app
                inner = getattr(getattr(route, "original_router", None), "routes", None)
            if inner is not None:
                return self.route_of(scope, inner)
        return "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        route = self.route_of(dict(scope))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            self.metrics.observe_request(route, scope["method"], status, seconds)
            fields: dict[str, object] = {
                "method": scope["method"],
                "path": scope.get("path", ""),
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
                "request_id": request_id,
            }
            question = state.get(QUESTION_KEY)
            if self.log_questions and question is not None:
                fields["question"] = question
            logger.info(
                " ".join(f"{k}={_logfmt(v)}" for k, v in fields.items()),
                extra={"access": fields},
            )
