"""An answer is built once: answerers return a draft whose citations already carry their
document's fields; the system completes it with passages, mode, warnings and timings. Off-domain
documents, a stand-in scorer, no index."""

from __future__ import annotations

import httpx
import pytest

import rag.answering.extractive as extractive
from rag.answering.citations import (
    CitationError,
    make_citation,
    passage_citation,
    verify_citations,
)
from rag.answering.extractive import NO_ANSWER, abstention
from rag.answering.llm import LLMAnswerer, parse_generated
from rag.answering.question import analyse_question
from rag.models import AnswerDraft, AnswerSentence
from tests.unit.answering_fakes import candidates_from
from tests.unit.test_scoring import answerer  # the extractive answerer on a stand-in scorer

HARBOUR = (
    "The harbour master opened the new quay in April 2020. "
    "The quay can berth three cargo ships at once. "
    "Fishing boats still use the old pier."
)
META = {"town": "Ystad", "language": "en"}


def test_extractive_citations_carry_the_documents_date_and_metadata() -> None:
    cands = candidates_from("harbour:quay", HARBOUR, date="2020-04-30", metadata=META)
    draft = answerer({"The harbour master o": 0.9}).answer(
        "When did the new quay open?", None, cands, [cands[0].passage]
    )
    assert isinstance(draft, AnswerDraft) and not draft.abstained
    [c] = draft.citations
    assert (c.doc_id, c.date, c.metadata) == ("harbour:quay", "2020-04-30", META)
    assert c.quote == HARBOUR[c.char_start : c.char_end] == HARBOUR.split(" The quay")[0]
    assert draft.short_answer == "April 2020"
    c.metadata["town"] = "Malmö"  # the citation's metadata is its own copy
    assert cands[0].document.metadata["town"] == "Ystad"


def test_to_answer_builds_the_whole_answer_once() -> None:
    cands = candidates_from("harbour:quay", HARBOUR, date="2020-04-30", metadata=META)
    passages = [cands[0].passage]
    draft = answerer({"The quay can berth t": 0.8}).answer(
        "How many cargo ships can the quay berth?", None, cands, passages
    )
    answer = draft.to_answer(
        question="How many cargo ships can the quay berth?",
        passages=passages,
        mode="lexical",
        warnings=["question in language 'sv': lexical retrieval only"],
        timings_ms={"encode": 1.0, "total": 3.5},
    )
    assert answer.mode == "lexical" and answer.timings_ms == {"encode": 1.0, "total": 3.5}
    assert answer.passages == passages and answer.answer == draft.answer
    assert answer.citations == draft.citations and answer.citations[0].date == "2020-04-30"
    assert answer.confidence == pytest.approx(0.8) and answer.answerer == "extractive"
    assert answer.warnings == ["question in language 'sv': lexical retrieval only"]
    assert answer.answer_plain == "The quay can berth three cargo ships at once."


def test_an_abstention_draft_keeps_its_reason_first_and_the_closest_passages() -> None:
    cands = candidates_from("harbour:quay", HARBOUR)
    draft = answerer({}).answer("Who painted the lighthouse?", None, cands, [])
    assert draft.abstained and draft.citations == [] and draft.answer == NO_ANSWER
    answer = draft.to_answer(
        question="Who painted the lighthouse?",
        passages=[cands[0].passage],
        mode="hybrid",
        warnings=["extra"],
    )
    assert answer.abstained and answer.passages[0].doc_id == "harbour:quay"
    assert (
        answer.warnings[0].startswith("abstained: weak support") and answer.warnings[1] == "extra"
    )


def test_drafts_are_frozen_and_a_warning_makes_a_new_one() -> None:
    draft = abstention(0.2, "nothing fits", answerer="extractive")
    with pytest.raises(ValueError, match="frozen"):
        draft.answer = "something"  # type: ignore[misc]
    noted = draft.with_warning("fallback used")
    assert draft.warnings == ["abstained: nothing fits"]
    assert noted.warnings == ["abstained: nothing fits", "fallback used"]


