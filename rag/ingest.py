"""Ingest: documents in, chunks + sentences embedded, durably committed to the index.

Documents stream through in groups: each group's chunk and sentence texts are embedded in one
batched call each, then written; the writer commits every ``commit_every`` chunks, so a crash or
kill loses at most the uncommitted group and never leaves a half-written index.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from index.records import Chunk, Document, Sentence
from index.store import IndexWriter
from rag.chunking import chunk_document
from rag.embedding import Embedder
from rag.language import detect_language
from rag.loaders import LoadFailure
from rag.tokens import TokenCounter

logger = logging.getLogger(__name__)

# While reading ahead, the total planned so far is reported this often.
_PLAN_EVERY_SECONDS = 0.5

Outcome = Literal["added", "updated", "unchanged", "failed"]


class IngestReport(BaseModel):
    """What an ingest did. ``failed`` or ``skipped`` > 0 means some input was not ingested."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = Field(0, description="Inputs that could not be read (bad, empty, corrupt).")
    skipped: int = Field(0, description="Files of a type ingest does not read.")
    chunks: int = Field(0, description="Chunks embedded and written.")
    sentences: int = Field(0, description="Sentences embedded and written.")
    characters: int = Field(0, description="Characters of text in written documents.")
    seconds: float = Field(0.0, description="Time in ingest itself (reading, embedding, writing).")
    prepare_seconds: float = Field(
        0.0, description="Time before ingest: opening the index, exporting and loading the model."
    )
    embed_seconds: float = Field(0.0, description="Time spent inside the embedding model.")
    failures: list[LoadFailure] = Field(
        default_factory=list, description="Every input not ingested (failed or skipped), once."
    )

    @property
    def documents(self) -> int:
        return self.added + self.updated + self.unchanged

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0


EventKind = Literal["document", "failure", "commit", "planned", "embedded"]


@dataclass(frozen=True)
class IngestEvent:
    """Progress notification.

    * ``document``: one per input document once written or found unchanged (``chunks``: its
      chunk count);
    * ``failure``: one per input not ingested (``failure.skipped`` for an unsupported type);
    * ``commit``: one per durable commit;
    * ``planned``: the documents read so far have been chunked: ``planned_chunks`` chunks to
      embed in all, ``documents`` read; ``final`` once the input is exhausted;
    * ``embedded``: ``done_chunks`` chunks' worth of embedding finished (a fraction while a
      group is under way: chunks and their sentences are embedded together, and progress is
      counted by characters, which is where the time goes).
    """

    kind: EventKind
    doc_id: str = ""
    outcome: Outcome | None = None
    chunks: int = 0
    failure: LoadFailure | None = None
    planned_chunks: int = 0
    documents: int = 0
    final: bool = False
    done_chunks: float = 0.0


@dataclass
class _Pending:
    document: Document
    sentences: list[Sentence]
    chunks: list[Chunk]


@dataclass
class IngestOptions:
    chunk_tokens: int
    overlap_sentences: int
    batch_size: int  # Settings.embed_batch_size
    commit_every: int  # Settings.commit_every_chunks
    group_chunks: int = 256
    embed_sentences: bool = True
    # Documents are read and chunked this many chunks ahead of embedding, so that the total is
    # known (exactly, for inputs up to this size) before the slow part starts.
    lookahead_chunks: int = 20_000
    # Texts per embedding call: progress is reported after each.
    progress_texts: int = 128


