"""Ingest: documents in, chunks + sentences embedded, durably committed to the index.

Documents stream through in groups: each group's chunk and sentence texts are embedded in one
batched call each, then written; the writer commits every ``commit_every`` chunks, so a crash or
kill loses at most the uncommitted group and never leaves a half-written index.

The loop (:func:`drive`) and its steps (:class:`IngestRun`, :func:`prepare`,
:func:`embed_texts`) are shared by the local path (:func:`ingest`) and the cluster path
(:mod:`rag.distributed`), so both detect languages, count failures, report progress and write
the same index.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np
from pydantic import BaseModel, Field

from index.errors import RagError
from index.records import Chunk, Document, Sentence
from index.store import IndexWriter
from rag.chunking import chunk_document
from rag.embedding import Embedder
from rag.language import detect_language
from rag.loaders import LoadFailure
from rag.loaders.failure import unexpected_reason
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
class Prepared:
    """A document's sentences and chunks, cut elsewhere (e.g. on a cluster worker), and its
    language as detected there (None when the document names its own)."""

    sentences: list[Sentence]
    chunks: list[Chunk]
    language: str | None = None


@dataclass
class PendingDocument:
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


T = TypeVar("T")


def read_head(
    items: Iterable[T], item_of: Callable[[T], Document | LoadFailure]
) -> tuple[list[T], Iterator[T], bool]:
    """Read ``items`` up to the first loadable document: the items read, the rest, and whether
    a document was found (so that nothing is created or loaded when there is nothing to ingest)."""
    stream = iter(items)
    head: list[T] = []
    for entry in stream:
        head.append(entry)
        if isinstance(item_of(entry), Document):
            return head, stream, True
    return head, stream, False


def failures_only_report(
    failures: Iterable[LoadFailure],
    started: float,
    on_event: Callable[[IngestEvent], None] | None = None,
) -> IngestReport:
    """The report of an ingest that found nothing to load: each failure counted and reported."""
    report = IngestReport()
    for failure in failures:
        if failure.skipped:
            report.skipped += 1
        else:
            report.failed += 1
        report.failures.append(failure)
        if on_event is not None:
            on_event(IngestEvent("failure", failure=failure))
    report.seconds = time.perf_counter() - started
    return report


def prepare(document: Document, counter: TokenCounter, options: IngestOptions) -> Prepared:
    """A document's sentences and chunks, cut as ``options`` say, and its detected language
    (chunking does not depend on the language; the writer analyses text for it)."""
    sentences, chunks = chunk_document(
        document,
        counter,
        max_tokens=options.chunk_tokens,
        overlap_sentences=options.overlap_sentences,
    )
    language = (
        None
        if isinstance(document.metadata.get("language"), str)
        else detect_language(document.text)
    )
    return Prepared(sentences, chunks, language)


def group_texts(
    group: list[PendingDocument], options: IngestOptions
) -> tuple[list[str], list[str]]:
    """A group's chunk texts and sentence texts (none when sentences are not embedded)."""
    chunk_texts = [c.text for p in group for c in p.chunks]
    sentence_texts = [s.text for p in group for s in p.sentences] if options.embed_sentences else []
    return chunk_texts, sentence_texts


