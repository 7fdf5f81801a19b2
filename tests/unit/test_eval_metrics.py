"""Evaluation metrics on hand-made answers: retrieval ranks, correctness, citations, aggregates,
and the SQuAD scoring rules."""

from __future__ import annotations

import pytest

from eval.dataset import EvalQuestion
from eval.harness import EvalConfig, apply_overrides, deterministic_sample
from eval.metrics import (
    QuestionRecord,
    aggregate,
    aggregate_by_category,
    citation_is_valid,
    overlaps,
    percentile,
    score_answer,
)
from eval.squad import (
    SquadQuestion,
    aggregate_squad,
    contains_gold,
    exact_match,
    normalize_squad,
    prediction_of,
    score_squad_answer,
    token_f1,
)
from index.errors import RagError
from rag.models import Answer, AnswerSentence, Citation, Passage
from rag.settings import Settings

DOC = "doc.txt"
TEXT = "Alpha signed the pact in May 2020. Beta objected. Gamma stayed out of it entirely."
#      0         1         2         3         4         5         6         7         8
# "Alpha signed the pact in May 2020." is [0, 34); "Beta objected." is [35, 49).
SENT_1 = (0, 34)
SENT_2 = (35, 49)
SENT_3 = (50, len(TEXT))


def _texts(doc_id: str) -> str | None:
    return {DOC: TEXT, "other": "Unrelated text about something else."}.get(doc_id)


def _question(
    qid: str = "q1",
    *,
    answerable: bool = True,
    answers: tuple[str, ...] = ("May 2020",),
    category: str = "factual",
) -> EvalQuestion:
    return EvalQuestion.model_validate(
        {
            "id": qid,
            "category": category,
            "question": "When was the pact signed?",
            "answers": list(answers) if answerable else [],
            "answerable": answerable,
            "evidence": [TEXT[SENT_1[0] : SENT_1[1]]] if answerable else [],
        }
    )


def _passage(rank: int, start: int, end: int, doc_id: str = DOC) -> Passage:
    text = _texts(doc_id) or ""
    return Passage(
        chunk_id=rank,
        doc_id=doc_id,
        title="t",
        source="s",
        char_start=start,
        char_end=end,
        text=text[start:end],
        sentence_start=0,
        sentence_end=1,
        rank=rank,
        score=1.0 / rank,
    )


def _citation(
    marker: int, start: int, end: int, doc_id: str = DOC, quote: str | None = None
) -> Citation:
    text = _texts(doc_id) or ""
    return Citation(
        marker=marker,
        doc_id=doc_id,
        title="t",
        source="s",
        char_start=start,
        char_end=end,
        quote=text[start:end] if quote is None else quote,
    )


def _answer(
    text: str,
    *,
    citations: list[Citation] | None = None,
    passages: list[Passage] | None = None,
    short: str | None = None,
    abstained: bool = False,
) -> Answer:
    cites = citations or []
    sentences = [AnswerSentence(text=c.quote, markers=[c.marker]) for c in cites]
    return Answer(
        question="When was the pact signed?",
        answer=text,
        short_answer=short,
        abstained=abstained,
        sentences=sentences,
        citations=cites,
        passages=passages or [],
        answerer="extractive",
        mode="hybrid",
    )


def _score(question: EvalQuestion, answer: Answer, latency: float = 10.0) -> QuestionRecord:
    return score_answer(
        question, answer, gold_doc_id=DOC, spans=[SENT_1], doc_text=_texts, latency_ms=latency
    )


# --- single answers -------------------------------------------------------------------------------
def test_overlap_is_half_open() -> None:
    assert overlaps(0, 10, [(9, 20)])
    assert not overlaps(0, 10, [(10, 20)])
    assert not overlaps(20, 30, [(0, 20)])
    assert overlaps(5, 6, [(0, 100)])


def test_correct_answer_with_gold_citation() -> None:
    answer = _answer(
        "Alpha signed the pact in May 2020. [1]",
        citations=[_citation(1, *SENT_1)],
        passages=[_passage(1, *SENT_1)],
    )
    record = _score(_question(), answer)
    assert record.correct is True
    assert record.hit_at_1 and record.hit_at_5
    assert record.reciprocal_rank == 1.0
    assert (record.citations, record.valid_citations, record.citations_on_evidence) == (1, 1, 1)
    assert (record.answer_sentences, record.supported_sentences) == (1, 1)
    assert record.passed


def test_relevant_passage_at_rank_three() -> None:
    passages = [
        _passage(1, *SENT_3),
        _passage(2, 0, 20, doc_id="other"),  # overlaps the span offsets but another document
        _passage(3, 20, 49),
    ]
    record = _score(_question(), _answer("x", passages=passages))
    assert record.first_relevant_rank == 3
    assert record.hit_at_1 is False
    assert record.hit_at_5 is True
    assert record.reciprocal_rank == pytest.approx(1 / 3)


