"""Answers an analyst can check: the real model, FAISS and SQLite over the article among real and
made-up statements (``corpus_index``: the session's article index plus the fixture corpora, built
once per session). The questions are this module's own, worded apart from the evaluation set
(``tests/unit/test_eval_dataset.py`` checks that no test asks an evaluation question); each test
asserts the sentence cited and its exact span, the speaker, or the abstention."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from index.errors import InvalidFilterError
from rag.answering.base import make_answerer
from rag.answering.llm import LLMAnswerer
from rag.errors import ConfigurationError, InvalidQuestionError
from rag.filters import Filters
from rag.models import Answer
from rag.settings import Settings
from rag.system import QASystem

ARTICLE_ID = "japan-sweden-security-cooperation.txt"
NATO_QUESTION = "In which month and year did Sweden become a NATO member?"


@pytest.fixture(scope="module")
def system(corpus_index: Settings) -> Iterator[QASystem]:
    qa = QASystem.open(corpus_index)
    qa.warm_up()
    yield qa
    qa.close()


def assert_checkable(system: QASystem, answer: Answer) -> None:
    """Every quote is the exact document slice and carries the document's own fields; every
    marker has its citation."""
    markers = {c.marker for c in answer.citations}
    with system.snapshot() as snap:
        for c in answer.citations:
            doc = snap.document(c.doc_id)
            assert doc is not None
            assert doc.text[c.char_start : c.char_end] == c.quote
            assert (c.title, c.date, c.metadata) == (doc.title, doc.date, doc.metadata)
    for s in answer.sentences:
        assert set(s.markers) <= markers
        for m in s.markers:
            assert f"[{m}]" in answer.answer


@pytest.mark.parametrize(
    ("question", "cited", "short"),
    [
        (NATO_QUESTION, "culminating in its accession to NATO in March 2024.", "March 2024"),
        (
            "When did Japan and Sweden sign their defence cooperation agreement?",
            "signed in December 2022",
            "December 2022",
        ),
        (
            "What did Japan's constitution forbid after the Second World War?",
            "explicitly prohibited participation in international collective defense",
            None,
        ),
        (
            "Which two neighbours changed Japan's regional security environment?",
            "principally the rise of China and North Korea",
            None,
        ),
    ],
)
def test_the_sentence_that_answers_is_cited_exactly(
    system: QASystem, question: str, cited: str, short: str | None
) -> None:
    answer = system.ask(question)
    assert not answer.abstained, answer.warnings
    first = answer.citations[0]
    assert first.doc_id == ARTICLE_ID and cited in first.quote
    assert first.quote in answer.answer_plain
    assert first.metadata["language"] == "en"
    if short is not None:
        assert answer.short_answer == short
    assert_checkable(system, answer)


def test_reported_speech_names_the_speaker(system: QASystem) -> None:
    answer = system.ask("Who called the synergies undeniable?")
    assert not answer.abstained, answer.warnings
    assert answer.citations[0].quote.startswith("“The synergies between our expertise")
    assert answer.citations[0].speaker is not None
    assert "Hiroshi Watanabe" in answer.citations[0].speaker
    assert answer.short_answer and "Watanabe" in answer.short_answer


@pytest.mark.parametrize(
    "question", ["How many legs does a spider have?", "What is a good recipe for lemon sorbet?"]
)
def test_off_topic_questions_abstain(system: QASystem, question: str) -> None:
    answer = system.ask(question)
    assert answer.abstained, answer.answer
    assert answer.citations == [] and answer.sentences == []
    assert "do not answer" in answer.answer
    assert answer.passages, "an abstention still shows the closest passages"
    assert answer.warnings[0].startswith("abstained:")


#: Questions of this test's own over the article, in words of their own.
OWN_QUESTIONS = [
    "Which vehicles could the joint task force deliver?",
    "What weapons has Sweden sent to Kyiv?",
    "Who thinks Japan could become a logistics hub?",
    "What worries some in the EU about bilateral pacts?",
    "What will the joint tracking system coordinate?",
    "Who said that Türkiye would keep mediating?",
    "Where will the next round of talks be held?",
    "What did the foreign ministers discuss in Seoul?",
]


def test_every_answer_keeps_the_quote_invariant(system: QASystem) -> None:
    answers = [system.ask(q) for q in OWN_QUESTIONS]
    for answer in answers:
        assert_checkable(system, answer)
    answered = [a for a in answers if not a.abstained]
    assert len(answered) >= 6, [a.warnings for a in answers]  # the check saw real citations
    assert {c.doc_id for a in answered for c in a.citations} >= {ARTICLE_ID, "ungd:kor"}


def test_filters_are_honoured_inside_retrieval(system: QASystem) -> None:
    question = "What did Sweden say about security and Ukraine?"
    only = system.ask(question, filters=Filters(doc_ids=["ungdc:SWE_77_2022"]), k=5)
    assert only.passages and {p.doc_id for p in only.passages} == {"ungdc:SWE_77_2022"}
    by_meta = system.ask(question, filters=Filters(metadata={"country": "JPN"}))
    assert by_meta.passages and {p.doc_id for p in by_meta.passages} == {"ungdc:JPN_77_2022"}
    dated = system.ask(question, filters=Filters(date_from="2022", date_to="2022-12"))
    assert {p.doc_id for p in dated.passages} == {"ungdc:SWE_77_2022", "ungdc:JPN_77_2022"}
    later = system.ask(question, filters=Filters(date_from="2023"))
    assert {p.doc_id for p in later.passages} <= {"ungd:opening", "ungd:tur", "ungd:kor"}
    assert later.passages
    with pytest.raises(InvalidFilterError, match="no document has source 'no such source'"):
        system.ask(question, filters=Filters(source="no such source"))  # said, not abstained


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_each_retrieval_mode_finds_the_article(system: QASystem, mode: str) -> None:
    answer = system.ask(NATO_QUESTION, mode=mode)  # type: ignore[arg-type]
    assert answer.mode == mode
    assert answer.passages[0].doc_id == ARTICLE_ID
    hits = [p.dense for p in answer.passages] + [p.lexical for p in answer.passages]
    assert any(h is not None for h in hits)
    if mode == "hybrid":
        assert answer.passages[0].dense is not None and answer.passages[0].lexical is not None
    assert set(answer.timings_ms) == {"encode", "retrieve", "answer", "total"}


def test_bad_questions_are_refused(system: QASystem) -> None:
    with pytest.raises(InvalidQuestionError, match="empty"):
        system.ask("   ")
    with pytest.raises(InvalidQuestionError, match="limit"):
        system.ask("why " * 1000)
    with pytest.raises(InvalidQuestionError, match="k must"):
        system.ask(NATO_QUESTION, k=0)
    with pytest.raises(InvalidQuestionError, match="retrieval mode 'DENSE'") as caught:
        system.ask(NATO_QUESTION, mode="DENSE")  # type: ignore[arg-type]
    assert caught.value.hint == "use one of hybrid, dense, lexical"


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
    qa = _llm(system, _reply("Sweden became a member in March 2024 [1][9]. A big step."))
    answer = qa.ask(NATO_QUESTION)
    assert answer.answerer == "llm"
    assert [s.markers for s in answer.sentences] == [[1], []]
    assert [s.flagged for s in answer.sentences] == [False, True]
    assert [c.marker for c in answer.citations] == [1]
    assert answer.citations[0].quote == answer.passages[0].text  # [1] cites passage 1 whole
    assert any("dropped markers [9]" in w for w in answer.warnings)
    assert_checkable(system, answer)


def test_llm_citations_carry_the_passages_document_fields(system: QASystem) -> None:
    qa = _llm(system, _reply("Sweden spoke about the war [1]."))
    only_sweden = Filters(metadata={"country": "SWE"})
    answer = qa.ask("What did Sweden say about security and Ukraine?", filters=only_sweden)
    [c] = answer.citations
    assert (c.doc_id, c.date, c.metadata["country"], c.metadata["session"]) == (
        "ungdc:SWE_77_2022",
        "2022-09",
        "SWE",
        77,
    )
    assert_checkable(system, answer)


def test_llm_failure_falls_back_to_extractive(system: QASystem) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    answer = _llm(system, httpx.MockTransport(boom)).ask(NATO_QUESTION)
    assert answer.answerer == "extractive"
    assert "March 2024" in answer.answer
    assert any("language model unavailable" in w for w in answer.warnings)
    assert_checkable(system, answer)


def test_llm_no_answer_abstains(system: QASystem) -> None:
    answer = _llm(system, _reply("NO_ANSWER")).ask("How many legs does a spider have?")
    assert answer.abstained and answer.citations == []
    assert answer.answerer == "llm"  # the model declined, not the extractive answerer


def test_llm_mode_needs_an_endpoint() -> None:
    with pytest.raises(ConfigurationError, match="RAG_LLM_BASE_URL"):
        make_answerer(Settings(answer_mode="llm"))
