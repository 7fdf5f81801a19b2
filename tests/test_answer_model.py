"""The answer model a reader gets: dated citations with metadata, a plain answer, 0..1
relevance and fused ranks for passages, raw retriever scores under `debug`."""

from __future__ import annotations

from rag.models import Answer, Passage, RetrieverHit, relevance_of, strip_markers
from rag.settings import Settings
from rag.system import QASystem


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
            "rank": 1,
            "score": 0.02,
            "dense": {"rank": 3, "score": 0.5},
        }
    )
    assert p.dense == RetrieverHit(rank=3, score=0.5) and p.lexical is None
    assert p.debug.fused_score == 0.02
    assert "dense" not in p.model_dump() and p.model_dump()["debug"]["dense"]["rank"] == 3


def test_answer_json_for_readers(article_index: Settings) -> None:
    with QASystem.open(article_index) as qa:
        answer = qa.ask("Who is quoted on Ukraine?", k=4)
    data = answer.model_dump(mode="json")
    assert "[" not in data["answer_plain"] and data["answer_plain"]
    assert Answer.model_validate(data).answer == answer.answer  # round-trips (computed field)
    ranks = [p["rank"] for p in data["passages"]]
    assert ranks == list(range(1, len(ranks) + 1))
    rel = [p["relevance"] for p in data["passages"]]
    assert rel[0] == 1.0 and all(0.0 <= r <= 1.0 for r in rel)
    assert rel == sorted(rel, reverse=True)
    for p in data["passages"]:
        assert "dense" not in p and "lexical" not in p
        assert p["debug"]["fused_score"] == p["score"]
        assert p["metadata"]["language"] == "en"
    if not answer.abstained:
        for c in data["citations"]:
            assert "date" in c and c["metadata"]["language"] == "en"
