"""Question-side contracts: passages, citations and answers. Also re-exports the storage records."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    computed_field,
    model_validator,
)

from index.records import (
    Chunk,
    ChunkFilter,
    Document,
    DocumentInfo,
    MetadataValue,
    Sentence,
)

__all__ = [
    "Answer",
    "AnswerDraft",
    "AnswerSentence",
    "Chunk",
    "ChunkFilter",
    "Citation",
    "Document",
    "DocumentInfo",
    "IndexStats",
    "Passage",
    "PassageDebug",
    "RetrieverHit",
    "Sentence",
]


class RetrieverHit(BaseModel):
    """Where one retriever placed a passage."""

    rank: int = Field(..., ge=1, description="1-based rank in that retriever's list.")
    score: float = Field(..., description="That retriever's raw score (cosine or BM25).")


class PassageDebug(BaseModel):
    """The raw scores behind a passage's rank: for diagnosis, not for readers."""

    fused_score: float = Field(0.0, description="Weighted reciprocal-rank-fusion score.")
    dense: RetrieverHit | None = Field(
        None,
        description="Rank in the dense list (FAISS's candidates, in the order dense_scoring "
        "sets) and the chunk's own cosine.",
    )
    lexical: RetrieverHit | None = Field(None, description="Rank and BM25 score in the FTS5 list.")


class Passage(BaseModel):
    """A retrieved chunk with its provenance, its fused rank and a 0..1 relevance."""

    chunk_id: int = Field(..., description="Stable id of the chunk in the index.")
    doc_id: str = Field(..., description="Document the passage comes from.")
    title: str = Field(..., description="That document's title.")
    source: str = Field(..., description="That document's source.")
    date: str | None = Field(None, description="That document's date, if known.")
    page: int | None = Field(None, description="1-based page where the passage starts, if paged.")
    char_start: int = Field(..., description="Start offset of the passage in the document text.")
    char_end: int = Field(..., description="End offset (exclusive) in the document text.")
    text: str = Field(..., description="The passage: document.text[char_start:char_end].")
    sentence_start: int = Field(..., ge=0, description="Ordinal of the passage's first sentence.")
    sentence_end: int = Field(..., ge=0, description="Ordinal after its last sentence.")
    metadata: dict[str, MetadataValue] = Field(
        default_factory=dict, description="That document's metadata (language, country, …)."
    )
    rank: int = Field(..., ge=1, description="1-based rank after fusion.")
    score: float = Field(..., description="Fused (reciprocal rank) score (also in debug).")
    relevance: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Fused score relative to the best passage of this answer: 1.0 for the top "
        "passage, lower for weaker ones. For readers; the raw scores are under debug.",
    )
    debug: PassageDebug = Field(
        default_factory=PassageDebug, description="Raw retriever ranks and scores."
    )
    # The whole document, read once per snapshot by retrieval for the answerer (not serialised).
    _document: Document | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _hits_into_debug(cls, data: Any) -> Any:
        """``dense=`` / ``lexical=`` (the old top-level fields) are accepted into ``debug``."""
        if isinstance(data, dict) and ("dense" in data or "lexical" in data):
            data = dict(data)
            debug = dict(data.get("debug") or {})
            debug.setdefault("dense", data.pop("dense", None))
            debug.setdefault("lexical", data.pop("lexical", None))
            debug.setdefault("fused_score", data.get("score", 0.0))
            data["debug"] = debug
        return data

    @property
    def dense(self) -> RetrieverHit | None:
        return self.debug.dense

    @property
    def lexical(self) -> RetrieverHit | None:
        return self.debug.lexical

    @property
    def document(self) -> Document | None:
        """The document the passage comes from, when retrieval attached it."""
        return self._document

    def with_document(self, document: Document) -> Passage:
        """This passage with its document attached (``document.id`` must be ``doc_id``)."""
        if document.id != self.doc_id:
            raise ValueError(f"document {document.id!r} is not the passage's {self.doc_id!r}")
        self._document = document
        return self


class Citation(BaseModel):
    """A verbatim quote and its exact location. ``quote == document.text[char_start:char_end]``."""

    marker: int = Field(..., ge=1, description="The number shown as [n] in the answer.")
    doc_id: str = Field(..., description="Cited document.")
    title: str = Field(..., description="Cited document's title.")
    source: str = Field(..., description="Cited document's source.")
    date: str | None = Field(None, description="Cited document's date (YYYY[-MM[-DD]]), if known.")
    metadata: dict[str, MetadataValue] = Field(
        default_factory=dict, description="Cited document's metadata (country, language, …)."
    )
    char_start: int = Field(..., ge=0, description="Start offset of the quote in the document.")
    char_end: int = Field(..., gt=0, description="End offset (exclusive) of the quote.")
    page: int | None = Field(None, description="1-based page of the quote, if paged.")
    quote: str = Field(..., description="Verbatim text: document.text[char_start:char_end].")
    speaker: str | None = Field(
        None, description="Who is reported as saying it, when the quote reports speech."
    )


class AnswerSentence(BaseModel):
    """One sentence of the answer and the citations that support it."""

    text: str = Field(..., description="The sentence, without its markers.")
    markers: list[int] = Field(default_factory=list, description="Citations that support it.")
    flagged: bool = Field(False, description="True when no valid citation supports the sentence.")


