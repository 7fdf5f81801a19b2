"""Scoring one answer against its gold question, and aggregating scores over many questions.

Pure functions over :class:`rag.models.Answer` and :class:`eval.dataset.EvalQuestion`: no index,
no model. The harness fetches what these need (the gold spans, the document texts) and passes it
in, so every metric can be tested with hand-made answers.

Definitions (PaperQA's, for answering and abstaining):

* accuracy = correct answers / all answerable questions;
* precision = correct answers / answerable questions the system answered (did not abstain);
* abstention recall = abstentions on unanswerable questions / all unanswerable questions;
* abstention precision = abstentions on unanswerable questions / all abstentions.

Retrieval metrics (hit@1, hit@5, MRR) are over answerable questions only: a passage is relevant
when it comes from the gold document and its ``[char_start, char_end)`` overlaps a gold evidence
span. Citation validity counts every citation of every answer; support and citation precision
count the answered answerable questions only (the others have no gold evidence to overlap).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
from pydantic import BaseModel, Field

from eval.dataset import EvalQuestion, answer_matches
from rag.models import Answer, Citation, Passage

Span = tuple[int, int]
DocTextLookup = Callable[[str], str | None]
"""Returns a document's full text by id, or None when the index holds no such document."""


class QuestionRecord(BaseModel):
    """Everything measured for one question under one configuration."""

    id: str
    category: str
    question: str
    answerable: bool
    abstained: bool
    answer: str = Field(..., description="What the system said (answer text with markers).")
    short_answer: str | None = None
    error: str | None = Field(
        default=None, description="The error the system raised, if it failed."
    )
    first_relevant_rank: int | None = Field(
        default=None, description="1-based rank of the first relevant passage; None when none was."
    )
    hit_at_1: bool | None = Field(default=None, description="None for unanswerable questions.")
    hit_at_5: bool | None = Field(default=None, description="None for unanswerable questions.")
    reciprocal_rank: float | None = Field(
        default=None, description="None for unanswerable questions."
    )
    correct: bool | None = Field(default=None, description="None for unanswerable questions.")
    citations: int = 0
    valid_citations: int = 0
    citations_on_evidence: int = Field(
        default=0, description="Citations overlapping gold evidence."
    )
    answer_sentences: int = 0
    supported_sentences: int = Field(
        default=0, description="Answer sentences citing a quote that overlaps gold evidence."
    )
    latency_ms: float = 0.0

    @property
    def passed(self) -> bool:
        """Right answer to an answerable question, or abstention on an unanswerable one."""
        if self.error is not None:
            return False
        return bool(self.correct) if self.answerable else self.abstained


class Metrics(BaseModel):
    """Aggregates over a group of question records. ``None`` means undefined (0 denominator)."""

    questions: int = 0
    answerable: int = 0
    unanswerable: int = 0
    errors: int = 0
    answered: int = Field(
        default=0, description="Questions answered (neither abstained nor failed)."
    )
    abstained: int = 0
    hit_at_1: float | None = None
    hit_at_5: float | None = None
    mrr: float | None = None
    accuracy: float | None = None
    precision: float | None = None
    abstention_recall: float | None = None
    abstention_precision: float | None = None
    citation_validity: float | None = None
    support: float | None = None
    citation_precision: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None


def overlaps(start: int, end: int, spans: Iterable[Span]) -> bool:
    """Whether ``[start, end)`` shares at least one character with any of ``spans``."""
    return any(start < span_end and span_start < end for span_start, span_end in spans)


def passage_is_relevant(passage: Passage, gold_doc_id: str, spans: Sequence[Span]) -> bool:
    """A passage is relevant when it is from the gold document and overlaps a gold span."""
    return passage.doc_id == gold_doc_id and overlaps(passage.char_start, passage.char_end, spans)


def first_relevant_rank(
    passages: Sequence[Passage], is_relevant: Callable[[Passage], bool]
) -> int | None:
    """1-based position (in list order) of the first relevant passage, or None."""
    for position, passage in enumerate(passages, start=1):
        if is_relevant(passage):
            return position
    return None


def citation_is_valid(citation: Citation, doc_text: DocTextLookup) -> bool:
    """``quote == document.text[char_start:char_end]`` for the cited document."""
    text = doc_text(citation.doc_id)
    if text is None or citation.char_end > len(text) or citation.char_start >= citation.char_end:
        return False
    return text[citation.char_start : citation.char_end] == citation.quote


def citation_on_evidence(citation: Citation, gold_doc_id: str, spans: Sequence[Span]) -> bool:
    """Whether a citation is from the gold document and overlaps a gold span."""
    return citation.doc_id == gold_doc_id and overlaps(
        citation.char_start, citation.char_end, spans
    )