@dataclass
class _Run:
    writer: IndexWriter
    embedder: Embedder
    counter: TokenCounter
    options: IngestOptions
    on_event: Callable[[IngestEvent], None]
    report: IngestReport = field(default_factory=IngestReport)
    queue: deque[_Pending] = field(default_factory=deque)
    queued_chunks: int = 0
    planned_chunks: int = 0
    documents_read: int = 0
    done_chunks: float = 0.0
    uncommitted_chunks: int = 0
    seen: set[str] = field(default_factory=set)

    def emit(self, event: IngestEvent) -> None:
        self.on_event(event)

    def fail(self, failure: LoadFailure) -> None:
        if failure.skipped:
            self.report.skipped += 1
        else:
            self.report.failed += 1
        self.report.failures.append(failure)
        logger.info("%s %s", "skipped" if failure.skipped else "failed", failure)
        self.emit(IngestEvent("failure", failure=failure))

    def read(self, document: Document) -> None:
        """Chunk a document into the queue, or count it unchanged."""
        self.documents_read += 1
        repeated = document.id in self.seen
        self.seen.add(document.id)
        old = self.writer.content_hashes([document.id]).get(document.id)
        document = self._with_language(document, old)
        if old == document.content_hash and not repeated:
            self.report.unchanged += 1
            self.emit(IngestEvent("document", document.id, "unchanged"))
            return
        sentences, chunks = chunk_document(
            document,
            self.counter,
            max_tokens=self.options.chunk_tokens,
            overlap_sentences=self.options.overlap_sentences,
        )
        self.queue.append(_Pending(document, sentences, chunks))
        self.queued_chunks += len(chunks)
        self.planned_chunks += len(chunks)

    def _with_language(self, document: Document, old_hash: str | None) -> Document:
        """The document with its language; an unchanged one takes the stored language, so
        re-ingesting an unchanged corpus detects nothing."""
        if old_hash is not None and "language" not in document.metadata:
            stored = (self.writer.metadata(document.id) or {}).get("language")
            if isinstance(stored, str):
                candidate = _set_language(document, stored)
                if candidate.content_hash == old_hash:
                    return candidate
        return with_language(document)

    def plan(self, final: bool) -> None:
        self.emit(
            IngestEvent(
                "planned",
                planned_chunks=self.planned_chunks,
                documents=self.documents_read,
                final=final,
            )
        )

    def drain(self) -> None:
        """Embed and write everything queued, in groups of about ``group_chunks`` chunks."""
        group_size = min(self.options.group_chunks, self.options.commit_every)
        group: list[_Pending] = []
        n = 0
        while self.queue:
            pending = self.queue.popleft()
            self.queued_chunks -= len(pending.chunks)
            group.append(pending)
            n += len(pending.chunks)
            if n >= group_size:
                self.flush(group)
                group, n = [], 0
        self.flush(group)

    def embed(self, group: list[_Pending]) -> tuple[np.ndarray, np.ndarray | None]:
        """Vectors of the group's chunks and sentences, embedded together longest first."""
        chunk_texts = [c.text for p in group for c in p.chunks]
        sentence_texts = (
            [s.text for p in group for s in p.sentences] if self.options.embed_sentences else []
        )
        texts = chunk_texts + sentence_texts
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.empty((len(texts), self.embedder.dimension), dtype=np.float32)
        total_chars = sum(len(t) for t in texts) or 1
        group_chunks = len(chunk_texts)
        step = max(self.options.progress_texts, self.options.batch_size)
        start_done = self.done_chunks
        chars = 0
        t0 = time.perf_counter()
        for at in range(0, len(order), step):
            idx = order[at : at + step]
            vectors[idx] = self.embedder.encode(
                [texts[i] for i in idx], batch_size=self.options.batch_size
            )
            chars += sum(len(texts[i]) for i in idx)
            self.done_chunks = start_done + group_chunks * chars / total_chars
            self.emit(IngestEvent("embedded", done_chunks=self.done_chunks))
        self.report.embed_seconds += time.perf_counter() - t0
        self.done_chunks = start_done + group_chunks
        n_c = len(chunk_texts)
        return vectors[:n_c], (vectors[n_c:] if self.options.embed_sentences else None)

    def flush(self, group: list[_Pending]) -> None:
        if not group:
            return
        chunk_vectors, sentence_vectors = self.embed(group)
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

    def commit(self) -> None:
        self.writer.commit()
        self.emit(IngestEvent("commit", chunks=self.uncommitted_chunks))
        self.uncommitted_chunks = 0


def with_language(document: Document) -> Document:
    """``document`` with ``metadata["language"]`` (ISO 639-1), detected when not given."""
    if isinstance(document.metadata.get("language"), str):
        return document
    return _set_language(document, detect_language(document.text))


def _set_language(document: Document, language: str) -> Document:
    return document.model_copy(update={"metadata": {**document.metadata, "language": language}})


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

    Documents are read and chunked up to ``options.lookahead_chunks`` ahead of embedding (a
    ``planned`` event gives the total so far), then embedded and written in groups. A document
    id seen twice in one run keeps its last version.
    """
    start = time.perf_counter()
    run = _Run(writer, embedder, counter, options, on_event or (lambda _e: None))
    stream = iter(items)
    exhausted = False
    while not exhausted:
        shown = time.perf_counter()
        while run.queued_chunks < options.lookahead_chunks:
            item = next(stream, None)
            if item is None:
                exhausted = True
                break
            if isinstance(item, LoadFailure):
                run.fail(item)
            else:
                run.read(item)
            if time.perf_counter() - shown >= _PLAN_EVERY_SECONDS:  # a long read-ahead shows
                run.plan(final=False)
                shown = time.perf_counter()
        run.plan(final=exhausted)
        run.drain()
    run.commit()
    run.report.seconds = time.perf_counter() - start
    return run.report
