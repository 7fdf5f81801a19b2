"""Citations and the invariant that makes them checkable: quote == document text at the span."""

from __future__ import annotations

from index.errors import RagError
from index.records import Document
from rag.models import Answer, Citation


class CitationError(RagError):
    """An answer would carry a citation that does not match its document (a bug, never shown)."""


def make_citation(
    marker: int, document: Document, start: int, end: int, speaker: str | None = None
) -> Citation:
    return Citation(
        marker=marker,
        doc_id=document.id,
        title=document.title,
        source=document.source,
        char_start=start,
        char_end=end,
        page=document.page_of(start),
        quote=document.text[start:end],
        speaker=speaker,
    )


def verify_citations(answer: Answer, documents: dict[str, Document]) -> None:
    """Raise unless every quote equals its document slice and every marker has a citation."""
    markers = {c.marker for c in answer.citations}
    for c in answer.citations:
        doc = documents.get(c.doc_id)
        if doc is None or doc.text[c.char_start : c.char_end] != c.quote:
            raise CitationError(f"citation [{c.marker}] does not match {c.doc_id}")
    for s in answer.sentences:
        missing = [m for m in s.markers if m not in markers]
        if missing:
            raise CitationError(f"markers {missing} point to no citation")