AnswererName = Literal["extractive", "llm"]
RetrievalModeName = Literal["hybrid", "dense", "lexical"]


class AnswerDraft(BaseModel):
    """What an answerer decides from the evidence: the cited sentences (or an abstention).

    Only the system knows the rest of an :class:`Answer` (the question as asked, the retrieved
    passages, the retrieval mode, its own warnings and the timings, answering included), so it
    builds the answer once from a draft with :meth:`to_answer`; nothing is patched afterwards.
    """

    model_config = ConfigDict(frozen=True)

    answer: str = Field(..., description="Answer text with [n] citation markers.")
    short_answer: str | None = Field(None, description="A precise span pinned inside the answer.")
    abstained: bool = Field(False, description="True when the evidence does not answer it.")
    sentences: list[AnswerSentence] = Field(default_factory=list)
    citations: list[Citation] = Field(
        default_factory=list, description="Citations with their document's date and metadata."
    )
    confidence: float = Field(0.0, description="Support score of the best evidence, 0..1.")
    answerer: AnswererName = Field(description="Who answered.")
    warnings: list[str] = Field(default_factory=list, description="Abstention reasons, fallbacks.")

    def with_warning(self, warning: str) -> AnswerDraft:
        """This draft with one more warning (a new object: drafts are frozen)."""
        return self.model_copy(update={"warnings": [*self.warnings, warning]})

    def to_answer(
        self,
        *,
        question: str,
        passages: list[Passage],
        mode: RetrievalModeName,
        warnings: list[str] | None = None,
        timings_ms: dict[str, float] | None = None,
    ) -> Answer:
        """The complete answer: this draft plus what only the caller knows (``warnings`` come
        after the draft's own)."""
        return Answer(
            question=question,
            answer=self.answer,
            short_answer=self.short_answer,
            abstained=self.abstained,
            sentences=list(self.sentences),
            citations=list(self.citations),
            passages=list(passages),
            confidence=self.confidence,
            answerer=self.answerer,
            mode=mode,
            warnings=[*self.warnings, *(warnings or [])],
            timings_ms=dict(timings_ms or {}),
        )


class Answer(BaseModel):
    """The answer to one question, or an abstention, with every statement cited."""

    question: str = Field(..., description="The question as asked (trimmed).")
    answer: str = Field(..., description="Answer text with [n] citation markers.")
    short_answer: str | None = Field(
        None, description="A precise span (date, name, number) pinned inside the answer."
    )

    @computed_field(  # type: ignore[prop-decorator]
        description="The answer text without its [n] citation markers: the answer's sentences "
        "joined by spaces (for an extractive answer, its quotes verbatim, even where a quote "
        "holds bracketed numbers of its own such as [2][3])."
    )
    @property
    def answer_plain(self) -> str:
        # From the sentences, not by stripping [n] from ``answer``: a document's own "[2][3]"
        # would be taken for markers and cut out of the quote.
        if self.sentences:
            return " ".join(s.text for s in self.sentences)
        return strip_markers(self.answer)

    abstained: bool = Field(False, description="True when the documents do not answer it.")
    sentences: list[AnswerSentence] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    passages: list[Passage] = Field(
        default_factory=list, description="Retrieved passages (the closest ones when abstaining)."
    )
    confidence: float = Field(0.0, description="Support score of the best evidence, 0..1.")
    answerer: AnswererName = Field(description="Who answered.")
    mode: RetrievalModeName = Field(description="Retrieval mode.")
    warnings: list[str] = Field(default_factory=list, description="Abstention reasons, fallbacks.")
    timings_ms: dict[str, float] = Field(
        default_factory=dict, description="Milliseconds per stage: encode, retrieve, answer."
    )


class IndexStats(BaseModel):
    """What an index holds and how it was built (``rag stats``, ``GET /health``)."""

    index_dir: str = Field(..., description="The index folder.")
    documents: int = Field(..., ge=0)
    chunks: int = Field(..., ge=0)
    sentences: int = Field(..., ge=0)
    counts: dict[str, int] = Field(
        ..., description="Every row count of the catalog (fts_rows, characters, vectors, …)."
    )
    generation: int = Field(..., ge=0, description="Committed generation (grows on writes).")
    vector_index: Literal["flat", "ivf"]
    model: str = Field(..., description="Embedding model the index was built with.")
    dimension: int = Field(..., ge=1)
    chunk_tokens: int = Field(..., ge=1)
    token_encoding: str
    format_version: int
    problems: list[str] | None = Field(
        None, description="With a check: problems found (empty: none); without one: null."
    )


_MARKER_RE = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")


def strip_markers(text: str) -> str:
    """``text`` without ``[n]`` / ``[1, 2]`` citation markers (and the space before them)."""
    return re.sub(r"[ \t]{2,}", " ", _MARKER_RE.sub("", text)).strip()


def relevance_of(scores: list[float]) -> list[float]:
    """Each fused score relative to the best, in [0, 1] (rounded to 4 places)."""
    best = max(scores, default=0.0)
    if best <= 0:
        return [0.0 for _ in scores]
    return [round(min(1.0, max(0.0, s / best)), 4) for s in scores]
