"""Hybrid retrieval: dense (FAISS, candidates ordered by their best sentence) and lexical
(FTS5/BM25) fused by reciprocal rank fusion.

Scores of the two retrievers live on different scales, so they are never added; only ranks are
fused: ``score(d) = Σ_r w_r / (rrf_k + rank_r(d))``. Metadata channels (a country the question
names, :mod:`rag.metadata_hints`) add one more ranking each, fused with weight
``metadata_weight``: that country's documents (the same hybrid search under its filter) ranked
beside the candidates whose documents name no country.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from index.records import ChunkFilter, Document
from index.store import Snapshot
from rag.language import function_words
from rag.models import Passage, PassageDebug, RetrieverHit, relevance_of
from rag.settings import DenseScoring, RetrievalMode
from rag.text_features import content_terms

if TYPE_CHECKING:
    from rag.answering.question import QuestionAnalysis
    from rag.metadata_hints import MetadataChannel

_WORD_RE = re.compile(r"\w+")


@dataclass(frozen=True)
class RetrievalParams:
    k: int
    mode: RetrievalMode
    dense_depth: int
    lexical_depth: int
    rrf_k: int
    dense_weight: float
    lexical_weight: float
    dense_scoring: DenseScoring
    metadata_weight: float


@dataclass(frozen=True)
class Fused:
    chunk_id: int
    score: float
    dense: RetrieverHit | None
    lexical: RetrieverHit | None


def rrf_fuse(
    dense: Sequence[tuple[int, float]],
    lexical: Sequence[tuple[int, float]],
    *,
    rrf_k: int,
    dense_weight: float,
    lexical_weight: float,
) -> list[Fused]:
    """Reciprocal rank fusion of two ranked lists; ties broken by dense rank, then id."""
    dense_hits = {cid: RetrieverHit(rank=r, score=s) for r, (cid, s) in enumerate(dense, 1)}
    lex_hits = {cid: RetrieverHit(rank=r, score=s) for r, (cid, s) in enumerate(lexical, 1)}
    fused: list[Fused] = []
    for cid in dense_hits.keys() | lex_hits.keys():
        d, lx = dense_hits.get(cid), lex_hits.get(cid)
        score = (dense_weight / (rrf_k + d.rank) if d else 0.0) + (
            lexical_weight / (rrf_k + lx.rank) if lx else 0.0
        )
        fused.append(Fused(cid, score, d, lx))
    fused.sort(key=lambda f: (-f.score, f.dense.rank if f.dense else 1 << 30, f.chunk_id))
    return fused


def by_best_sentence(
    snapshot: Snapshot, query_vector: np.ndarray, dense: Sequence[tuple[int, float]]
) -> list[tuple[int, float]]:
    """FAISS's candidate chunks re-ordered by their best sentence's cosine with the question.

    A chunk vector averages a few hundred tokens; a question usually matches one sentence of
    it, so the best sentence separates the chunk that answers from the chunks merely on topic.
    Only the order changes: each hit keeps its chunk's cosine as its score (the answerer reads
    the sentences' own cosines separately). Only FAISS's candidates are re-ordered (recall is
    FAISS's); a chunk without sentence vectors is placed by its chunk cosine.
    """
    best = snapshot.best_sentence_scores(query_vector, [c for c, _ in dense])
    return sorted(dense, key=lambda hit: -best.get(hit[0], hit[1]))


def _hybrid(
    snapshot: Snapshot,
    terms: Sequence[str],
    query_vector: np.ndarray | None,
    params: RetrievalParams,
    flt: ChunkFilter | None,
    language: str,
) -> list[Fused]:
    """Dense and lexical rankings under ``flt``, fused."""
    dense: list[tuple[int, float]] = []
    lexical: list[tuple[int, float]] = []
    if params.mode in ("hybrid", "dense"):
        if query_vector is None:
            raise ValueError("dense retrieval needs a query vector")
        dense = snapshot.search_dense(query_vector, params.dense_depth, flt)
        if params.dense_scoring == "sentence":
            dense = by_best_sentence(snapshot, query_vector, dense)
    if params.mode in ("hybrid", "lexical"):
        lexical = snapshot.search_lexical(
            terms, params.lexical_depth, flt, languages=query_languages(language)
        )
    return rrf_fuse(
        dense,
        lexical,
        rrf_k=params.rrf_k,
        dense_weight=params.dense_weight if params.mode != "lexical" else 0.0,
        lexical_weight=params.lexical_weight if params.mode != "dense" else 0.0,
    )


def _with_channels(
    snapshot: Snapshot,
    fused: list[Fused],
    terms: Sequence[str],
    query_vector: np.ndarray | None,
    params: RetrievalParams,
    channels: Sequence[MetadataChannel],
    language: str,
) -> list[Fused]:
    """``fused`` with each channel's ranking added: ``metadata_weight / (rrf_k + rank)``.

    A channel ranks the country's own documents (a hybrid search under its strict filter)
    together with the documents of ``fused`` that lack the country's field (or the date), by
    their fused scores: a document that names no country keeps its standing against the
    country's, and only other countries' documents fall behind."""
    by_id = {f.chunk_id: f for f in fused}
    depth = max(params.dense_depth, params.lexical_depth)
    fields = snapshot.document_fields([f.chunk_id for f in fused])
    for channel in channels:
        own = _hybrid(snapshot, terms, query_vector, params, channel.strict, language)
        own_ids = {f.chunk_id for f in own}
        beside = [
            f
            for f in fused
            if f.chunk_id not in own_ids
            and f.chunk_id in fields
            and channel.lets_in(fields[f.chunk_id])
        ]
        ranked = sorted([*own, *beside], key=lambda f: (-f.score, f.chunk_id))[:depth]
        for rank, hit in enumerate(ranked, 1):
            bonus = params.metadata_weight / (params.rrf_k + rank)
            known = by_id.get(hit.chunk_id)
            by_id[hit.chunk_id] = (
                Fused(hit.chunk_id, known.score + bonus, known.dense, known.lexical)
                if known is not None
                else Fused(hit.chunk_id, bonus, hit.dense, hit.lexical)
            )
    out = list(by_id.values())
    out.sort(key=lambda f: (-f.score, f.dense.rank if f.dense else 1 << 30, f.chunk_id))
    return out


def lexical_terms(
    question: str, language: str = "en", analysis: QuestionAnalysis | None = None
) -> list[str]:
    """Terms for the BM25 query: the question's content words (stopwords carry no evidence).

    English questions use the answerer's content words (``analysis.terms`` when the question's
    analysis is given, made once per question); other languages keep every word except that
    language's function words (the analysis in the index stems them and splits CJK runs).
    """
    if language == "en":
        return list(analysis.terms) if analysis is not None else content_terms(question)
    stop = function_words(language)
    return [w for w in _WORD_RE.findall(question.lower()) if w not in stop]


def query_languages(language: str) -> tuple[str, ...]:
    """Languages to stem a question's terms for: its own, and English (names, loanwords)."""
    return (language,) if language == "en" else (language, "en")


