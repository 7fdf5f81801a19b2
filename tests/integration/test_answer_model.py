"""The answer model a reader gets: dated citations with metadata, a plain answer, 0..1
relevance and fused ranks for passages, raw retriever scores under `debug`."""

from __future__ import annotations

from rag.models import Answer
from rag.settings import Settings
from rag.system import QASystem


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
