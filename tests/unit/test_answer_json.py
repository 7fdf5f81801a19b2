"""The answer model's reader fields: plain answers without markers, 0..1 relevance, and the old
top-level retriever scores accepted into `debug`."""

from __future__ import annotations

from rag.models import Passage, RetrieverHit, relevance_of, strip_markers


def test_strip_markers_and_relevance() -> None:
    assert strip_markers("Sweden joined in 2024. [1] It said so [2, 3].") == (
        "Sweden joined in 2024. It said so."
    )
    assert relevance_of([0.03, 0.015, 0.0]) == [1.0, 0.5, 0.0]
    assert relevance_of([]) == []


def test_old_top_level_scores_are_accepted_into_debug() -> None:
    p = Passage.model_validate(
        {
            "chunk_id": 1,
            "doc_id": "d",
            "title": "t",
            "source": "s",
            "char_start": 0,
            "char_end": 1,
            "text": "x",
            "sentence_start": 0,
            "sentence_end": 1,
            "rank": 1,
            "score": 0.02,
            "dense": {"rank": 3, "score": 0.5},
        }
    )
    assert p.dense == RetrieverHit(rank=3, score=0.5) and p.lexical is None
    assert p.debug.fused_score == 0.02
    assert "dense" not in p.model_dump() and p.model_dump()["debug"]["dense"]["rank"] == 3