def test_no_relevant_passage_scores_zero() -> None:
    record = _score(_question(), _answer("x", passages=[_passage(1, *SENT_2)]))
    assert record.first_relevant_rank is None
    assert record.reciprocal_rank == 0.0
    assert record.hit_at_5 is False


def test_short_answer_counts_toward_correctness() -> None:
    answer = _answer("Beta objected. [1]", citations=[_citation(1, *SENT_2)], short="May 2020")
    assert _score(_question(), answer).correct is True


def test_abstaining_on_answerable_question_is_wrong() -> None:
    answer = _answer("The documents do not answer: May 2020", abstained=True)
    record = _score(_question(), answer)
    assert record.correct is False
    assert not record.passed
    assert record.answer_sentences == 0


def test_unanswerable_question_scores_abstention_only() -> None:
    question = _question("u1", answerable=False, category="off_topic")
    abstained = _score(question, _answer("No.", abstained=True))
    answered = _score(question, _answer("Beta objected. [1]", citations=[_citation(1, *SENT_2)]))
    assert abstained.passed and not answered.passed
    assert abstained.correct is None and abstained.hit_at_5 is None
    assert answered.valid_citations == 1
    assert answered.citations_on_evidence == 0  # no gold evidence to overlap


def test_citation_validity_detects_a_wrong_quote_and_an_unknown_document() -> None:
    good = _citation(1, *SENT_1)
    shifted = _citation(2, 1, 35, quote=TEXT[0:34])
    unknown = _citation(3, 0, 5, doc_id="missing", quote="Alpha")
    beyond = _citation(4, 80, 200, quote=TEXT[80:])
    assert citation_is_valid(good, _texts)
    assert not citation_is_valid(shifted, _texts)
    assert not citation_is_valid(unknown, _texts)
    assert not citation_is_valid(beyond, _texts)


def test_support_and_citation_precision_count_off_evidence_sentences() -> None:
    answer = _answer(
        "Alpha signed the pact in May 2020. [1] Beta objected. [2]",
        citations=[_citation(1, *SENT_1), _citation(2, *SENT_2)],
    )
    record = _score(_question(), answer)
    assert (record.answer_sentences, record.supported_sentences) == (2, 1)
    assert (record.citations, record.citations_on_evidence) == (2, 1)


# --- aggregates -----------------------------------------------------------------------------------
def _records() -> list[QuestionRecord]:
    gold = [_citation(1, *SENT_1)]
    right = _answer("May 2020 [1]", citations=gold, passages=[_passage(1, *SENT_1)])
    wrong = _answer(
        "Beta objected. [1]", citations=[_citation(1, *SENT_2)], passages=[_passage(1, *SENT_2)]
    )
    late = _answer("nothing", abstained=True, passages=[_passage(1, *SENT_2), _passage(2, *SENT_1)])
    return [
        _score(_question("a1"), right, 10.0),
        _score(_question("a2"), wrong, 20.0),
        _score(_question("a3"), late, 30.0),
        _score(_question("u1", answerable=False, category="near_miss"), late, 40.0),
        _score(_question("u2", answerable=False, category="near_miss"), wrong, 50.0),
    ]


def test_aggregate_uses_paperqa_definitions() -> None:
    m = aggregate(_records())
    assert (m.questions, m.answerable, m.unanswerable) == (5, 3, 2)
    assert m.accuracy == pytest.approx(1 / 3)  # 1 correct of 3 answerable
    assert m.precision == pytest.approx(1 / 2)  # 1 correct of 2 answered answerable
    assert m.abstention_recall == pytest.approx(1 / 2)  # 1 of 2 unanswerable abstained
    assert m.abstention_precision == pytest.approx(1 / 2)  # 1 of 2 abstentions was right
    assert (m.answered, m.abstained) == (3, 2)


def test_aggregate_retrieval_is_over_answerable_questions() -> None:
    m = aggregate(_records())
    assert m.hit_at_1 == pytest.approx(1 / 3)
    assert m.hit_at_5 == pytest.approx(2 / 3)
    assert m.mrr == pytest.approx((1 + 0 + 0.5) / 3)


def test_aggregate_citations_and_latency() -> None:
    m = aggregate(_records())
    assert m.citation_validity == 1.0
    assert m.support == pytest.approx(1 / 2)  # answered answerable: a1 supported, a2 not
    assert m.citation_precision == pytest.approx(1 / 2)
    assert m.latency_p50_ms == pytest.approx(30.0)
    assert m.latency_p95_ms == pytest.approx(48.0)


def test_aggregate_of_nothing_is_undefined_not_zero() -> None:
    m = aggregate([])
    assert m.questions == 0
    assert m.accuracy is None and m.abstention_recall is None and m.latency_p50_ms is None


