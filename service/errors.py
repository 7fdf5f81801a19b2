"""One JSON shape for every error, and the mapping from the error hierarchy to HTTP statuses.

Every error response, whether raised by the domain (:class:`~index.errors.RagError`), by request
validation, or by the router (unknown route, wrong method), has the body
``{"error": {"code": ..., "message": ..., "hint": ..., "details": [...]}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from index.errors import (
    CorruptIndexError,
    DocumentNotFoundError,
    IncompatibleIndexError,
    IndexFullError,
    IndexLockedError,
    IndexNotFoundError,
    IndexPathError,
    InvalidDocumentError,
    InvalidFilterError,
    RagError,
)
from rag.errors import (
    ConfigurationError,
    InvalidComparisonError,
    InvalidQuestionError,
    LoaderError,
    ModelError,
    UnsupportedFileTypeError,
)
from rag.printable import printable

logger = logging.getLogger(__name__)


# --- the shape -------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    """One problem with one part of a rejected request."""

    location: str = Field(..., description="Where in the request, e.g. 'body.k' or 'query.limit'.")
    message: str = Field(..., description="What is wrong with it.")


class ErrorBody(BaseModel):
    """What went wrong and what to do about it."""

    code: str = Field(
        ..., description="Stable machine-readable code, e.g. 'invalid_question', 'not_found'."
    )
    message: str = Field(..., description="What went wrong, in words.")
    hint: str | None = Field(None, description="What to do about it, when known.")
    details: list[ErrorDetail] = Field(
        default_factory=list, description="Per-field problems of a rejected request."
    )


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorBody


# --- errors the service raises itself --------------------------------------------------------
class ServiceError(RagError):
    """An error of the HTTP layer itself, with its status and code."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        details: Sequence[ErrorDetail] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.details = list(details)
        self.headers = headers


class MalformedRequestError(ServiceError):
    """The request body cannot be parsed or does not have the required parts."""

    status = 422
    code = "invalid_request"


class PayloadTooLargeError(ServiceError):
    """The upload is larger than ``max_upload_bytes``."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(ServiceError):
    """The request body has a content type this route does not take."""

    status = 415
    code = "unsupported_media_type"


class UnauthorizedError(ServiceError):
    """A write without the right bearer token."""

    status = 401
    code = "unauthorized"


class ClientGoneError(ServiceError):
    """The client disconnected before its queued write or upload parse ran; it was dropped."""

    status = 400
    code = "client_disconnected"


class NotReadyError(ServiceError):
    """The index and model are not loaded (yet)."""

    status = 503
    code = "not_ready"


# --- the mapping -----------------------------------------------------------------------------
#: Most specific first: the first class an error is an instance of decides status and code.
STATUS_OF: tuple[tuple[type[RagError], int, str], ...] = (
    (UnsupportedFileTypeError, 415, "unsupported_file_type"),
    (LoaderError, 422, "unreadable_file"),
    (InvalidQuestionError, 422, "invalid_question"),
    (InvalidComparisonError, 422, "invalid_comparison"),
    (InvalidFilterError, 422, "invalid_filter"),
    (InvalidDocumentError, 422, "invalid_document"),
    (DocumentNotFoundError, 404, "document_not_found"),
    (IndexLockedError, 409, "index_locked"),
    (IndexPathError, 503, "index_read_only"),
    (IndexNotFoundError, 503, "index_unavailable"),
    (IncompatibleIndexError, 503, "index_unavailable"),
    (CorruptIndexError, 503, "index_unavailable"),
    (IndexFullError, 507, "insufficient_storage"),
    (ModelError, 503, "model_unavailable"),
    (ConfigurationError, 500, "configuration_error"),
)


def status_of(exc: RagError) -> tuple[int, str]:
    """HTTP status and error code for a domain error."""
    if isinstance(exc, ServiceError):
        return exc.status, exc.code
    for cls, status, code in STATUS_OF:
        if isinstance(exc, cls):
            return status, code
    return 500, "internal_error"


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    hint: str | None = None,
    details: Sequence[ErrorDetail] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorBody(code=code, message=message, hint=hint, details=list(details))
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the error responses a route can give."""
    described = {
        401: "Missing or wrong `Authorization: Bearer <key>` (only when the server has a key).",
        403: "A cross-site write (another origin, or a form post without a non-simple header).",
        404: "No such document.",
        408: "The request's headers (`header_timeout_s`) or body (`body_timeout_s`) did not "
        "arrive in time (`request_timeout`); a queued upload is dropped. Resend it.",
        409: "Another process is writing to the index; retry later.",
        413: "The request body is larger than the server's limit.",
        415: "The file type or content type is not accepted.",
        422: "The request is malformed or fails validation; the message says what is wrong.",
        503: "The index or model is not available, or too many writes are queued (`Retry-After`).",
        507: "The disk holding the index is full; the index keeps its last committed state.",
    }
    return {s: {"model": ErrorResponse, "description": described[s]} for s in statuses}


