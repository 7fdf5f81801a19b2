"""A cap on the size of every request body that is not a document upload.

``POST /documents`` enforces ``max_upload_bytes`` itself while it parses (see
:mod:`service.uploads`); every other body (a question, in practice) is small, so a client cannot
make the server buffer megabytes of JSON. The cap holds for a declared ``Content-Length`` and,
for chunked bodies, while the bytes arrive.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import error_response

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
