"""Small off-domain documents turned into answer candidates, with no model and no index."""

from __future__ import annotations

import re

import numpy as np

from index.records import Document, MetadataValue, Sentence
from rag.answering.evidence import Candidate
from rag.answering.extractive import AnswerPolicy, ExtractiveAnswerer
from rag.answering.features import candidate_features
from rag.answering.question import QuestionAnalysis
from rag.answering.scorer import AnswerScorer, ScoredCandidates
from rag.models import Passage, RetrieverHit


def candidates_from(
    doc_id: str,
    text: str,
    *,
    rank: int = 1,
    date: str | None = None,
    metadata: dict[str, MetadataValue] | None = None,
) -> list[Candidate]:
    """Split ``text`` at sentence ends; every sentence becomes a candidate in one passage (which
    carries the document's fields, as retrieval's passages do)."""
    doc = Document(
        id=doc_id, title=doc_id, text=text, source="test", date=date, metadata=metadata or {}
    )
    spans = [(m.start(), m.end()) for m in re.finditer(r"[^.!?]+[.!?]”?", text)]
    sentences = []
    for i, (a, b) in enumerate(spans):
        while text[a] == " ":
            a += 1
        sentences.append(
            Sentence(doc_id=doc_id, ordinal=i, char_start=a, char_end=b, text=text[a:b])
        )
    passage = Passage(
        chunk_id=rank,
        doc_id=doc_id,
        title=doc_id,
        source="test",
        date=date,
        metadata=dict(doc.metadata),
        char_start=0,
        char_end=len(text),
        text=text,
        sentence_start=0,
        sentence_end=len(sentences),
        rank=rank,
        score=1.0 / rank,
        dense=RetrieverHit(rank=rank, score=0.5),
        lexical=RetrieverHit(rank=rank, score=2.0),
    ).with_document(doc)
    out = []
    for i, s in enumerate(sentences):
        out.append(
            Candidate(
                sentence=s,
                vector=None,
                passage=passage,
                document=doc,
                prev=sentences[i - 1] if i > 0 else None,
                next=sentences[i + 1] if i + 1 < len(sentences) else None,
            )
        )
    return out


def unit_vectors(candidates: list[Candidate], query_dim: int = 8, seed: int = 0) -> np.ndarray:
    """Give each candidate a random unit vector; returns a query vector equal to the first one."""
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(len(candidates), query_dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    for i, c in enumerate(candidates):
        object.__setattr__(c, "vector", vecs[i])
    return vecs[0]


class FixedScorer(AnswerScorer):
    """Stand-in for the trained model: a probability per sentence (keyed by its first 20
    characters), chosen by the test; 0.05 for the others."""

    def __init__(self, probabilities: dict[str, float]) -> None:
        self.probabilities = probabilities
        self.rerank_top = 0
        self.cross = None

    @property
    def threshold(self) -> float:
        return 0.5

    def score(
        self, q: QuestionAnalysis, query_vector: np.ndarray | None, candidates: list[Candidate]
    ) -> ScoredCandidates:
        p = np.array([self.probabilities.get(c.sentence.text[:20], 0.05) for c in candidates])
        order = np.argsort(-p, kind="stable")
        feats = candidate_features(q, query_vector, candidates)
        return ScoredCandidates(
            [candidates[i] for i in order], p[order], [feats.typed[i] for i in order]
        )


def answerer(probabilities: dict[str, float]) -> ExtractiveAnswerer:
    """The extractive answerer over a :class:`FixedScorer`, abstaining below 0.5."""
    return ExtractiveAnswerer(FixedScorer(probabilities), AnswerPolicy(abstain_threshold=0.5))
