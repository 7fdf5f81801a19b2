"""Every response in the one JSON error shape, with ``nosniff``, including the ones the router and
uvicorn would otherwise answer themselves.

- :class:`ResponseHeadersMiddleware` adds ``X-Content-Type-Options: nosniff`` to every response
  and answers ``HEAD`` like ``GET`` without a body (FastAPI routes take GET only, and a 405 for
  HEAD would escape the error shape);
- :class:`JsonErrorH11Protocol` is uvicorn's HTTP/1.1 protocol with its plain-text 400 (a request
  so malformed it never reaches the application) replaced by the JSON error shape.
"""

from __future__ import annotations

import json

import h11
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

NOSNIFF = (b"x-content-type-options", b"nosniff")


class ResponseHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != NOSNIFF[0]]
                message = {**message, "headers": [*headers, NOSNIFF]}
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def error_body(message: str) -> bytes:
    body = {
        "error": {
            "code": "malformed_http",
            "message": f"the request is not valid HTTP: {message}",
            "hint": "send a well-formed HTTP/1.1 request",
            "details": [],
        }
    }
    return json.dumps(body).encode("ascii")


class JsonErrorH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering unparseable requests in the JSON error shape."""

    def send_400_response(self, msg: str) -> None:
        body = error_body(msg)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("ascii")),
            NOSNIFF,
            (b"connection", b"close"),
        ]
        event = h11.Response(status_code=400, headers=headers, reason=b"Bad Request")
        self.transport.write(self.conn.send(event))
        self.transport.write(self.conn.send(event=h11.Data(data=body)))
        self.transport.write(self.conn.send(event=h11.EndOfMessage()))
        self.transport.close()
