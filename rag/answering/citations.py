"""Citations and the invariant that makes them checkable: quote == document text at the span."""

from __future__ import annotations

from index.errors import RagError
from index.records import Document
from rag.models import Answer, AnswerDraft, Citation, Passage


class CitationError(RagError):
    """An answer would carry a citation that does not match its document (a bug, never shown)."""


def make_citation(
    marker: int, document: Document, start: int, end: int, speaker: str | None = None
) -> Citation:
    """A citation of ``document.text[start:end]``, complete with the document's fields (title,
    source, date, metadata, the page of ``start``)."""
    return Citation(
        marker=marker,
        doc_id=document.id,
        title=document.title,
        source=document.source,
        date=document.date,
        metadata=dict(document.metadata),
        char_start=start,
        char_end=end,
        page=document.page_of(start),
        quote=document.text[start:end],
        speaker=speaker,
    )


def passage_citation(marker: int, passage: Passage) -> Citation:
    """A citation of a whole retrieved passage, from the document fields the passage carries
    (no document lookup: ``passage.text`` is the document's text at the passage's span)."""
    return Citation(
        marker=marker,
        doc_id=passage.doc_id,
        title=passage.title,
        source=passage.source,
        date=passage.date,
        metadata=dict(passage.metadata),
        char_start=passage.char_start,
        char_end=passage.char_end,
        page=passage.page,
        quote=passage.text,
    )


def verify_citations(answer: Answer | AnswerDraft, documents: dict[str, Document]) -> None:
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