def retrieve(
    snapshot: Snapshot,
    question: str,
    query_vector: np.ndarray | None,
    params: RetrievalParams,
    flt: ChunkFilter | None = None,
    language: str = "en",
    analysis: QuestionAnalysis | None = None,
    channels: Sequence[MetadataChannel] = (),
) -> list[Passage]:
    """Top-``k`` passages for a question in ``language`` (ISO 639-1); filters are applied
    inside each retriever. ``analysis`` is the question's analysis when the caller made it
    (:meth:`rag.system.QASystem.evidence`), so that its terms are not derived twice.
    ``channels`` are the question's metadata channels (:mod:`rag.metadata_hints`, already
    combined with ``flt``), fused with ``params.metadata_weight``."""
    terms = lexical_terms(question, language, analysis) if params.mode != "dense" else []
    fused = _hybrid(snapshot, terms, query_vector, params, flt, language)
    if params.metadata_weight > 0 and channels:
        fused = _with_channels(snapshot, fused, terms, query_vector, params, channels, language)
    fused = fused[: params.k]
    chunks = snapshot.chunks([f.chunk_id for f in fused])
    docs: dict[str, Document] = snapshot.documents([c.doc_id for c in chunks.values()])
    passages: list[Passage] = []
    relevance = dict(
        zip((f.chunk_id for f in fused), relevance_of([f.score for f in fused]), strict=True)
    )
    for f in fused:
        chunk = chunks.get(f.chunk_id)
        if chunk is None:
            continue
        doc = docs[chunk.doc_id]
        passages.append(
            Passage(
                chunk_id=f.chunk_id,
                doc_id=chunk.doc_id,
                title=doc.title,
                source=doc.source,
                date=doc.date,
                page=chunk.page,
                char_start=chunk.char_start,
                char_end=chunk.char_end,
                text=chunk.text,
                sentence_start=chunk.sentence_start,
                sentence_end=chunk.sentence_end,
                metadata=dict(doc.metadata),
                rank=len(passages) + 1,
                score=f.score,
                relevance=relevance[f.chunk_id],
                debug=PassageDebug(fused_score=f.score, dense=f.dense, lexical=f.lexical),
            ).with_document(doc)
        )
    return passages
