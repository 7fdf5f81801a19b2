"""Small off-domain documents turned into answer candidates, with no model and no index."""

from __future__ import annotations

import re

import numpy as np

from index.records import Document, MetadataValue, Sentence
from rag.answering.evidence import Candidate
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
