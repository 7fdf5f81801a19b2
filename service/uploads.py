"""Reading request bodies in memory, with the size limit enforced while the bytes arrive.

Uploads never touch the disk: a JSON body is read into memory and a multipart body is parsed
as it streams in (no temporary files), each part capped as it grows. A ``Content-Length`` over
the limit is refused before anything is read; a body that turns out larger is refused as soon as
it crosses the limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header
from starlette.requests import Request

from rag.jsonlimits import loads_limited
from service.errors import MalformedRequestError, PayloadTooLargeError

#: Room for multipart boundaries, part headers and small form fields beyond the file itself.
FRAMING_ALLOWANCE = 64 * 1024
#: Largest non-file form field (e.g. ``doc_id``).
MAX_FIELD_BYTES = 4096
#: Most parts one multipart body may have.
MAX_PARTS = 8


def too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the upload is larger than the server's limit of {limit} bytes",
        hint="split the file, or raise RAG_MAX_UPLOAD_BYTES on the server",
    )


def check_declared_length(request: Request, limit: int, shown: int | None = None) -> None:
    """Refuse at once a body whose declared ``Content-Length`` is over ``limit`` (the message
    states ``shown``: the file limit, when ``limit`` includes room for multipart framing)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit if shown is None else shown)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, of at most ``limit`` bytes."""
    check_declared_length(request, limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large(limit)
    return bytes(body)


def parse_json_body(body: bytes) -> object:
    """The JSON value of a body, within the depth limit (CPU work: call off the event loop)."""
    try:
        return loads_limited(body, parse_constant=_reject_constant)
    except ValueError as exc:  # also UnicodeDecodeError, JSONDecodeError and JsonLimitError
        raise MalformedRequestError(
            f"the request body is not valid JSON: {exc}",
            hint="send a JSON object with Content-Type: application/json",
        ) from exc


_EXT_FILENAME = re.compile(rb"""filename\*\s*=\s*([A-Za-z0-9_-]+)'[^']*'([^;\s]+)""", re.I)


def ext_filename(header: bytes) -> str | None:
    """The RFC 5987/6266 ``filename*=UTF-8''name%20x.txt`` of a Content-Disposition, if any."""
    match = _EXT_FILENAME.search(header)
    if match is None:
        return None
    charset = match.group(1).decode("ascii").lower()
    try:
        return unquote_to_bytes(match.group(2).decode("ascii")).decode(charset, "replace")
    except (LookupError, UnicodeDecodeError):
        return None


@dataclass
class FormPart:
    """One part of a ``multipart/form-data`` body, held in memory."""

    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)


@dataclass
class _PartBuilder:
    """Callback state of the streaming parser."""

    file_limit: int
    parts: list[FormPart] = field(default_factory=list)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    current: FormPart | None = None
    ended: bool = False

    def part_begin(self) -> None:
        if len(self.parts) >= MAX_PARTS:
            raise MalformedRequestError(f"the form has more than {MAX_PARTS} parts")
        self.current = FormPart()
        self.parts.append(self.current)

    def header_field_data(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def header_value_data(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def header_end(self) -> None:
        if self.current is not None and bytes(self.header_field).lower() == b"content-disposition":
            _, params = parse_options_header(bytes(self.header_value))
            self.current.name = params.get(b"name", b"").decode("utf-8", "replace")
            extended = ext_filename(bytes(self.header_value))
            filename = params.get(b"filename")
            self.current.filename = (
                extended
                if extended is not None
                else filename.decode("utf-8", "replace")
                if filename is not None
                else None
            )
        self.header_field.clear()
        self.header_value.clear()

    def part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.current
        if part is None:
            return
        part.data += data[start:end]
        if part.filename is not None:
            if len(part.data) > self.file_limit:
                raise too_large(self.file_limit)
        elif len(part.data) > MAX_FIELD_BYTES:
            raise MalformedRequestError(
                f"form field {part.name!r} is longer than {MAX_FIELD_BYTES} bytes"
            )

    def end(self) -> None:
        self.ended = True


async def read_multipart(request: Request, file_limit: int) -> list[FormPart]:
    """The parts of a ``multipart/form-data`` body; each file part at most ``file_limit`` bytes."""
    body_limit = file_limit + FRAMING_ALLOWANCE
    check_declared_length(request, body_limit, file_limit)
    _, params = parse_options_header(request.headers.get("content-type"))
    boundary = params.get(b"boundary")
    if not boundary:
        raise MalformedRequestError(
            "the multipart body has no boundary",
            hint="let your HTTP client build the multipart/form-data request",
        )
    state = _PartBuilder(file_limit=file_limit)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": state.part_begin,
            "on_header_field": state.header_field_data,
            "on_header_value": state.header_value_data,
            "on_header_end": state.header_end,
            "on_part_data": state.part_data,
            "on_end": state.end,
        },
    )
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > body_limit:
                raise too_large(file_limit)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise MalformedRequestError(f"the multipart body is malformed: {exc}") from exc
    if not state.ended:
        raise MalformedRequestError("the multipart body ends before its closing boundary")
    return state.parts
