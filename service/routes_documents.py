"""``/documents``: list, show, add (JSON or file upload) and delete documents.

Document ids are data, never paths: they may contain ``/`` and ``:`` (hence the ``path`` route
parameter) and only ever reach the index as SQL parameters. Uploaded files are parsed in a
budgeted child process, and every write waits (bounded) for the single writer thread without
holding a thread that reads need (:mod:`service.writer_queue`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError

from index.errors import DocumentNotFoundError
from rag.loaders import SUPPORTED_SUFFIXES
from rag.loaders.overrides import DocumentFields
from rag.models import Document
from rag.settings import Settings
from service.auth import write_dependencies
from service.errors import (
    MalformedRequestError,
    UnsupportedMediaTypeError,
    responses,
    validation_details,
)
from service.schemas import DeleteResponse, DocumentList, IngestResponse, first_unencodable
from service.state import State
from service.uploads import FormPart, parse_json_body, read_body, read_multipart

MAX_PAGE = 500
#: What ``Document`` validates beyond its generated schema, stated for clients.
ID_PATTERN = r"^(?!\.\.?$)[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
DATE_PATTERN = r"^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$"


def document_body_schema() -> dict[str, Any]:
    """The JSON Schema of a ``Document`` request body, with its id, text and date rules."""
    schema = Document.model_json_schema()
    props = schema["properties"]
    props["id"]["pattern"] = ID_PATTERN
    props["id"]["description"] += " Not blank, not '.' or '..'; no control characters."
    props["text"]["pattern"] = r"\S"
    props["date"]["anyOf"][0]["pattern"] = DATE_PATTERN
    return schema


#: The two request bodies ``POST /documents`` takes.
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Either one document as JSON, or a file upload of any type ingest "
        f"accepts ({', '.join(sorted(SUPPORTED_SUFFIXES))}); a .jsonl file may hold many "
        "documents.",
        "content": {
            "application/json": {"schema": document_body_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "title": "DocumentUpload",
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The file; its name's suffix picks the format.",
                        },
                        "doc_id": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 512,
                            "description": "Id for the document (default: the file name; "
                            "ignored for .jsonl, whose records carry their ids).",
                        },
                        "date": {
                            "type": "string",
                            "maxLength": 64,
                            "description": "Date of every document of the file (YYYY, YYYY-MM "
                            "or YYYY-MM-DD), replacing one read from the file (HTML meta, PDF "
                            "CreationDate, Word properties); as `rag ingest --date`.",
                        },
                        "meta": {
                            "type": "string",
                            "maxLength": 4096,
                            "description": "Metadata for every document of the file: "
                            "KEY=VALUE, one per line (or one per `meta` field), e.g. "
                            "`country=SWE`; as `rag ingest --meta`.",
                        },
                    },
                    "required": ["file"],
                }
            },
        },
    }
}


def _not_found(doc_id: str) -> DocumentNotFoundError:
    return DocumentNotFoundError(
        f"no document {doc_id!r} in the index", hint="GET /documents lists the documents"
    )


def _document_from_json(value: object) -> Document:
    where = first_unencodable(value, "body")
    if where is not None:
        raise MalformedRequestError(f"{where} contains characters that are not valid Unicode text")
    try:
        return Document.model_validate(value, strict=True)
    except ValidationError as exc:
        details = validation_details(
            [{"loc": ("body", *e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        )
        shown = "; ".join(f"{d.location}: {d.message}" for d in details[:3])
        raise MalformedRequestError(
            f"invalid document: {shown}",
            hint="see the Document schema at /docs",
            details=details,
        ) from exc


def _form_text(part: FormPart) -> str:
    try:
        return bytes(part.data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRequestError(f"form field {part.name!r} is not UTF-8 text") from exc


def _fields_from_form(parts: list[FormPart]) -> DocumentFields:
    """The ``date`` and ``meta`` form fields (``KEY=VALUE`` lines) as :class:`DocumentFields`."""
    fields = [p for p in parts if p.filename is None]
    dates = [_form_text(p).strip() for p in fields if p.name == "date"]
    meta = [
        line.strip()
        for p in fields
        if p.name == "meta"
        for line in _form_text(p).splitlines()
        if line.strip()
    ]
    if len(dates) > 1:
        raise MalformedRequestError("the form has more than one 'date' field")
    try:
        return DocumentFields.parse(meta, dates[0] if dates else None)
    except ValueError as exc:
        raise MalformedRequestError(
            f"invalid form field: {exc}", hint="e.g. date=2022-05 and meta=country=SWE"
        ) from None


def _upload_from_form(parts: list[FormPart]) -> tuple[FormPart, str | None]:
    files = [p for p in parts if p.name == "file" and p.filename is not None]
    if len(files) != 1:
        raise MalformedRequestError(
            "the form needs exactly one file part named 'file'",
            hint="e.g. curl -F file=@speech.pdf http://127.0.0.1:8000/documents",
        )
    doc_id: str | None = None
    for part in parts:
        if part.name == "doc_id" and part.filename is None:
            try:
                doc_id = bytes(part.data).decode("utf-8").strip() or None
            except UnicodeDecodeError as exc:
                raise MalformedRequestError("form field 'doc_id' is not UTF-8 text") from exc
    return files[0], doc_id


def _check_unicode(documents: list[Document]) -> list[Document]:
    for document in documents:
        if first_unencodable(document.model_dump(), document.id[:80]) is not None:
            raise MalformedRequestError(
                f"document {document.id[:80]!r} contains characters that are not valid Unicode"
            )
    return documents


def documents_router(settings: Settings) -> APIRouter:
    router = APIRouter(prefix="/documents", tags=["documents"])
    writes = write_dependencies(settings)
    write_errors = (401,) if writes else ()

    @router.get(
        "",
        response_model=DocumentList,
        summary="List documents",
        responses=responses(422, 503),
    )
    def list_documents(
        state: State,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size.")] = 50,
        offset: Annotated[int, Query(ge=0, le=2**62, description="Documents to skip.")] = 0,
    ) -> DocumentList:
        docs, total = state.system.list_documents(limit=limit, offset=offset)
        return DocumentList(documents=docs, total=total, limit=limit, offset=offset)

    @router.get(
        "/{doc_id:path}",
        response_model=Document,
        summary="One document with its full text",
        description="Citations index into `text`: `text[char_start:char_end] == quote`.",
        responses=responses(404, 422, 503),
    )
    def get_document(doc_id: str, state: State) -> Document:
        doc = state.system.get_document(doc_id) if first_unencodable(doc_id) is None else None
        if doc is None:
            raise _not_found(doc_id)
        return doc

    @router.post(
        "",
        response_model=IngestResponse,
        status_code=201,
        summary="Add or replace documents",
        description="Takes one document as JSON or one uploaded file; the documents answer "
        "questions as soon as this returns, and persist in the index folder.",
        dependencies=writes,
        responses=responses(*write_errors, 403, 408, 409, 413, 415, 422, 503, 507),
        openapi_extra=UPLOAD_BODY,
    )
    async def add_documents(request: Request, state: State) -> IngestResponse:
        limit = state.settings.max_upload_bytes
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type not in ("application/json", "multipart/form-data"):
            raise UnsupportedMediaTypeError(
                f"POST /documents does not take {media_type or 'a body without a content type'}",
                hint="send application/json (one Document) or multipart/form-data (a file)",
            )
        async with state.writes.slot(client=request.client.host if request.client else None):
            if media_type == "application/json":
                body = await read_body(request, limit)
                document = await state.writes.parse(
                    lambda gone: _document_from_json(parse_json_body(body)), request
                )
                documents = [document]
            else:
                form = await read_multipart(request, limit)
                upload, doc_id = _upload_from_form(form)
                fields = _fields_from_form(form)
                filename, data = upload.filename or "", bytes(upload.data)
                parsed = await state.writes.parse(
                    lambda gone: state.uploads.parse(filename, data, doc_id, gone), request
                )
                documents = [fields.apply(d) for d in _check_unicode(parsed)]
            report = await state.writes.write(
                lambda: state.system.ingest(documents, state.counter), request
            )
        return IngestResponse(
            ids=[d.id for d in documents],
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
            chunks=report.chunks,
            seconds=round(report.seconds, 3),
        )

    @router.delete(
        "/{doc_id:path}",
        response_model=DeleteResponse,
        summary="Delete a document",
        dependencies=writes,
        responses=responses(*write_errors, 403, 404, 409, 422, 503, 507),
    )
    async def delete_document(doc_id: str, state: State) -> DeleteResponse:
        if first_unencodable(doc_id) is not None:
            raise _not_found(doc_id)
        async with state.writes.slot():
            deleted = await state.writes.write(lambda: state.system.delete_document(doc_id))
        if not deleted:
            raise _not_found(doc_id)
        return DeleteResponse(id=doc_id, deleted=True)

    return router
