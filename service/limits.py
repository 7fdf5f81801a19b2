"""A cap on the size of every request body that is not a document upload, and on the time any
request body may take to arrive (:class:`BodyTimeoutMiddleware`).

``POST /documents`` enforces ``max_upload_bytes`` itself while it parses (see
:mod:`service.uploads`); every other body (a question, in practice) is small, so a client cannot
make the server buffer megabytes of JSON. The cap holds for a declared ``Content-Length`` and,
for chunked bodies, while the bytes arrive.
"""

from __future__ import annotations

import asyncio

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import ServiceError, error_response

#: Largest body of any request but an upload (questions are at most a few KB).
JSON_BODY_LIMIT = 1024 * 1024


def _too_large(limit: int) -> str:
    return f"the request body is larger than {limit} bytes"


class BodyLimitMiddleware:
    """413 for any non-upload request body over ``limit`` bytes."""

    def __init__(self, app: ASGIApp, *, limit: int = JSON_BODY_LIMIT) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            scope["method"] == "POST" and scope["path"].rstrip("/") == "/documents"
        ):
            await self.app(scope, receive, send)
            return
        limit = self.limit
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            response = error_response(413, "payload_too_large", _too_large(limit))
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the route's body reading: the app's handlers shape it.
                    raise HTTPException(413, _too_large(limit))
            return message

        await self.app(scope, limited, send)


class RequestTimeoutError(ServiceError):
    """The client did not send the request's body within the server's time limit."""

    status = 408
    code = "request_timeout"


class BodyTimeoutMiddleware:
    """408 for a request whose body has not fully arrived ``seconds`` after its headers.

    A client that trickles its body (a byte a second) would otherwise hold its connection, and
    an upload its place in the write queue, for as long as it likes. The deadline holds for
    every ``receive`` until the last body chunk; later ``receive`` calls (a route watching for
    the client to leave) wait as long as they need.
    """

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.seconds
        body_done = False

        async def timed() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()
            left = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), max(left, 0.0))
            except TimeoutError:
                raise RequestTimeoutError(
                    f"the request body did not arrive within {self.seconds:g} s",
                    hint="send the body at once, or raise RAG_BODY_TIMEOUT_S on the server",
                    headers={"Connection": "close"},
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        await self.app(scope, timed, send)
