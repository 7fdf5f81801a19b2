"""Storage records: what the index keeps about documents, chunks and sentences.

These are the typed contracts shared by every layer. ``rag.models`` re-exports them next to the
question-side models (``Passage``, ``Citation``, ``Answer``).
"""

from __future__ import annotations

import bisect
import datetime
import hashlib
import itertools
import re
from typing import Annotated, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MetadataValue = str | int | float | bool
_DATE_RE = re.compile(r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?\Z")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def is_iso_date(value: str) -> bool:
    """Whether ``value`` is ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` naming a real month or day."""
    if not _DATE_RE.match(value):
        return False
    parts = [int(p) for p in value.split("-")]
    if len(parts) >= 2 and not 1 <= parts[1] <= 12:
        return False
    if len(parts) == 3:
        try:
            datetime.date(parts[0], parts[1], parts[2])
        except ValueError:
            return False
    return True


class Document(BaseModel):
    """A source document: an article, a speech, a treaty, a page of a PDF file."""

    model_config = ConfigDict(frozen=True)

    id: Annotated[str, Field(min_length=1, max_length=512, description="Stable document id.")]
    title: str = Field("", description="Human-readable title.")
    text: str = Field(..., description="The full text; citations index into it.")
    source: str = Field("", description="Where the document comes from (publisher, file).")
    date: str | None = Field(None, description="ISO date prefix: YYYY, YYYY-MM or YYYY-MM-DD.")
    metadata: dict[str, MetadataValue] = Field(
        default_factory=dict, description="Further key/value metadata, usable as filters."
    )
    page_starts: list[int] | None = Field(
        None,
        description="Character offset at which each page begins (page n starts at "
        "page_starts[n-1]); null for sources without pages.",
    )

    @field_validator("id")
    @classmethod
    def _id_is_clean(cls, value: str) -> str:
        if not value.strip() or _CONTROL_RE.search(value):
            raise ValueError("document id must be non-blank and contain no control characters")
        if value in (".", ".."):
            # URLs resolve them as path segments: /documents/.. would not name the document.
            raise ValueError("document id may not be '.' or '..'")
        return value

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("document text is empty")
        return value

    @field_validator("date")
    @classmethod
    def _date_is_iso(cls, value: str | None) -> str | None:
        if value is not None and not is_iso_date(value):
            raise ValueError("date must be a real date written YYYY, YYYY-MM or YYYY-MM-DD")
        return value

    @model_validator(mode="after")
    def _pages_are_ordered(self) -> Document:
        starts = self.page_starts
        if starts is not None:
            if not starts or starts[0] != 0:
                raise ValueError("page_starts must begin with 0")
            if any(b < a for a, b in itertools.pairwise(starts)):
                raise ValueError("page_starts must be non-decreasing")
            if starts[-1] > len(self.text):
                raise ValueError("page_starts point past the end of the text")
        return self

    @property
    def content_hash(self) -> str:
        """Hash of everything that affects chunks and answers; equal hash means unchanged."""
        h = hashlib.sha256()
        for part in (self.title, self.source, self.date or "", self.text):
            h.update(part.encode("utf-8"))
            h.update(b"\x00")
        h.update(repr(sorted(self.metadata.items())).encode("utf-8"))
        h.update(repr(self.page_starts).encode("utf-8"))
        return h.hexdigest()

    def page_of(self, offset: int) -> int | None:
        """1-based page holding character ``offset``, or None when the source has no pages."""
        if self.page_starts is None:
            return None
        return max(1, bisect.bisect_right(self.page_starts, offset))


class Sentence(BaseModel):
    """One sentence (or word-boundary piece of an overlong sentence) of a document."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    ordinal: int = Field(..., ge=0)
    char_start: int = Field(..., ge=0)
    char_end: int = Field(..., gt=0)
    text: str


class Chunk(BaseModel):
    """A retrievable unit: consecutive whole sentences of one document within a token budget.

    Invariant: ``document.text[char_start:char_end] == text``.
    """

    model_config = ConfigDict(frozen=True)

    id: int | None = Field(None, description="Stable int64 id, assigned by the index.")
    doc_id: str
    ordinal: int = Field(..., ge=0, description="Position of the chunk in its document.")
    char_start: int = Field(..., ge=0)
    char_end: int = Field(..., gt=0)
    text: str
    n_tokens: int = Field(..., ge=0, description="Token count (tiktoken) of the text.")
    page: int | None = Field(None, description="1-based page of char_start, if paged.")
    sentence_start: int = Field(..., ge=0, description="First sentence ordinal (inclusive).")
    sentence_end: int = Field(..., gt=0, description="Last sentence ordinal (exclusive).")


class DocumentFields(NamedTuple):
    """A document's id, date and metadata: what a search needs to tell documents apart."""

    doc_id: str
    date: str | None
    metadata: dict[str, MetadataValue]


class DocumentInfo(BaseModel):
    """A document's listing entry, without its text."""

    id: str
    title: str
    source: str
    date: str | None
    metadata: dict[str, MetadataValue]
    n_chars: int
    n_chunks: int
    content_hash: str
    ingested_at: str


class ChunkFilter(BaseModel):
    """Restricts which chunks a search may return. Applied inside each retriever."""

    model_config = ConfigDict(frozen=True)

    doc_ids: frozenset[str] | None = None
    source: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)

    def is_empty(self) -> bool:
        return (
            self.doc_ids is None
            and self.source is None
            and self.date_from is None
            and self.date_to is None
            and not self.metadata
        )
