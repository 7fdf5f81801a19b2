"""Ingest: documents in, chunks + sentences embedded, durably committed to the index.

Documents stream through in groups: each group's chunk and sentence texts are embedded in one
batched call each, then written; the writer commits every ``commit_every`` chunks, so a crash or
kill loses at most the uncommitted group and never leaves a half-written index.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from index.records import Chunk, Document, Sentence
from index.store import IndexWriter
from rag.chunking import chunk_document
from rag.embedding import Embedder
from rag.language import detect_language
from rag.loaders import LoadFailure
from rag.tokens import TokenCounter

logger = logging.getLogger(__name__)

Outcome = Literal["added", "updated", "unchanged", "failed"]


class IngestReport(BaseModel):
    """What an ingest did. ``failed`` > 0 means some input could not be read."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    chunks: int = Field(0, description="Chunks embedded and written.")
    sentences: int = Field(0, description="Sentences embedded and written.")
    characters: int = Field(0, description="Characters of text in written documents.")
    seconds: float = 0.0
    embed_seconds: float = Field(0.0, description="Time spent inside the embedding model.")
    failures: list[LoadFailure] = Field(default_factory=list)

    @property
    def documents(self) -> int:
        return self.added + self.updated + self.unchanged

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class IngestEvent:
    """Progress notification: one per input document or failure, and one per commit."""

    kind: Literal["document", "failure", "commit"]
    doc_id: str = ""
    outcome: Outcome | None = None
    chunks: int = 0
    failure: LoadFailure | None = None


@dataclass
class _Pending:
    document: Document
    sentences: list[Sentence]
    chunks: list[Chunk]


@dataclass
class IngestOptions:
    chunk_tokens: int
    overlap_sentences: int
    batch_size: int = 64
    commit_every: int = 2048
    group_chunks: int = 256
    embed_sentences: bool = True


@dataclass
class _Run:
    writer: IndexWriter
    embedder: Embedder
    counter: TokenCounter
    options: IngestOptions
    on_event: Callable[[IngestEvent], None]
    report: IngestReport = field(default_factory=IngestReport)
    pending: list[_Pending] = field(default_factory=list)
    pending_chunks: int = 0
    uncommitted_chunks: int = 0

    def emit(self, event: IngestEvent) -> None:
        self.on_event(event)

    def add(self, document: Document) -> None:
        document = with_language(document)
        old = self.writer.content_hashes([document.id]).get(document.id)
        if old == document.content_hash:
            self.report.unchanged += 1
            self.emit(IngestEvent("document", document.id, "unchanged"))
            return
        sentences, chunks = chunk_document(
            document,
            self.counter,
            max_tokens=self.options.chunk_tokens,
            overlap_sentences=self.options.overlap_sentences,
        )
        self.pending.append(_Pending(document, sentences, chunks))
        self.pending_chunks += len(chunks)
        if self.pending_chunks >= min(self.options.group_chunks, self.options.commit_every):
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        chunk_texts = [c.text for p in self.pending for c in p.chunks]
        sentence_texts = [s.text for p in self.pending for s in p.sentences]
        t0 = time.perf_counter()
        chunk_vectors = self.embedder.encode(chunk_texts, batch_size=self.options.batch_size)
        sentence_vectors = (
            self.embedder.encode(sentence_texts, batch_size=self.options.batch_size)
            if self.options.embed_sentences
            else None
        )
        self.report.embed_seconds += time.perf_counter() - t0
        c_at = s_at = 0
        for p in self.pending:
            n_c, n_s = len(p.chunks), len(p.sentences)
            outcome = self.writer.upsert(
                p.document,
                p.chunks,
                chunk_vectors[c_at : c_at + n_c],
                p.sentences,
                None if sentence_vectors is None else sentence_vectors[s_at : s_at + n_s],
            )
            c_at, s_at = c_at + n_c, s_at + n_s
            if outcome == "added":
                self.report.added += 1
            elif outcome == "updated":
                self.report.updated += 1
            else:
                self.report.unchanged += 1
            if outcome != "unchanged":
                self.report.chunks += n_c
                self.report.sentences += n_s
                self.report.characters += len(p.document.text)
                self.uncommitted_chunks += n_c
            self.emit(IngestEvent("document", p.document.id, outcome, n_c))
        self.pending.clear()
        self.pending_chunks = 0
        if self.uncommitted_chunks >= self.options.commit_every:
            self.commit()

    def commit(self) -> None:
        self.writer.commit()
        self.emit(IngestEvent("commit", chunks=self.uncommitted_chunks))
        self.uncommitted_chunks = 0


def with_language(document: Document) -> Document:
    """``document`` with ``metadata["language"]`` (ISO 639-1), detected when not given."""
    if isinstance(document.metadata.get("language"), str):
        return document
    metadata = {**document.metadata, "language": detect_language(document.text)}
    return document.model_copy(update={"metadata": metadata})


def ingest(
    items: Iterable[Document | LoadFailure],
    writer: IndexWriter,
    embedder: Embedder,
    counter: TokenCounter,
    options: IngestOptions,
    *,
    on_event: Callable[[IngestEvent], None] | None = None,
) -> IngestReport:
    """Chunk, embed and write every document; count failures; commit durably at the end.

    A document id seen twice in one run keeps its last version.
    """
    start = time.perf_counter()
    run = _Run(writer, embedder, counter, options, on_event or (lambda _e: None))
    seen: set[str] = set()
    for item in items:
        if isinstance(item, LoadFailure):
            run.report.failed += 1
            run.report.failures.append(item)
            logger.warning("skipped %s", item)
            run.emit(IngestEvent("failure", failure=item))
            continue
        if item.id in seen:
            run.flush()  # the earlier version must be written before it is replaced
        seen.add(item.id)
        run.add(item)
    run.flush()
    run.commit()
    run.report.seconds = time.perf_counter() - start
    return run.report