# --- validation messages ---------------------------------------------------------------------
def _location(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc) or "request"


def validation_details(errors: Sequence[Any]) -> list[ErrorDetail]:
    out: list[ErrorDetail] = []
    for err in errors:
        loc = err.get("loc", ()) if isinstance(err, dict) else ()
        msg = str(err.get("msg", "invalid") if isinstance(err, dict) else err)
        msg = msg.removeprefix("Value error, ")
        out.append(ErrorDetail(location=_location(loc), message=str(msg)))
    return out


def validation_response(errors: Sequence[Any]) -> JSONResponse:
    """422 for a request that failed validation, naming every bad field."""
    if any(isinstance(e, dict) and e.get("type") == "json_invalid" for e in errors):
        return error_response(
            422,
            "malformed_json",
            "the request body is not valid JSON",
            hint="send a JSON object with Content-Type: application/json",
        )
    details = validation_details(errors)
    shown = "; ".join(f"{d.location}: {d.message}" for d in details[:3])
    more = f" (and {len(details) - 3} more)" if len(details) > 3 else ""
    return error_response(
        422,
        "invalid_request",
        f"invalid request: {shown}{more}" if shown else "invalid request",
        hint="see /docs for the request schema",
        details=details,
    )


# --- handlers --------------------------------------------------------------------------------
def _logged(path: str) -> str:
    """A request path for a log line: control characters (ESC, newlines) escaped."""
    return printable(path, keep="")


async def _rag_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RagError)
    status, code = status_of(exc)
    if status >= 500:
        logger.error("%s %s failed: %s", request.method, _logged(request.url.path), exc)
    details = exc.details if isinstance(exc, ServiceError) else ()
    headers = exc.headers if isinstance(exc, ServiceError) else None
    return error_response(
        status, code, exc.message, hint=exc.hint, details=details, headers=headers
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_response(exc.errors())


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path (the router names only the first route's)."""
    routes = request.app.router.routes
    return [
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status, headers = exc.status_code, dict(exc.headers or {})
    code = _HTTP_CODES.get(status, f"http_{status}")
    hint: str | None = None
    if status == 404:
        message, hint = f"no route {request.method} {request.url.path}", "see /docs for the API"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
        hint = "see /docs for the methods of each route"
        headers["Allow"] = ", ".join(allowed_methods(request))
    elif status == 400:
        # FastAPI's only 400: a body it could not even decode (e.g. not UTF-8). Malformed input
        # is a 422 everywhere else, so it is here too.
        status, code = 422, "malformed_request"
        message = f"the request body could not be parsed: {exc.detail}"
        hint = "send UTF-8 JSON with Content-Type: application/json"
    else:
        message = str(exc.detail)
    return error_response(status, code, message, hint=hint, headers=headers or None)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("%s %s failed", request.method, _logged(request.url.path), exc_info=exc)
    return error_response(
        500, "internal_error", "internal server error", hint="see the server log for details"
    )


async def _disconnected(request: Request, exc: Exception) -> JSONResponse:
    # The client left while its body was arriving: nobody reads this answer; no traceback.
    logger.info("%s %s: the client disconnected", request.method, _logged(request.url.path))
    return error_response(400, "client_disconnected", "the client disconnected")


def install_error_handlers(app: FastAPI) -> None:
    """Route every error, expected or not, to the one JSON shape."""
    app.add_exception_handler(ClientDisconnect, _disconnected)
    app.add_exception_handler(RagError, _rag_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
