"""Turning parsed fields into a validated :class:`Document`, with loader-style errors."""

from __future__ import annotations

from pydantic import ValidationError

from index.records import Document, MetadataValue
from rag.errors import LoaderError


def validation_reason(error: ValidationError) -> str:
    """A one-line summary of a pydantic validation error."""
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "document"
        parts.append(f"{field}: {item['msg']}")
    return "invalid document (" + "; ".join(parts) + ")"


def build_document(
    label: str,
    *,
    doc_id: str,
    text: str,
    title: str = "",
    source: str = "",
    date: str | None = None,
    metadata: dict[str, MetadataValue] | None = None,
    page_starts: list[int] | None = None,
) -> Document:
    """Build a :class:`Document`; a validation failure becomes a :class:`LoaderError`."""
    try:
        return Document(
            id=doc_id,
            title=title,
            text=text,
            source=source,
            date=date,
            metadata=metadata or {},
            page_starts=page_starts,
        )
    except ValidationError as exc:
        raise LoaderError(label, validation_reason(exc)) from exc
