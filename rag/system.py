"""The question-answering system: an object opened against an index folder.

``QASystem.open(settings)`` loads nothing heavy: the query encoder is the ONNX export stored in the
index (no torch import), the answerer is pure Python. The CLI, the HTTP service and the evaluation
harness all answer through :meth:`QASystem.ask`, so they give identical answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from index.manifest import Manifest
from index.records import Document
from index.store import IndexStore, IndexWriter
from rag.answering.base import Answerer, make_answerer
from rag.answering.citations import verify_citations
from rag.answering.evidence import gather_candidates
from rag.answering.extractive import abstention
from rag.embedding import Embedder
from rag.errors import InvalidQuestionError
from rag.ingest import IngestOptions, IngestReport, ingest
from rag.language import detect_language
from rag.loaders import LoadFailure
from rag.models import Answer, Filters
from rag.retrieval import RetrievalParams, retrieve
from rag.settings import RetrievalMode, Settings
from rag.tokens import TokenCounter

logger = logging.getLogger(__name__)

ENCODER_DIR = "encoder"
# Questions detected as these use the configured retrieval mode; others use lexical retrieval.
ENGLISH = frozenset({"en", "und"})


def encoder_folder(index_dir: Path) -> Path:
    return index_dir / ENCODER_DIR


#: Characters that print as nothing: a question of only these (and spaces) is empty.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"


def validate_question(question: str, settings: Settings) -> str:
    try:
        question.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidQuestionError(
            "the question is not valid text (bytes that are not UTF-8)",
            hint="write the question in UTF-8",
        ) from exc
    text = question.strip()
    if not text.translate({ord(c): None for c in INVISIBLE}).strip():
        raise InvalidQuestionError("the question is empty", hint="ask a question in plain words")
    if len(text) > settings.max_question_chars:
        raise InvalidQuestionError(
            f"the question has {len(text)} characters; the limit is {settings.max_question_chars}",
            hint="shorten the question (RAG_MAX_QUESTION_CHARS sets the limit)",
        )
    return text


class QASystem:
    """Retrieval plus answering over one index."""

    def __init__(
        self,
        store: IndexStore,
        encoder: Embedder,
        settings: Settings,
        answerer: Answerer | None = None,
    ) -> None:
        store.manifest.check_compatible(model_name=encoder.model_name, dimension=encoder.dimension)
        self.store = store
        self.encoder = encoder
        self.settings = settings
        self._answerer = answerer
        self._write_lock = threading.Lock()

    @property
    def answerer(self) -> Answerer:
        """The configured answerer, loaded on first use (the trained scorer is read once)."""
        if self._answerer is None:
            self._answerer = make_answerer(self.settings)
        return self._answerer

    @classmethod
    def open(cls, settings: Settings, *, encoder: Embedder | None = None) -> QASystem:
        from rag.embedding.onnx_runtime import OnnxQueryEncoder

        store = IndexStore.open(settings.index_dir, nprobe=settings.ivf_nprobe)
        if encoder is None:
            encoder = OnnxQueryEncoder(encoder_folder(settings.index_dir))
        return cls(store, encoder, settings)

    def warm_up(self) -> None:
        for part in (self.encoder, self.answerer):
            warm = getattr(part, "warm_up", None)
            if callable(warm):
                warm()
        with self.store.snapshot():
            pass

    def close(self) -> None:
        self.store.close()

    # --- questions ---------------------------------------------------------------------------
    def params(self, k: int | None, mode: RetrievalMode | None) -> RetrievalParams:
        s = self.settings
        k = s.top_k if k is None else k
        if not 1 <= k <= 50:
            raise InvalidQuestionError(f"k must be between 1 and 50, not {k}")
        return RetrievalParams(
            k=k,
            mode=mode or s.retrieval_mode,
            dense_depth=max(s.dense_depth, k),
            lexical_depth=max(s.lexical_depth, k),
            rrf_k=s.rrf_k,
            dense_weight=s.dense_weight,
            lexical_weight=s.lexical_weight,
        )

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Filters | None = None,
        mode: RetrievalMode | None = None,
    ) -> Answer:
        """Answer with citations, or abstain. Identical for CLI, service and evaluation."""
        t0 = time.perf_counter()
        text = validate_question(question, self.settings)
        language = detect_language(text)
        fallback = (
            mode is None and language not in ENGLISH and self.settings.retrieval_mode != "lexical"
        )
        # The embedding model is English-only: for other languages its ranking is noise, so the
        # evidence comes from lexical search (stemmed for the question's language).
        params = self.params(k, "lexical" if fallback else mode)
        flt = filters.to_chunk_filter() if filters is not None else None
        query_vector = self.encoder.encode_query(text)
        t1 = time.perf_counter()
        with self.store.snapshot() as snap:
            passages = retrieve(snap, text, query_vector, params, flt, language=language)
            t2 = time.perf_counter()
            candidates = gather_candidates(snap, passages)
            if candidates:
                answer = self.answerer.answer(text, query_vector, candidates, passages)
                docs = {c.document.id: c.document for c in candidates}
                verify_citations(answer, docs)
            else:
                answer = abstention(text, passages, 0.0, "nothing relevant was retrieved")
        t3 = time.perf_counter()
        answer.mode = params.mode
        if fallback:
            answer.warnings.append(
                f"question in language {language!r}: lexical retrieval only "
                "(the embedding model is English-only)"
            )
        answer.timings_ms = {
            "encode": round((t1 - t0) * 1000, 2),
            "retrieve": round((t2 - t1) * 1000, 2),
            "answer": round((t3 - t2) * 1000, 2),
            "total": round((t3 - t0) * 1000, 2),
        }
        return answer

    # --- documents ---------------------------------------------------------------------------
    def add_documents(
        self, documents: Iterable[Document | LoadFailure], counter: TokenCounter
    ) -> IngestReport:
        """Ingest documents with this system's encoder; visible to the next question at once."""
        options = ingest_options(self.store.manifest, self.settings)
        with self._write_lock, open_writer(self.store, self.settings) as writer:
            return ingest(documents, writer, self.encoder, counter, options)

    def delete_document(self, doc_id: str) -> bool:
        with self._write_lock, open_writer(self.store, self.settings) as writer:
            return writer.delete(doc_id)


def open_writer(store: IndexStore, settings: Settings) -> IndexWriter:
    """The index's single writer, with the configured vector-index policy."""
    return store.writer(policy=settings.vector_index, ivf_threshold=settings.ivf_threshold)


def ingest_options(manifest: Manifest, settings: Settings) -> IngestOptions:
    """Chunking as the index was built (the manifest), batching as configured."""
    return IngestOptions(
        chunk_tokens=manifest.chunk_tokens,
        overlap_sentences=manifest.chunk_overlap_sentences,
        batch_size=settings.embed_batch_size,
        commit_every=settings.commit_every_chunks,
    )