def answer_is_correct(answer: Answer, question: EvalQuestion) -> bool:
    """Answerable, not abstained, and the answer text (plus short answer) holds the gold."""
    if not question.answerable or answer.abstained:
        return False
    return answer_matches(answer.answer + " " + (answer.short_answer or ""), question)


def score_answer(
    question: EvalQuestion,
    answer: Answer,
    *,
    gold_doc_id: str,
    spans: Sequence[Span],
    doc_text: DocTextLookup,
    latency_ms: float,
) -> QuestionRecord:
    """Measure one answer. ``spans`` are the question's evidence spans in ``gold_doc_id``."""
    answerable = question.answerable
    rank = first_relevant_rank(
        answer.passages, lambda p: passage_is_relevant(p, gold_doc_id, spans)
    )
    valid = sum(1 for c in answer.citations if citation_is_valid(c, doc_text))
    on_evidence = 0
    supported = 0
    n_sentences = 0
    if answerable and not answer.abstained:
        by_marker = {c.marker: c for c in answer.citations}
        on_evidence = sum(
            1 for c in answer.citations if citation_on_evidence(c, gold_doc_id, spans)
        )
        n_sentences = len(answer.sentences)
        supported = sum(
            1
            for s in answer.sentences
            if any(
                m in by_marker and citation_on_evidence(by_marker[m], gold_doc_id, spans)
                for m in s.markers
            )
        )
    return QuestionRecord(
        id=question.id,
        category=question.category,
        question=question.question,
        answerable=answerable,
        abstained=answer.abstained,
        answer=answer.answer,
        short_answer=answer.short_answer,
        first_relevant_rank=rank if answerable else None,
        hit_at_1=(rank is not None and rank <= 1) if answerable else None,
        hit_at_5=(rank is not None and rank <= 5) if answerable else None,
        reciprocal_rank=(1.0 / rank if rank is not None else 0.0) if answerable else None,
        correct=answer_is_correct(answer, question) if answerable else None,
        citations=len(answer.citations),
        valid_citations=valid,
        citations_on_evidence=on_evidence,
        answer_sentences=n_sentences,
        supported_sentences=supported,
        latency_ms=round(latency_ms, 2),
    )


def failed_record(question: EvalQuestion, message: str, latency_ms: float) -> QuestionRecord:
    """The record of a question on which the system raised instead of answering."""
    answerable = question.answerable
    return QuestionRecord(
        id=question.id,
        category=question.category,
        question=question.question,
        answerable=answerable,
        abstained=False,
        answer="",
        error=message,
        hit_at_1=False if answerable else None,
        hit_at_5=False if answerable else None,
        reciprocal_rank=0.0 if answerable else None,
        correct=False if answerable else None,
        latency_ms=round(latency_ms, 2),
    )


def ratio(numerator: int | float, denominator: int | float) -> float | None:
    """``numerator / denominator``, or None when the denominator is 0."""
    return numerator / denominator if denominator else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100, linear interpolation), or None for no values."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def aggregate(records: Sequence[QuestionRecord]) -> Metrics:
    """The aggregate metrics of a group of records (see the module docstring)."""
    answerable = [r for r in records if r.answerable]
    unanswerable = [r for r in records if not r.answerable]
    answered = [r for r in answerable if not r.abstained and r.error is None]
    correct = sum(1 for r in answerable if r.correct)
    abstained_right = sum(1 for r in unanswerable if r.abstained)
    abstentions = sum(1 for r in records if r.abstained)
    latencies = [r.latency_ms for r in records]
    return Metrics(
        questions=len(records),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        errors=sum(1 for r in records if r.error is not None),
        answered=sum(1 for r in records if not r.abstained and r.error is None),
        abstained=abstentions,
        hit_at_1=_mean([1.0 if r.hit_at_1 else 0.0 for r in answerable]),
        hit_at_5=_mean([1.0 if r.hit_at_5 else 0.0 for r in answerable]),
        mrr=_mean([r.reciprocal_rank or 0.0 for r in answerable]),
        accuracy=ratio(correct, len(answerable)),
        precision=ratio(correct, len(answered)),
        abstention_recall=ratio(abstained_right, len(unanswerable)),
        abstention_precision=ratio(abstained_right, abstentions),
        citation_validity=ratio(
            sum(r.valid_citations for r in records), sum(r.citations for r in records)
        ),
        support=ratio(
            sum(r.supported_sentences for r in answered),
            sum(r.answer_sentences for r in answered),
        ),
        citation_precision=ratio(
            sum(r.citations_on_evidence for r in answered), sum(r.citations for r in answered)
        ),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
    )


def aggregate_by_category(
    records: Sequence[QuestionRecord], categories: Sequence[str]
) -> dict[str, Metrics]:
    """Aggregates per category, in the order of ``categories`` (empty ones included)."""
    return {
        category: aggregate([r for r in records if r.category == category])
        for category in categories
    }
