"""Candidate evidence: the sentences of the retrieved passages, with their vectors and context."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from index.errors import CorruptIndexError
from index.records import Document, Sentence
from index.store import Snapshot
from rag.answering.question import QuestionAnalysis
from rag.models import Passage
from rag.settings import RetrievalMode


@dataclass(frozen=True)
class Candidate:
    """One sentence that may answer, in the best-ranked passage that contains it."""

    sentence: Sentence
    vector: np.ndarray | None
    passage: Passage
    document: Document
    prev: Sentence | None
    next: Sentence | None
    #: Among the top document's sentences nearest the question by their stored vectors
    #: (:func:`add_nearest`): the reader reads these whatever the feature scorer's rank.
    near: bool = False

    @property
    def in_passage(self) -> bool:
        """Whether the sentence lies in its passage (one added by :func:`add_nearest` from
        elsewhere in the document carries the document's best-ranked passage)."""
        return self.passage.sentence_start <= self.sentence.ordinal < self.passage.sentence_end

    @property
    def before(self) -> str | None:
        return self.prev.text if self.prev else None

    @property
    def after(self) -> str | None:
        return self.next.text if self.next else None

    def neighbour(self, offset: int) -> Candidate | None:
        """The previous (-1) or next (+1) sentence as a candidate of its own, for context."""
        s = self.prev if offset < 0 else self.next
        if s is None:
            return None
        return Candidate(
            sentence=s,
            vector=None,
            passage=self.passage,
            document=self.document,
            prev=None if offset < 0 else self.sentence,
            next=self.sentence if offset < 0 else None,
        )


def gather_candidates(snapshot: Snapshot, passages: list[Passage]) -> list[Candidate]:
    """Every sentence of every passage once (first passage wins), with neighbouring sentences.

    Each passage carries its sentence range and (from retrieval) its document, so only the
    sentences and their vectors are read here; a passage built without its document has it read
    from ``snapshot``.
    """
    docs: dict[str, Document] = {p.doc_id: p.document for p in passages if p.document is not None}
    missing = [p.doc_id for p in passages if p.doc_id not in docs]
    if missing:
        docs.update(snapshot.documents(missing))
    seen: set[tuple[str, int]] = set()
    out: list[Candidate] = []
    for p in passages:
        if p.doc_id not in docs:
            continue
        lo = max(0, p.sentence_start - 1)
        sentences, vectors = snapshot.sentences(p.doc_id, lo, p.sentence_end + 1)
        by_ordinal = {s.ordinal: s for s in sentences}
        if any(i not in by_ordinal for i in range(p.sentence_start, p.sentence_end)):
            raise CorruptIndexError(
                f"the index is damaged: sentences {p.sentence_start}-{p.sentence_end - 1} of "
                f"document {p.doc_id!r} are not all stored"
            )
        for i, s in enumerate(sentences):
            if not p.sentence_start <= s.ordinal < p.sentence_end:
                continue
            if (s.doc_id, s.ordinal) in seen:
                continue
            seen.add((s.doc_id, s.ordinal))
            prev_s, next_s = by_ordinal.get(s.ordinal - 1), by_ordinal.get(s.ordinal + 1)
            out.append(
                Candidate(
                    sentence=s,
                    vector=None if vectors is None else vectors[i],
                    passage=p,
                    document=docs[p.doc_id],
                    prev=prev_s,
                    next=next_s,
                )
            )
    return out


#: Read at most this many sentences of a document when looking for those nearest the question.
NEAREST_SCAN_LIMIT = 100_000


def add_nearest(
    snapshot: Snapshot,
    candidates: list[Candidate],
    query_vector: np.ndarray | None,
    count: int,
) -> list[Candidate]:
    """``candidates`` with the ``count`` sentences of the top document (the first candidate's)
    nearest ``query_vector`` by their stored vectors marked ``near``: a candidate already is
    marked in place, any other is appended with the document's best-ranked passage. A
    paraphrased question rarely shares the words the feature scorer ranks by; its answer is
    often still in the best document, near the question in meaning. Unchanged without a query
    vector, stored sentence vectors or candidates, or when ``count`` is 0."""
    if count <= 0 or query_vector is None or not candidates:
        return candidates
    top = candidates[0]
    sentences, vectors = snapshot.sentences(top.sentence.doc_id, 0, NEAREST_SCAN_LIMIT)
    if vectors is None or not sentences:
        return candidates
    cosine = vectors @ np.asarray(query_vector, dtype=np.float32).reshape(-1)
    nearest = [int(i) for i in np.argsort(-cosine, kind="stable")[:count]]
    by_ordinal = {s.ordinal: s for s in sentences}
    position = {
        c.sentence.ordinal: n for n, c in enumerate(candidates) if c.document.id == top.document.id
    }
    out = list(candidates)
    for i in nearest:
        s = sentences[i]
        if s.ordinal in position:
            out[position[s.ordinal]] = replace(out[position[s.ordinal]], near=True)
            continue
        out.append(
            Candidate(
                sentence=s,
                vector=vectors[i],
                passage=top.passage,
                document=top.document,
                prev=by_ordinal.get(s.ordinal - 1),
                next=by_ordinal.get(s.ordinal + 1),
                near=True,
            )
        )
    return out


@dataclass(frozen=True)
class Evidence:
    """What the answerer reads for one question: the question as validated, its detected
    language, the retrieval mode used (lexical for a language the embedding model cannot read),
    the query vector (``None`` in lexical mode), the retrieved passages and every candidate
    sentence of them, and the question's analysis (made once: retrieval took its terms and the
    answerer reads it). :meth:`rag.system.QASystem.evidence` builds it; ``ask()`` hands it to the
    answerer, and training and evaluation read the same object."""

    question: str
    language: str
    mode: RetrievalMode
    query_vector: np.ndarray | None
    passages: list[Passage]
    candidates: list[Candidate]
    warnings: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    analysis: QuestionAnalysis | None = None
