"""Candidate evidence: the sentences of the retrieved passages, with their vectors and context."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index.records import Document, Sentence
from index.store import Snapshot
from rag.models import Passage


@dataclass(frozen=True)
class Candidate:
    """One sentence that may answer, in the best-ranked passage that contains it."""

    sentence: Sentence
    vector: np.ndarray | None
    passage: Passage
    document: Document
    prev: Sentence | None
    next: Sentence | None

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
    """Every sentence of every passage once (first passage wins), with neighbouring sentences."""
    docs = snapshot.documents([p.doc_id for p in passages])
    chunks = snapshot.chunks([p.chunk_id for p in passages])
    seen: set[tuple[str, int]] = set()
    out: list[Candidate] = []
    for p in passages:
        chunk = chunks.get(p.chunk_id)
        if chunk is None:
            continue
        lo = max(0, chunk.sentence_start - 1)
        sentences, vectors = snapshot.sentences(p.doc_id, lo, chunk.sentence_end + 1)
        by_ordinal = {s.ordinal: s for s in sentences}
        for i, s in enumerate(sentences):
            if not chunk.sentence_start <= s.ordinal < chunk.sentence_end:
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