def embed_texts(
    embedder: Embedder,
    chunk_texts: list[str],
    sentence_texts: list[str],
    options: IngestOptions,
    on_progress: Callable[[float], None] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Vectors of a group's chunks and sentences (None for sentences when they are not
    embedded), embedded together longest first; ``on_progress`` gets the share of characters
    done after each call. Every path embeds a group through here, so batches, and so vectors,
    are the same everywhere."""
    texts = chunk_texts + sentence_texts
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    vectors = np.empty((len(texts), embedder.dimension), dtype=np.float32)
    total_chars = sum(len(t) for t in texts) or 1
    step = max(options.progress_texts, options.batch_size)
    chars = 0
    for at in range(0, len(order), step):
        idx = order[at : at + step]
        vectors[idx] = embedder.encode([texts[i] for i in idx], batch_size=options.batch_size)
        chars += sum(len(texts[i]) for i in idx)
        if on_progress is not None:
            on_progress(chars / total_chars)
    n_c = len(chunk_texts)
    return vectors[:n_c], (vectors[n_c:] if options.embed_sentences else None)


@dataclass
class IngestRun:
    """One ingest's state and steps; :func:`drive` runs the loop. Subclasses may embed groups
    elsewhere by overriding :meth:`flush` (writing them in order through :meth:`write`) and
    :meth:`finish`."""

    writer: IndexWriter
    embedder: Embedder
    counter: TokenCounter
    options: IngestOptions
    on_event: Callable[[IngestEvent], None]
    report: IngestReport = field(default_factory=IngestReport)
    queue: deque[PendingDocument] = field(default_factory=deque)
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

    def read(self, document: Document, prepared: Prepared | None = None) -> None:
        """Chunk a document into the queue, or count it unchanged. ``prepared`` holds its
        sentences, chunks and detected language when they were made elsewhere."""
        self.documents_read += 1
        repeated = document.id in self.seen
        self.seen.add(document.id)
        old = self.writer.content_hashes([document.id]).get(document.id)
        document = self._with_language(document, old, prepared)
        if old == document.content_hash and not repeated:
            self.report.unchanged += 1
            self.emit(IngestEvent("document", document.id, "unchanged"))
            return
        if prepared is None:
            try:
                prepared = prepare(document, self.counter, self.options)
            except RagError:
                raise  # a setting or the index, not this document: the run stops
            except Exception as exc:  # hostile text: this document fails, the run goes on
                logger.debug("%s: cutting it raised", document.id, exc_info=True)
                where = document.source or document.id
                self.fail(LoadFailure(path=where, reason=unexpected_reason(exc)))
                return
        self.queue.append(PendingDocument(document, prepared.sentences, prepared.chunks))
        self.queued_chunks += len(prepared.chunks)
        self.planned_chunks += len(prepared.chunks)

    def _with_language(
        self, document: Document, old_hash: str | None, prepared: Prepared | None = None
    ) -> Document:
        """The document with its language; an unchanged one takes the stored language, so
        re-ingesting an unchanged corpus detects nothing (nor uses a detection made elsewhere)."""
        if old_hash is not None and "language" not in document.metadata:
            stored = (self.writer.metadata(document.id) or {}).get("language")
            if isinstance(stored, str):
                candidate = _set_language(document, stored)
                if candidate.content_hash == old_hash:
                    return candidate
        return with_language(document, prepared.language if prepared is not None else None)

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
        group: list[PendingDocument] = []
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

    def embed(self, group: list[PendingDocument]) -> tuple[np.ndarray, np.ndarray | None]:
        """Vectors of the group's chunks and sentences, embedded here, progress reported."""
        chunk_texts, sentence_texts = group_texts(group, self.options)
        group_chunks = len(chunk_texts)
        start_done = self.done_chunks

        def progress(share: float) -> None:
            self.done_chunks = start_done + group_chunks * share
            self.emit(IngestEvent("embedded", done_chunks=self.done_chunks))

        t0 = time.perf_counter()
        vectors = embed_texts(self.embedder, chunk_texts, sentence_texts, self.options, progress)
        self.report.embed_seconds += time.perf_counter() - t0
        self.done_chunks = start_done + group_chunks
        return vectors

    def flush(self, group: list[PendingDocument]) -> None:
        """Embed a group and write it."""
        if not group:
            return
        chunk_vectors, sentence_vectors = self.embed(group)
        self.write(group, chunk_vectors, sentence_vectors)

    def write(
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
        """Write groups still in flight (none here: this run embeds synchronously)."""

    def commit(self) -> None:
        self.writer.commit()
        self.emit(IngestEvent("commit", chunks=self.uncommitted_chunks))
        self.uncommitted_chunks = 0


def with_language(document: Document, detected: str | None = None) -> Document:
    """``document`` with ``metadata["language"]`` (ISO 639-1), detected when not given
    (``detected``: a detection already made, e.g. on a cluster worker)."""
    if isinstance(document.metadata.get("language"), str):
        return document
    return _set_language(document, detected or detect_language(document.text))


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
    run = IngestRun(writer, embedder, counter, options, on_event or (lambda _e: None))
    return drive(run, ((item, None) for item in items))


def drive(
    run: IngestRun, items: Iterable[tuple[Document | LoadFailure, Prepared | None]]
) -> IngestReport:
    """The ingest loop over ``(document or failure, prepared or None)``, shared by the local
    path and the cluster path (:mod:`rag.distributed`), so both write the same index: read
    ahead up to ``lookahead_chunks``, report the plan, embed and write in groups, commit."""
    start = time.perf_counter()
    stream = iter(items)
    exhausted = False
    while not exhausted:
        shown = time.perf_counter()
        while run.queued_chunks < run.options.lookahead_chunks:
            entry = next(stream, None)
            if entry is None:
                exhausted = True
                break
            item, prepared = entry
            if isinstance(item, LoadFailure):
                run.fail(item)
            else:
                run.read(item, prepared)
            if time.perf_counter() - shown >= _PLAN_EVERY_SECONDS:  # a long read-ahead shows
                run.plan(final=False)
                shown = time.perf_counter()
        run.plan(final=exhausted)
        run.drain()
    run.finish()
    run.commit()
    run.report.seconds = time.perf_counter() - start
    return run.report