def test_passage_citation_needs_no_document_lookup() -> None:
    [first, *_] = candidates_from("harbour:quay", HARBOUR, date="2020-04", metadata=META)
    passage = first.passage
    c = passage_citation(2, passage)
    assert (c.marker, c.doc_id, c.title, c.source) == (2, "harbour:quay", "harbour:quay", "test")
    assert (c.date, c.metadata, c.page) == ("2020-04", META, None)
    assert c.quote == passage.text == HARBOUR[c.char_start : c.char_end]
    assert c == make_citation(2, first.document, passage.char_start, passage.char_end)


def test_generated_text_is_cited_from_the_passages_it_names() -> None:
    passages = [
        candidates_from("harbour:quay", HARBOUR, date="2020-04", metadata=META)[0].passage,
        candidates_from("harbour:pier", "The old pier dates from 1885.", rank=2)[0].passage,
    ]
    draft = parse_generated(
        "The quay opened in April 2020 [1]. The pier is older [2][7]. Boats are fine.", passages
    )
    assert draft.answerer == "llm" and not draft.abstained
    assert [s.markers for s in draft.sentences] == [[1], [2], []]
    assert [s.flagged for s in draft.sentences] == [False, False, True]
    assert [(c.marker, c.doc_id, c.date) for c in draft.citations] == [
        (1, "harbour:quay", "2020-04"),
        (2, "harbour:pier", None),
    ]
    assert draft.citations[0].metadata == META
    assert any("dropped markers [7]" in w for w in draft.warnings)
    docs = {p.doc_id: p.document for p in passages if p.document is not None}
    verify_citations(draft, docs)  # the quotes are the documents' own text
    assert parse_generated("[1]", passages).abstained


def test_llm_fallback_adds_its_warning_to_a_new_draft() -> None:
    cands = candidates_from("harbour:quay", HARBOUR)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    fallback = answerer({"The harbour master o": 0.9})
    llm = LLMAnswerer(
        base_url="http://llm.test/v1",
        model="m",
        api_key=None,
        timeout_s=1,
        fallback=fallback,
        transport=httpx.MockTransport(down),
    )
    draft = llm.answer("When did the quay open?", None, cands, [cands[0].passage])
    assert draft.answerer == "extractive" and draft.citations[0].quote.endswith("April 2020.")
    assert draft.warnings == ["language model unavailable (ConnectError); extractive answer given"]


def test_an_answerer_given_the_questions_analysis_does_not_analyse_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``ask()`` hands the analysis its evidence step made; the extractive answerer (and the
    language-model one, through its fallback) reads it instead of analysing the question anew."""
    cands = candidates_from("harbour:quay", HARBOUR)
    question = "When did the quay open?"
    analysis = analyse_question(question)
    fallback = answerer({"The harbour master o": 0.9})
    alone = fallback.answer(question, None, cands, [cands[0].passage])

    def again(text: str) -> None:
        raise AssertionError(f"analysed again: {text}")

    monkeypatch.setattr(extractive, "analyse_question", again)
    given = fallback.answer(question, None, cands, [cands[0].passage], analysis=analysis)
    assert given == alone

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    llm = LLMAnswerer(
        base_url="http://llm.test/v1",
        model="m",
        api_key=None,
        timeout_s=1,
        fallback=fallback,
        transport=httpx.MockTransport(down),
    )
    draft = llm.answer(question, None, cands, [cands[0].passage], analysis=analysis)
    assert draft.citations == alone.citations


def test_verify_citations_checks_a_draft_too() -> None:
    [first, *_] = candidates_from("harbour:quay", HARBOUR)
    good = make_citation(1, first.document, 0, 10)
    draft = AnswerDraft(
        answer="x [1]",
        sentences=[AnswerSentence(text="x", markers=[1, 2])],
        citations=[good],
        answerer="llm",
    )
    with pytest.raises(CitationError, match="markers"):
        verify_citations(draft, {"harbour:quay": first.document})
