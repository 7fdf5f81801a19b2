"""The question-answering system: the one door every front end goes through.

``QASystem.open(settings)`` loads nothing heavy: the query encoder is the ONNX export stored in the
index (no torch import), the answerer is pure Python. The CLI, the HTTP service, the evaluation
harness and the benchmarks open, ingest, ask, search, list, show, delete, count and check through
this class only; none of them touches :mod:`index.store`. :meth:`QASystem.build` creates or opens
an index and ingests into it (exporting the encoder once per index).
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.manifest import Manifest
from index.records import Document, DocumentInfo
from index.store import IndexStore, IndexWriter, Snapshot, check_index_folder
from rag.answering import (
    Answerer,
    Evidence,
    QuestionAnalysis,
    abstention,
    add_nearest,
    analyse_question,
    gather_candidates,
    make_answerer,
    verify_citations,
)
from rag.embedding import Embedder, SentenceTransformerEmbedder
from rag.embedding.onnx_runtime import OnnxQueryEncoder
from rag.errors import InvalidQuestionError
from rag.filters import (
    FilterOptions,
    Filters,
    check_filters,
    coerce_filters,
    known_filter_keys,
)
from rag.ingest import (
    IngestEvent,
    IngestOptions,
    IngestReport,
    failures_only_report,
    ingest,
    read_head,
)
from rag.language import detect_language
from rag.loaders import LoadFailure
from rag.metadata_hints import metadata_channels, question_hints
from rag.models import Answer, IndexStats, Passage
from rag.question_input import validate_question
from rag.retrieval import RetrievalParams, retrieve
from rag.settings import MAX_K, RETRIEVAL_MODES, RetrievalMode, Settings
from rag.tokens import TiktokenCounter, TokenCounter

if TYPE_CHECKING:
    from rag.compare import Comparison, ComparisonRow

logger = logging.getLogger(__name__)

ENCODER_DIR = "encoder"
# Questions detected as these use the configured retrieval mode; others use lexical retrieval.
ENGLISH = frozenset({"en", "und"})


def encoder_folder(index_dir: Path) -> Path:
    return index_dir / ENCODER_DIR


class QASystem:
    """Retrieval plus answering over one index; every front end's only way in."""

    def __init__(
        self,
        store: IndexStore,
        encoder: Embedder,
        settings: Settings,
        answerer: Answerer | None = None,
    ) -> None:
        store.manifest.check_compatible(model_name=encoder.model_name, dimension=encoder.dimension)
        self._store = store
        self.encoder = encoder
        self.settings = settings
        self._answerer = answerer
        self._write_lock = threading.Lock()
        self._metadata_cache: tuple[int, dict[str, list[str]]] | None = None

    @property
    def answerer(self) -> Answerer:
        """The configured answerer, loaded on first use (the trained scorer is read once)."""
        if self._answerer is None:
            self._answerer = make_answerer(self.settings)
        return self._answerer

    @property
    def manifest(self) -> Manifest:
        """How the index was built: model, dimension, chunking, token encoding."""
        return self._store.manifest

    # --- opening -----------------------------------------------------------------------------
    @classmethod
    def open(
        cls, settings: Settings, *, encoder: Embedder | None = None, verify: bool = True
    ) -> QASystem:
        """Open an existing index (:class:`index.errors.IndexNotFoundError` when there is none);
        a damaged one is a :class:`~index.errors.CorruptIndexError` unless ``verify`` is off
        (``rag stats --check`` opens it unverified to list every problem)."""
        store = IndexStore.open(settings.index_dir, nprobe=settings.ivf_nprobe, verify=verify)
        try:
            if encoder is None:
                encoder = OnnxQueryEncoder(
                    encoder_folder(settings.index_dir), threads=settings.query_threads
                )
            return cls(store, encoder, settings)
        except BaseException:
            store.close()
            raise

    @classmethod
    def create_or_open(
        cls,
        settings: Settings,
        *,
        counter: TiktokenCounter | None = None,
        on_export: Callable[[], None] | None = None,
    ) -> QASystem:
        """Open the index (refusing another model or chunking) or create it, for ingest: its
        encoder is a current export of the configured model: copied from the user cache when it
        is not (:attr:`Settings.onnx_cache_dir`), the model converted there once per version."""
        from rag.embedding.onnx_export import ensure_query_encoder

        check_index_folder(settings.index_dir)
        counter = counter or TiktokenCounter()
        model = SentenceTransformerEmbedder(settings.model_path)  # reads config, loads nothing
        store = IndexStore.open_or_create(
            settings.index_dir,
            manifest_for(settings, model, counter.name),
            nprobe=settings.ivf_nprobe,
        )
        try:
            folder = encoder_folder(settings.index_dir)
            # converted once per model version (the user cache), copied into each new index
            ensure_query_encoder(
                str(model.model_path), folder, settings.onnx_cache_dir, on_export=on_export
            )
            encoder = OnnxQueryEncoder(folder, threads=embed_threads(settings))
            encoder.warm_up()
            return cls(store, encoder, settings)
        except BaseException:
            store.close()
            raise

    @classmethod
    def build(
        cls,
        settings: Settings,
        items: Iterable[Document | LoadFailure],
        *,
        counter: TiktokenCounter | None = None,
        on_event: Callable[[IngestEvent], None] | None = None,
        on_export: Callable[[], None] | None = None,
    ) -> IngestReport:
        """Ingest ``items`` into ``settings.index_dir`` (created when missing) and close it; the
        index answers as soon as this returns.

        Inputs are read up to the first loadable document before anything else happens: when
        there is none, the failures are reported (events and report), no index is created or
        opened, and no model is loaded (``report.documents == 0``).
        """
        started = time.perf_counter()
        head, stream, found = read_head(items, lambda item: item)
        if not found:
            failures = [i for i in head if isinstance(i, LoadFailure)]
            return failures_only_report(failures, started, on_event)
        counter = counter or TiktokenCounter()
        system = cls.create_or_open(settings, counter=counter, on_export=on_export)
        prepared = time.perf_counter()
        try:
            report = system.ingest(itertools.chain(head, stream), counter, on_event=on_event)
        finally:
            system.close()
        report.prepare_seconds = prepared - started
        return report

    @staticmethod
    def check_folder(index_dir: Path) -> None:
        """Raise :class:`index.errors.IndexPathError` when ``index_dir`` cannot be an index
        folder (a file, under a file, inside /proc), before anything is read or loaded."""
        check_index_folder(index_dir)

    @staticmethod
    def exists(index_dir: Path) -> bool:
        """Whether ``index_dir`` holds an index (its folder is checked to be usable first)."""
        return IndexStore.exists(index_dir)

    def __enter__(self) -> QASystem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def warm_up(self) -> None:
        for part in (self.encoder, self.answerer):
            warm = getattr(part, "warm_up", None)
            if callable(warm):
                warm()
        with self._store.snapshot() as snap:
            keys = self._metadata_values(snap) if self.settings.metadata_weight else {}
        if self.settings.metadata_country_key in keys:
            question_hints("")  # the country-name table (pycountry), built once per process

    def with_settings(self, settings: Settings, *, answerer: Answerer | None = None) -> QASystem:
        """A system sharing this one's index and encoder, answering with other settings (and
        ``answerer``, when given). Closing it closes the shared index: close only the original."""
        return QASystem(self._store, self.encoder, settings, answerer)

    def close(self) -> None:
        self._store.close()

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """One consistent read view of the index (for library code: retrieval, training)."""
        with self._store.snapshot() as snap:
            yield snap

    # --- questions ---------------------------------------------------------------------------
    def params(self, k: int | None, mode: RetrievalMode | None) -> RetrievalParams:
        s = self.settings
        k = s.top_k if k is None else k
        if not 1 <= k <= MAX_K:
            raise InvalidQuestionError(
                f"k must be between 1 and {MAX_K}, not {k}", hint=f"ask for 1 to {MAX_K} passages"
            )
        if mode is not None and mode not in RETRIEVAL_MODES:
            raise InvalidQuestionError(
                f"unknown retrieval mode {mode!r}", hint=f"use one of {', '.join(RETRIEVAL_MODES)}"
            )
        return RetrievalParams(
            k=k,
            mode=mode or s.retrieval_mode,
            dense_depth=max(s.dense_depth, k),
            lexical_depth=max(s.lexical_depth, k),
            rrf_k=s.rrf_k,
            dense_weight=s.dense_weight,
            lexical_weight=s.lexical_weight,
            dense_scoring=s.dense_scoring,
            metadata_weight=s.metadata_weight,
        )

    def search(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Filters | Mapping[str, Any] | None = None,
        mode: RetrievalMode | None = None,
        query_vector: np.ndarray | None = None,
    ) -> list[Passage]:
        """The top-``k`` passages for ``question`` (retrieval only, no answer); ``filters`` as
        for :meth:`ask`. ``query_vector`` reuses a vector already computed for ``question``
        (a sweep over retrieval settings, each a :meth:`with_settings` system)."""
        text = validate_question(question, self.settings)
        filters = coerce_filters(filters)
        params = self.params(k, mode)
        vector = self._query_vector(text, params.mode, query_vector)
        with self._store.snapshot() as snap:
            return self._retrieve(snap, text, vector, params, filters, detect_language(text))

    def _retrieve(
        self,
        snap: Snapshot,
        text: str,
        vector: np.ndarray | None,
        params: RetrievalParams,
        filters: Filters | None,
        language: str,
        analysis: QuestionAnalysis | None = None,
    ) -> list[Passage]:
        """Check the filters, then retrieve with the question's metadata channels (if weighed)."""
        flt = filters.to_chunk_filter() if filters is not None else None
        meta = self._metadata_values(snap) if filters is not None or params.metadata_weight else {}
        if filters is not None:
            check_filters(filters, snap, meta)
        key = self.settings.metadata_country_key
        channels = metadata_channels(text, flt, meta, key) if params.metadata_weight else []
        return retrieve(snap, text, vector, params, flt, language, analysis, channels)

    def _query_vector(
        self, text: str, mode: RetrievalMode, given: np.ndarray | None
    ) -> np.ndarray | None:
        """None for lexical retrieval (it needs no vector), else ``given`` or the question's
        encoding."""
        if mode == "lexical":
            return None
        return self.encoder.encode_query(text) if given is None else given

    def evidence(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Filters | Mapping[str, Any] | None = None,
        mode: RetrievalMode | None = None,
        query_vector: np.ndarray | None = None,
        nearest: int | None = None,
    ) -> Evidence:
        """What the answerer reads for ``question``: its language, the retrieval mode, the
        passages and their candidate sentences. :meth:`ask` is this step followed by the
        answerer; training and evaluation call it to see exactly what ``ask`` sees.

        ``query_vector`` reuses a vector already computed for ``question`` (training loops that
        ask the same question several times); ``filters`` and ``mode`` as for :meth:`ask`;
        ``nearest``: how many of the top document's sentences nearest the question join the
        candidates (:func:`~rag.answering.evidence.add_nearest`; default: as many as the
        answerer reads, 0 for the feature scorer).
        The question is analysed once here: retrieval takes its terms from the analysis and
        the answerer reads it from the evidence."""
        t0 = time.perf_counter()
        text = validate_question(question, self.settings)
        filters = coerce_filters(filters)
        language = detect_language(text)
        analysis = analyse_question(text)
        fallback = (
            mode is None and language not in ENGLISH and self.settings.retrieval_mode != "lexical"
        )
        # The embedding model is English-only: other languages get lexical search (stemmed for
        # theirs), needing no vector, and the answerer's BM25-only variant (see the model card).
        params = self.params(k, "lexical" if fallback else mode)
        query_vector = self._query_vector(text, params.mode, query_vector)
        t1 = time.perf_counter()
        with self._store.snapshot() as snap:
            passages = self._retrieve(snap, text, query_vector, params, filters, language, analysis)
            t2 = time.perf_counter()
            candidates = gather_candidates(snap, passages)
            count = self.answerer.nearest if nearest is None else nearest
            candidates = add_nearest(snap, candidates, query_vector, count)
        warnings = []
        if fallback:
            warnings.append(
                f"question in language {language!r}: lexical retrieval only "
                "(the embedding model is English-only)"
            )
        return Evidence(
            question=text,
            language=language,
            mode=params.mode,
            query_vector=query_vector,
            passages=passages,
            candidates=candidates,
            warnings=warnings,
            analysis=analysis,
            timings_ms={
                "encode": round((t1 - t0) * 1000, 2),
                "retrieve": round((t2 - t1) * 1000, 2),
            },
        )

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Filters | Mapping[str, Any] | None = None,
        mode: RetrievalMode | None = None,
        query_vector: np.ndarray | None = None,
    ) -> Answer:
        """Answer with citations, or abstain. Identical for CLI, service and evaluation:
        :meth:`evidence`, then the answerer (``query_vector`` as for :meth:`evidence`).

        ``filters`` is a :class:`Filters` or a mapping such as ``{"country": "SWE",
        "date_from": "2022"}``; a metadata key, or a value of one field, that no document
        has is an :class:`~index.errors.InvalidFilterError` naming the known keys or close values
        (:func:`rag.filters.check_filters`)."""
        t0 = time.perf_counter()
        ev = self.evidence(question, k=k, filters=filters, mode=mode, query_vector=query_vector)
        t2 = time.perf_counter()
        if ev.candidates:
            draft = self.answerer.answer(
                ev.question, ev.query_vector, ev.candidates, ev.passages, analysis=ev.analysis
            )
            verify_citations(draft, {c.document.id: c.document for c in ev.candidates})
        else:
            draft = abstention(0.0, "nothing relevant was retrieved", answerer=self.answerer.name)
        t3 = time.perf_counter()
        timings = {
            **ev.timings_ms,
            "answer": round((t3 - t2) * 1000, 2),
            "total": round((t3 - t0) * 1000, 2),
        }
        # The answer, built once: the answerer's draft and what only this level knows.
        return draft.to_answer(
            question=ev.question,
            passages=ev.passages,
            mode=ev.mode,
            warnings=list(ev.warnings),
            timings_ms=timings,
        )

    def compare(
        self,
        question: str,
        *,
        by: str,
        groups: Sequence[str] | None = None,
        filters: Filters | Mapping[str, Any] | None = None,
        k: int | None = None,
        mode: RetrievalMode | None = None,
        on_row: Callable[[ComparisonRow, int, int], None] | None = None,
    ) -> Comparison:
        """``question`` asked of each group of metadata key ``by`` (``date``: by year) under
        ``filters``: one :class:`~rag.compare.ComparisonRow` per group, each :meth:`ask`'s answer
        with the group's filter added, one query vector for all (:mod:`rag.compare`)."""
        from rag.compare import compare

        text = validate_question(question, self.settings)
        return compare(
            self, text, by=by, groups=groups, filters=filters, k=k, mode=mode, on_row=on_row
        )

    def _metadata_values(self, snap: Any) -> dict[str, list[str]]:
        """Metadata keys and values of the index, cached per committed generation."""
        cached = self._metadata_cache
        if cached is None or cached[0] != snap.generation:
            cached = (snap.generation, snap.metadata_values())
            self._metadata_cache = cached
        return cached[1]

    def filter_options(self) -> FilterOptions:
        """Filter keys and the values present in the index (for filter forms)."""
        with self._store.snapshot() as snap:
            metadata = dict(self._metadata_values(snap))
            date_min, date_max = snap.date_range()
            return FilterOptions(
                keys=known_filter_keys(metadata),
                sources=snap.source_values(),
                date_min=date_min,
                date_max=date_max,
                metadata=metadata,
            )

    # --- documents ---------------------------------------------------------------------------
    def ingest(
        self,
        documents: Iterable[Document | LoadFailure | str | PathLike[str]],
        counter: TokenCounter | None = None,
        *,
        on_event: Callable[[IngestEvent], None] | None = None,
    ) -> IngestReport:
        """Ingest documents, files or folders with this system's encoder; visible to the next
        question at once. A path is read by the loaders (a bad file is a failure in the report,
        not an exception); ``counter`` defaults to the index's own tokenizer."""
        counter = counter or TiktokenCounter(self.manifest.token_encoding)
        options = self.ingest_options()
        with self.writing() as writer:
            return ingest(
                _expand_paths(documents), writer, self.encoder, counter, options, on_event=on_event
            )

    def ingest_options(self) -> IngestOptions:
        """Chunking as the index was built (its manifest), batching as configured."""
        return ingest_options(self.manifest, self.settings)

    @contextmanager
    def writing(self) -> Iterator[IndexWriter]:
        """The index's single writer, under this system's write lock (for library code that
        drives its own ingest loop, e.g. :mod:`rag.distributed`); committed on a clean exit."""
        with self._write_lock, self._writer() as writer:
            yield writer

    def list_documents(
        self, *, limit: int | None = None, offset: int = 0
    ) -> tuple[list[DocumentInfo], int]:
        """A page of the documents (without their text) and how many there are in all."""
        with self._store.snapshot() as snap:
            return snap.list_documents(limit=limit, offset=offset), snap.counts()["documents"]

    def get_document(self, doc_id: str) -> Document | None:
        """One document with its full text, or None."""
        with self._store.snapshot() as snap:
            return snap.document(doc_id)

    def get_documents(self, doc_ids: Sequence[str]) -> dict[str, Document | None]:
        """Several documents read from one snapshot."""
        with self._store.snapshot() as snap:
            return {doc_id: snap.document(doc_id) for doc_id in doc_ids}

    def delete_document(self, doc_id: str) -> bool:
        """Delete one document; False when there is none with this id."""
        return not self.delete_documents([doc_id])

    def delete_documents(self, doc_ids: Sequence[str]) -> list[str]:
        """Delete documents in one write; the ids that were not found."""
        with self._write_lock, self._writer() as writer:
            return [doc_id for doc_id in doc_ids if not writer.delete(doc_id)]

    def _writer(self) -> IndexWriter:
        """The index's single writer, with the configured vector-index policy."""
        return open_writer(self._store, self.settings)

    # --- what the index holds ----------------------------------------------------------------
    def stats(self, *, check: bool = False) -> IndexStats:
        """Counts and how the index was built; with ``check``, the problems an integrity check
        finds (SQLite, vector checksums, rows against vectors)."""
        with self._store.snapshot() as snap:
            counts = snap.counts()
            kind = snap.vector_kind
        m = self.manifest
        return IndexStats(
            index_dir=str(self.settings.index_dir),
            documents=counts["documents"],
            chunks=counts["chunks"],
            sentences=counts["sentences"],
            counts=counts,
            generation=counts["generation"],
            vector_index=kind,
            model=m.model_name,
            dimension=m.dimension,
            chunk_tokens=m.chunk_tokens,
            token_encoding=m.token_encoding,
            format_version=m.format_version,
            problems=self._store.check_integrity() if check else None,
        )

    def texts(self) -> tuple[list[str], list[str]]:
        """Every chunk's and every sentence's text, in storage order (for benchmarks)."""
        with self._store.snapshot() as snap:
            return snap.texts()


