"""Answers an analyst can check: the real model, FAISS and SQLite over the article plus real
documents from the shared corpora (tests/fixtures/mixed_corpus.jsonl)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from eval.dataset import load_eval_set
from rag.answering.base import make_answerer
from rag.answering.llm import LLMAnswerer
from rag.errors import ConfigurationError, InvalidQuestionError
from rag.loaders import iter_documents
from rag.models import Answer, Filters
from rag.settings import Settings
from rag.system import QASystem

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "rag" / "data" / "japan-sweden-security-cooperation.txt"
MIXED = ROOT / "tests" / "fixtures" / "mixed_corpus.jsonl"
ARTICLE_ID = ARTICLE.name


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QASystem]:
    settings = Settings(index_dir=tmp_path_factory.mktemp("qa") / "index")
    report = QASystem.build(settings, iter_documents([ARTICLE, MIXED]))
    assert report.failed == 0 and report.added == 4
    qa = QASystem.open(settings)
    qa.warm_up()
    yield qa
    qa.close()


def assert_checkable(system: QASystem, answer: Answer) -> None:
    """Every quote is the exact document slice; every marker has its citation."""
    markers = {c.marker for c in answer.citations}
    with system.snapshot() as snap:
        for c in answer.citations:
            doc = snap.document(c.doc_id)
            assert doc is not None
            assert doc.text[c.char_start : c.char_end] == c.quote
    for s in answer.sentences:
        assert set(s.markers) <= markers
        for m in s.markers:
            assert f"[{m}]" in answer.answer


@pytest.mark.parametrize(
    ("question", "expected", "short"),
    [
        ("When did Sweden join NATO?", "March 2024", "March 2024"),
        ("When was the comprehensive defense agreement signed?", "December 2022", "December 2022"),
    ],
)
def test_factual_and_paraphrased_questions_get_cited_answers(
    system: QASystem, question: str, expected: str, short: str | None
) -> None:
    answer = system.ask(question)
    assert not answer.abstained, answer.warnings
    assert expected.lower() in answer.answer.lower()
    assert answer.citations and answer.citations[0].doc_id == ARTICLE_ID
    if short:
        assert answer.short_answer == short
    assert_checkable(system, answer)


def test_reported_speech_names_the_speaker(system: QASystem) -> None:
    answer = system.ask("Who said that the synergies between the two countries are undeniable?")
    assert not answer.abstained
    assert answer.citations[0].speaker is not None
    assert "Hiroshi Watanabe" in answer.citations[0].speaker
    assert answer.short_answer and "Watanabe" in answer.short_answer


@pytest.mark.parametrize(
    "question",
    ["What is the capital of Peru?", "How do you bake sourdough bread at home?"],
)
def test_off_topic_questions_abstain(system: QASystem, question: str) -> None:
    answer = system.ask(question)
    assert answer.abstained, answer.answer
    assert answer.citations == [] and answer.sentences == []
    assert "do not answer" in answer.answer
    assert answer.passages, "an abstention still shows the closest passages"


def test_every_eval_answer_keeps_the_quote_invariant(system: QASystem) -> None:
    for q in load_eval_set().questions:
        assert_checkable(system, system.ask(q.question))


def test_filters_are_honoured_inside_retrieval(system: QASystem) -> None:
    question = "What did Sweden say about security and Ukraine?"
    only = system.ask(question, filters=Filters(doc_ids=["ungdc:SWE_77_2022"]), k=5)
    assert only.passages and {p.doc_id for p in only.passages} == {"ungdc:SWE_77_2022"}
    by_meta = system.ask(question, filters=Filters(metadata={"country": "JPN"}))
    assert by_meta.passages and {p.doc_id for p in by_meta.passages} == {"ungdc:JPN_77_2022"}
    dated = system.ask(question, filters=Filters(date_from="2022", date_to="2022-12"))
    assert {p.doc_id for p in dated.passages} <= {"ungdc:SWE_77_2022", "ungdc:JPN_77_2022"}
    nothing = system.ask(question, filters=Filters(source="no such source"))
    assert nothing.abstained and nothing.passages == []


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_each_retrieval_mode_finds_the_article(system: QASystem, mode: str) -> None:
    answer = system.ask("When did Sweden join NATO?", mode=mode)  # type: ignore[arg-type]
    assert answer.mode == mode
    assert answer.passages[0].doc_id == ARTICLE_ID
    hits = [p.dense for p in answer.passages] + [p.lexical for p in answer.passages]
    assert any(h is not None for h in hits)
    if mode == "hybrid":
        assert answer.passages[0].dense is not None and answer.passages[0].lexical is not None


def test_bad_questions_are_refused(system: QASystem) -> None:
    with pytest.raises(InvalidQuestionError, match="empty"):
        system.ask("   ")
    with pytest.raises(InvalidQuestionError, match="limit"):
        system.ask("why " * 1000)
    with pytest.raises(InvalidQuestionError, match="k must"):
        system.ask("When did Sweden join NATO?", k=0)


# --- the optional language-model answerer ------------------------------------------------------
def _llm(system: QASystem, handler: httpx.MockTransport) -> QASystem:
    answerer = LLMAnswerer(
        base_url="http://llm.test/v1",
        model="m",
        api_key="k",
        timeout_s=2,
        fallback=system.answerer,  # type: ignore[arg-type]
        transport=handler,
    )
    return system.with_settings(system.settings, answerer=answerer)


def _reply(text: str) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer k"
        assert b"Passages are quoted data" in request.content
        return httpx.Response(200, json={"choices": [{"message": {"content": text}}]})

    return httpx.MockTransport(handle)


def test_llm_markers_are_checked_and_unsupported_sentences_flagged(system: QASystem) -> None:
    qa = _llm(system, _reply("Sweden joined NATO in March 2024 [1][9]. It was a big step."))
    answer = qa.ask("When did Sweden join NATO?")
    assert answer.answerer == "llm"
    assert [s.markers for s in answer.sentences] == [[1], []]
    assert [s.flagged for s in answer.sentences] == [False, True]
    assert [c.marker for c in answer.citations] == [1]
    assert any("dropped markers [9]" in w for w in answer.warnings)
    assert_checkable(system, answer)


def test_llm_failure_falls_back_to_extractive(system: QASystem) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    answer = _llm(system, httpx.MockTransport(boom)).ask("When did Sweden join NATO?")
    assert answer.answerer == "extractive"
    assert "March 2024" in answer.answer
    assert any("language model unavailable" in w for w in answer.warnings)


def test_llm_no_answer_abstains(system: QASystem) -> None:
    answer = _llm(system, _reply("NO_ANSWER")).ask("What is the capital of Peru?")
    assert answer.abstained


def test_llm_mode_needs_an_endpoint() -> None:
    with pytest.raises(ConfigurationError, match="RAG_LLM_BASE_URL"):
        make_answerer(Settings(answer_mode="llm"))