def test_per_category_keeps_order_and_empty_groups() -> None:
    groups = aggregate_by_category(_records(), ["near_miss", "factual", "list"])
    assert list(groups) == ["near_miss", "factual", "list"]
    assert groups["near_miss"].unanswerable == 2
    assert groups["near_miss"].accuracy is None
    assert groups["factual"].answerable == 3
    assert groups["list"].questions == 0


def test_percentile_interpolates() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([], 95) is None


# --- configuration helpers ------------------------------------------------------------------------
def test_overrides_are_validated_against_settings() -> None:
    base = Settings(abstain_threshold=0.4)
    changed = apply_overrides(base, {"abstain_threshold": "0.55", "answer_max_sentences": 2})
    assert changed.abstain_threshold == pytest.approx(0.55)
    assert changed.answer_max_sentences == 2
    assert base.abstain_threshold == pytest.approx(0.4)
    with pytest.raises(RagError, match="unknown setting"):
        apply_overrides(base, {"no_such_setting": 1})
    with pytest.raises(RagError, match="invalid value"):
        apply_overrides(base, {"abstain_threshold": "high"})


def test_sample_is_deterministic_and_ordered() -> None:
    items = list(range(100))
    first = deterministic_sample(items, 10)
    assert first == deterministic_sample(items, 10)
    assert first == sorted(first) and len(first) == 10
    assert deterministic_sample(items, None) == items
    assert deterministic_sample(items, 500) == items
    with pytest.raises(RagError):
        deterministic_sample(items, 0)


def test_eval_config_rejects_bad_k() -> None:
    with pytest.raises(ValueError):
        EvalConfig(name="x", mode="hybrid", k=0)


# --- SQuAD scoring --------------------------------------------------------------------------------
def test_squad_normalisation() -> None:
    assert normalize_squad("The  Treaty of Paris, 1763!") == "treaty of paris 1763"
    assert normalize_squad("an Apple a day") == "apple day"


def test_exact_match_and_f1() -> None:
    assert exact_match("the Treaty of Paris", "Treaty of Paris.") == 1.0
    assert exact_match("Paris", "Treaty of Paris") == 0.0
    assert token_f1("Treaty of Paris", "the Treaty of Paris") == 1.0
    # prediction 2 tokens, gold 3 tokens, 2 shared: p=1, r=2/3, f1=0.8
    assert token_f1("treaty paris", "treaty of paris") == pytest.approx(0.8)
    assert token_f1("London", "Paris") == 0.0


def test_contains_gold_needs_whole_words() -> None:
    assert contains_gold("It began in October 1973 [1].", ["October 1973"])
    assert not contains_gold("It began in 19735.", ["1973"])
    assert not contains_gold("anything", [])


def _squad_answer(short: str | None, sentence: str, *, abstained: bool = False) -> Answer:
    return Answer(
        question="q",
        answer="No." if abstained else f"{sentence} [1]",
        short_answer=short,
        abstained=abstained,
        sentences=[] if abstained else [AnswerSentence(text=sentence, markers=[1])],
        passages=[_passage(1, *SENT_2, doc_id="other"), _passage(2, *SENT_1)],
        answerer="extractive",
        mode="hybrid",
    )


def test_prediction_prefers_the_short_answer() -> None:
    assert prediction_of(_squad_answer("May 2020", "Alpha signed in May 2020.")) == "May 2020"
    assert prediction_of(_squad_answer(None, "Alpha signed.")) == "Alpha signed."
    assert prediction_of(_squad_answer("x", "y", abstained=True)) == ""


def test_squad_records_and_aggregate() -> None:
    answerable = SquadQuestion(
        id="s1", question="q", answers=["May 2020", "2020"], answerable=True, gold_doc_id=DOC
    )
    unanswerable = SquadQuestion(
        id="s2", question="q", answers=[], answerable=False, gold_doc_id=DOC
    )
    hit = score_squad_answer(
        answerable, _squad_answer(None, "Alpha signed in May 2020."), doc_text=_texts, latency_ms=5
    )
    assert hit.first_relevant_rank == 2
    assert hit.exact_match == 0.0
    assert hit.f1 == pytest.approx(2 * (2 / 5) * 1.0 / (2 / 5 + 1.0))  # "alpha signed in may 2020"
    assert hit.contains is True
    declined = score_squad_answer(
        unanswerable, _squad_answer(None, "x", abstained=True), doc_text=_texts, latency_ms=7
    )
    assert declined.passed and declined.exact_match is None
    m = aggregate_squad([hit, declined])
    assert m.hit_at_1 == 0.0 and m.hit_at_5 == 1.0 and m.mrr == pytest.approx(0.5)
    assert m.contains_accuracy == 1.0
    assert m.abstention_recall == 1.0 and m.abstention_precision == 1.0