def manifest_for(settings: Settings, embedder: Embedder, encoding: str) -> Manifest:
    return Manifest(
        model_name=embedder.model_name,
        dimension=embedder.dimension,
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap_sentences=settings.chunk_overlap_sentences,
        token_encoding=encoding,
    )


def embed_threads(settings: Settings) -> int:
    return settings.embed_threads or os.cpu_count() or 1


def _expand_paths(
    items: Iterable[Document | LoadFailure | str | PathLike[str]],
) -> Iterator[Document | LoadFailure]:
    from rag.loaders import iter_documents

    if isinstance(items, str | PathLike | Document):
        items = [items]
    for item in items:
        if isinstance(item, str | PathLike):
            yield from iter_documents([Path(item)])
        else:
            yield item


def open_writer(store: IndexStore, settings: Settings) -> IndexWriter:
    """The index's single writer, with the configured vector-index policy."""
    return store.writer(policy=settings.vector_index, ivf_threshold=settings.ivf_threshold)


def ingest_options(manifest: Manifest | None, settings: Settings) -> IngestOptions:
    """Chunking as the index was built (its manifest) or, for an index not made yet (``None``),
    as configured; batching as configured."""
    return IngestOptions(
        chunk_tokens=settings.chunk_tokens if manifest is None else manifest.chunk_tokens,
        overlap_sentences=(
            settings.chunk_overlap_sentences
            if manifest is None
            else manifest.chunk_overlap_sentences
        ),
        batch_size=settings.embed_batch_size,
        commit_every=settings.commit_every_chunks,
    )
