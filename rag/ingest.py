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

import numpy as np
from pydantic import BaseModel, Field

from index.records import Chunk, Document, Sentence
from index.store import IndexWriter
from rag.chunking import chunk_document
from rag.embedding import Embedder
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


Prepared = tuple[list[Sentence], list[Chunk]]


@dataclass
class PendingDocument:
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


def prepare(document: Document, counter: TokenCounter, options: IngestOptions) -> Prepared:
    """A document's sentences and chunks, cut as ``options`` say."""
    return chunk_document(
        document,
        counter,
        max_tokens=options.chunk_tokens,
        overlap_sentences=options.overlap_sentences,
    )


def embed_group(
    embedder: Embedder, chunk_texts: list[str], sentence_texts: list[str], options: IngestOptions
) -> tuple[np.ndarray, np.ndarray | None]:
    """One group's chunk and sentence vectors (None when sentences are not embedded). Every
    path embeds a group through here, so batches, and so vectors, are the same everywhere."""
    chunk_vectors = embedder.encode(chunk_texts, batch_size=options.batch_size)
    sentence_vectors = (
        embedder.encode(sentence_texts, batch_size=options.batch_size)
        if options.embed_sentences
        else None
    )
    return chunk_vectors, sentence_vectors


@dataclass
class IngestRun:
    writer: IndexWriter
    embedder: Embedder
    counter: TokenCounter
    options: IngestOptions
    on_event: Callable[[IngestEvent], None]
    report: IngestReport = field(default_factory=IngestReport)
    pending: list[PendingDocument] = field(default_factory=list)
    pending_chunks: int = 0
    uncommitted_chunks: int = 0

    def emit(self, event: IngestEvent) -> None:
        self.on_event(event)

    def add(self, document: Document, prepared: Prepared | None = None) -> None:
        """Queue a document unless its content hash is already in the index; ``prepared`` holds
        its sentences and chunks when they were cut elsewhere (e.g. on a cluster worker)."""
        old = self.writer.content_hashes([document.id]).get(document.id)
        if old == document.content_hash:
            self.report.unchanged += 1
            self.emit(IngestEvent("document", document.id, "unchanged"))
            return
        if prepared is None:
            prepared = prepare(document, self.counter, self.options)
        sentences, chunks = prepared
        self.pending.append(PendingDocument(document, sentences, chunks))
        self.pending_chunks += len(chunks)
        if self.pending_chunks >= min(self.options.group_chunks, self.options.commit_every):
            self.flush()

    def take_group(self) -> tuple[list[PendingDocument], list[str], list[str]]:
        """The queued documents with their chunk and sentence texts, in embedding order."""
        group, self.pending, self.pending_chunks = self.pending, [], 0
        chunk_texts = [c.text for p in group for c in p.chunks]
        sentence_texts = (
            [s.text for p in group for s in p.sentences] if self.options.embed_sentences else []
        )
        return group, chunk_texts, sentence_texts

    def flush(self) -> None:
        if not self.pending:
            return
        group, chunk_texts, sentence_texts = self.take_group()
        t0 = time.perf_counter()
        chunk_vectors, sentence_vectors = embed_group(
            self.embedder, chunk_texts, sentence_texts, self.options
        )
        self.report.embed_seconds += time.perf_counter() - t0
        self.write_group(group, chunk_vectors, sentence_vectors)

    def write_group(
        self,
        group: list[PendingDocument],
        chunk_vectors: np.ndarray,
        sentence_vectors: np.ndarray | None,
    ) -> None:
        """Upsert an embedded group in order; commit when enough new chunks have piled up."""
        c_at = s_at = 0
        for p in group:
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
        if self.uncommitted_chunks >= self.options.commit_every:
            self.commit()

    def finish(self) -> None:
        """Wait for work still in flight (nothing here: the local path embeds synchronously)."""

    def commit(self) -> None:
        self.writer.commit()
        self.emit(IngestEvent("commit", chunks=self.uncommitted_chunks))
        self.uncommitted_chunks = 0


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
    run = IngestRun(writer, embedder, counter, options, on_event or (lambda _e: None))
    return drive(run, ((item, None) for item in items))


def drive(
    run: IngestRun, items: Iterable[tuple[Document | LoadFailure, Prepared | None]]
) -> IngestReport:
    """The ingest loop over ``(document or failure, prepared chunks or None)``, shared by the
    local path and the cluster path (:mod:`rag.distributed`), so both write the same index."""
    start = time.perf_counter()
    seen: set[str] = set()
    for item, prepared in items:
        if isinstance(item, LoadFailure):
            run.report.failed += 1
            run.report.failures.append(item)
            logger.warning("skipped %s", item)
            run.emit(IngestEvent("failure", failure=item))
            continue
        if item.id in seen:
            run.flush()  # the earlier version must be written before it is replaced
            run.finish()
        seen.add(item.id)
        run.add(item, prepared)
    run.flush()
    run.finish()
    run.commit()
    run.report.seconds = time.perf_counter() - start
    return run.report
