"""Every response in the one JSON error shape, with ``nosniff``, including the ones the router and
uvicorn would otherwise answer themselves.

- :class:`ResponseHeadersMiddleware` adds ``X-Content-Type-Options: nosniff`` to every response
  and answers ``HEAD`` like ``GET`` without a body (FastAPI routes take GET only, and a 405 for
  HEAD would escape the error shape);
- :class:`JsonErrorH11Protocol` is uvicorn's HTTP/1.1 protocol with its plain-text 400 (a request
  so malformed it never reaches the application) replaced by the JSON error shape, and with a
  header timeout uvicorn lacks: a connection that has not sent a whole request head
  ``header_timeout_s`` after it opened (or after its previous response) is closed, with a 408
  when it sent part of one. Without it, 1,500 connections trickling a header byte at a time
  all stayed open. (uvicorn's own ``timeout_keep_alive`` closes only connections that send
  nothing at all after a response.)
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

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


def timeout_body() -> bytes:
    body = {
        "error": {
            "code": "request_timeout",
            "message": "the request's headers did not arrive in time",
            "hint": "send the whole request head at once",
            "details": [],
        }
    }
    return json.dumps(body).encode("ascii")


class JsonErrorH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering unparseable requests in the JSON error shape and
    closing connections that are too slow to send a request head (see the module)."""

    #: Seconds to send a whole request head; set per server by :func:`protocol_with_timeouts`.
    header_timeout_s: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._head_bytes = 0
        if self.header_timeout_s is not None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._header_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return  # the head arrived (a request is running) or the connection is going
        if self._head_bytes:  # part of a head arrived: say why the connection ends
            body = timeout_body()
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\nx-content-type-options: nosniff\r\n"
                b"connection: close\r\n\r\n%s" % (len(body), body)
            )
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._head_bytes += len(data)
        super().data_received(data)
        if self._header_timer is not None and self.conn.their_state is not h11.IDLE:
            self._disarm_header_timer()  # the head is in: the body has its own limit

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # the next request's head has the same time

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


def protocol_with_timeouts(header_timeout_s: float) -> type[JsonErrorH11Protocol]:
    """:class:`JsonErrorH11Protocol` with this server's header timeout (uvicorn builds one
    protocol object per connection from the class it is given)."""
    return type(
        "TimedJsonErrorH11Protocol",
        (JsonErrorH11Protocol,),
        {"header_timeout_s": header_timeout_s},
    )
