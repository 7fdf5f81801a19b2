"""The SQuAD politics benchmark: 302 Wikipedia paragraphs and 2,996 questions about them.

Questions come from ``benchmarks/squad-politics/questions.jsonl`` (``question``, ``answers``,
``answerable``, ``gold_doc_id``); the index is built from its ``documents.jsonl``. Retrieval is
scored like the article set, a passage being relevant when it comes from the gold paragraph.
Answers get SQuAD's exact match and token F1 (standard normalisation: lowercase, no punctuation,
no articles, single spaces) between the system's short answer (or, without one, its first answer
sentence) and the best gold answer, and a looser "contains" score: a gold answer occurs in the
answer text. Unanswerable questions score the abstentions.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import string
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eval.dataset import EvalSetError
from eval.harness import DEFAULT_CONFIGS, DocTexts, EvalConfig, system_for, timed_ask
from eval.metrics import DocTextLookup, citation_is_valid, first_relevant_rank, percentile, ratio
from rag.models import Answer
from rag.system import QASystem

logger = logging.getLogger(__name__)

_MARKER_RE = re.compile(r"\s*\[\d+\]")
_ARTICLES_RE = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


class SquadQuestion(BaseModel):
    """One benchmark question."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(..., min_length=1)
    question: str = Field(..., min_length=1)
    answers: list[str] = Field(default_factory=list)
    answerable: bool
    gold_doc_id: str = Field(..., min_length=1)


class SquadRecord(BaseModel):
    """What was measured for one question under one configuration."""

    id: str
    question: str
    answerable: bool
    gold_doc_id: str
    gold: list[str]
    abstained: bool
    answer: str
    prediction: str = Field(..., description="Short answer, else the first answer sentence.")
    error: str | None = None
    first_relevant_rank: int | None = None
    hit_at_1: bool | None = None
    hit_at_5: bool | None = None
    reciprocal_rank: float | None = None
    exact_match: float | None = None
    f1: float | None = None
    contains: bool | None = None
    citations: int = 0
    valid_citations: int = 0
    latency_ms: float = 0.0

    @property
    def passed(self) -> bool:
        if self.error is not None:
            return False
        return bool(self.contains) if self.answerable else self.abstained


class SquadMetrics(BaseModel):
    """Aggregates over benchmark records; ``None`` means undefined (0 denominator)."""

    questions: int = 0
    answerable: int = 0
    unanswerable: int = 0
    errors: int = 0
    hit_at_1: float | None = None
    hit_at_5: float | None = None
    mrr: float | None = None
    exact_match: float | None = Field(
        default=None, description="Mean EM over answerable questions."
    )
    f1: float | None = Field(default=None, description="Mean F1 over answerable questions.")
    contains_accuracy: float | None = Field(
        default=None, description="Answerable questions whose answer text holds a gold answer."
    )
    contains_precision: float | None = Field(
        default=None, description="The same, over the answerable questions the system answered."
    )
    abstention_recall: float | None = None
    abstention_precision: float | None = None
    citation_validity: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None


class SquadFailure(BaseModel):
    """A question the system got wrong: what was asked, expected and said."""

    id: str
    question: str
    expected: str = Field(..., description="Gold answers, or 'abstain' when unanswerable.")
    said: str = Field(..., description="The system's answer text (or its error).")
    prediction: str


class SquadResult(BaseModel):
    config: EvalConfig
    metrics: SquadMetrics
    seconds: float
    failures: list[SquadFailure]
    records: list[SquadRecord]


class SquadReport(BaseModel):
    benchmark: str = "squad-politics"
    questions: int
    sample_seed: int | None
    index_dir: str
    model: str
    documents: int
    chunks: int
    created: str
    results: list[SquadResult]


# --- SQuAD's scoring ------------------------------------------------------------------------------
def normalize_squad(text: str) -> str:
    """SQuAD's normalisation: lowercase, drop punctuation and articles, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = _ARTICLES_RE.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_squad(prediction) == normalize_squad(gold))


def token_f1(prediction: str, gold: str) -> float:
    """Token-overlap F1 of the normalised strings (1.0 when both are empty)."""
    pred_tokens = normalize_squad(prediction).split()
    gold_tokens = normalize_squad(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def best_over_gold(
    metric: Callable[[str, str], float], prediction: str, gold: Sequence[str]
) -> float:
    """The metric against the best-matching gold answer (0.0 without gold answers)."""
    return max((metric(prediction, g) for g in gold), default=0.0)


def contains_gold(text: str, gold: Sequence[str]) -> bool:
    """Whether any gold answer occurs in ``text`` as whole words, both sides normalised."""
    haystack = f" {normalize_squad(text)} "
    return any(f" {needle} " in haystack for needle in (normalize_squad(g) for g in gold) if needle)


def prediction_of(answer: Answer) -> str:
    """The short answer, else the first answer sentence (without markers); '' on abstention."""
    if answer.abstained:
        return ""
    if answer.short_answer:
        return answer.short_answer
    if answer.sentences:
        return _MARKER_RE.sub("", answer.sentences[0].text).strip()
    return _MARKER_RE.sub("", answer.answer).strip()


# --- loading --------------------------------------------------------------------------------------
def load_squad_questions(path: Path) -> list[SquadQuestion]:
    """Read ``questions.jsonl``; raises :class:`EvalSetError` naming the line of a bad record."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalSetError(
            f"cannot read benchmark questions {path}: {exc}",
            hint="check --shared; it needs benchmarks/squad-politics/questions.jsonl",
        ) from exc
    questions: list[SquadQuestion] = []
    for line_no, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            questions.append(SquadQuestion.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise EvalSetError(
                f"{path}:{line_no}: not a valid benchmark question: {exc}",
                hint="the file must hold one JSON question per line",
            ) from exc
    if not questions:
        raise EvalSetError(f"{path} holds no questions")
    return questions


# --- scoring and running --------------------------------------------------------------------------
def score_squad_answer(
    question: SquadQuestion, answer: Answer, *, doc_text: DocTextLookup, latency_ms: float
) -> SquadRecord:
    """Measure one answer to a benchmark question."""
    answerable = question.answerable
    prediction = prediction_of(answer)
    rank = first_relevant_rank(answer.passages, lambda p: p.doc_id == question.gold_doc_id)
    full_text = answer.answer + " " + (answer.short_answer or "")
    return SquadRecord(
        id=question.id,
        question=question.question,
        answerable=answerable,
        gold_doc_id=question.gold_doc_id,
        gold=list(question.answers),
        abstained=answer.abstained,
        answer=answer.answer,
        prediction=prediction,
        first_relevant_rank=rank,
        hit_at_1=(rank is not None and rank <= 1) if answerable else None,
        hit_at_5=(rank is not None and rank <= 5) if answerable else None,
        reciprocal_rank=(1.0 / rank if rank is not None else 0.0) if answerable else None,
        exact_match=best_over_gold(exact_match, prediction, question.answers)
        if answerable and prediction
        else (0.0 if answerable else None),
        f1=best_over_gold(token_f1, prediction, question.answers)
        if answerable and prediction
        else (0.0 if answerable else None),
        contains=(not answer.abstained and contains_gold(full_text, question.answers))
        if answerable
        else None,
        citations=len(answer.citations),
        valid_citations=sum(1 for c in answer.citations if citation_is_valid(c, doc_text)),
        latency_ms=round(latency_ms, 2),
    )


def _failed(question: SquadQuestion, message: str, latency_ms: float) -> SquadRecord:
    answerable = question.answerable
    return SquadRecord(
        id=question.id,
        question=question.question,
        answerable=answerable,
        gold_doc_id=question.gold_doc_id,
        gold=list(question.answers),
        abstained=False,
        answer="",
        prediction="",
        error=message,
        hit_at_1=False if answerable else None,
        hit_at_5=False if answerable else None,
        reciprocal_rank=0.0 if answerable else None,
        exact_match=0.0 if answerable else None,
        f1=0.0 if answerable else None,
        contains=False if answerable else None,
        latency_ms=round(latency_ms, 2),
    )


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def aggregate_squad(records: Sequence[SquadRecord]) -> SquadMetrics:
    answerable = [r for r in records if r.answerable]
    unanswerable = [r for r in records if not r.answerable]
    answered = [r for r in answerable if not r.abstained and r.error is None]
    contained = sum(1 for r in answerable if r.contains)
    abstained_right = sum(1 for r in unanswerable if r.abstained)
    return SquadMetrics(
        questions=len(records),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        errors=sum(1 for r in records if r.error is not None),
        hit_at_1=_mean([1.0 if r.hit_at_1 else 0.0 for r in answerable]),
        hit_at_5=_mean([1.0 if r.hit_at_5 else 0.0 for r in answerable]),
        mrr=_mean([r.reciprocal_rank or 0.0 for r in answerable]),
        exact_match=_mean([r.exact_match or 0.0 for r in answerable]),
        f1=_mean([r.f1 or 0.0 for r in answerable]),
        contains_accuracy=ratio(contained, len(answerable)),
        contains_precision=ratio(contained, len(answered)),
        abstention_recall=ratio(abstained_right, len(unanswerable)),
        abstention_precision=ratio(abstained_right, sum(1 for r in records if r.abstained)),
        citation_validity=ratio(
            sum(r.valid_citations for r in records), sum(r.citations for r in records)
        ),
        latency_p50_ms=percentile([r.latency_ms for r in records], 50),
        latency_p95_ms=percentile([r.latency_ms for r in records], 95),
    )


def failure_of(record: SquadRecord) -> SquadFailure:
    return SquadFailure(
        id=record.id,
        question=record.question,
        expected=" | ".join(record.gold) if record.answerable else "abstain",
        said=record.error if record.error is not None else record.answer,
        prediction=record.prediction,
    )


SquadCallback = Callable[[EvalConfig, SquadRecord], None]


def run_squad(
    system: QASystem,
    questions: Sequence[SquadQuestion],
    configs: Sequence[EvalConfig] | None = None,
    *,
    sample_seed: int | None = None,
    on_question: SquadCallback | None = None,
) -> SquadReport:
    """Ask every benchmark question through :meth:`QASystem.ask` under each configuration."""
    chosen = list(configs) if configs is not None else list(DEFAULT_CONFIGS)
    if not chosen:
        raise EvalSetError("no configurations to evaluate", hint="e.g. --configs dense,hybrid")
    doc_text = DocTexts(system)
    results: list[SquadResult] = []
    for config in chosen:
        target = system_for(system, config)
        records: list[SquadRecord] = []
        t0 = time.perf_counter()
        for question in questions:
            answer, latency = timed_ask(target, question.id, question.question, config)
            if isinstance(answer, str):
                record = _failed(question, answer, latency)
            else:
                record = score_squad_answer(question, answer, doc_text=doc_text, latency_ms=latency)
            records.append(record)
            if on_question is not None:
                on_question(config, record)
        seconds = time.perf_counter() - t0
        metrics = aggregate_squad(records)
        logger.info(
            "squad %s: F1 %s, contains %s, abstention recall %s in %.1f s",
            config.name,
            metrics.f1,
            metrics.contains_accuracy,
            metrics.abstention_recall,
            seconds,
        )
        results.append(
            SquadResult(
                config=config,
                metrics=metrics,
                seconds=round(seconds, 2),
                failures=[failure_of(r) for r in records if not r.passed],
                records=records,
            )
        )
    stats = system.stats()
    return SquadReport(
        questions=len(questions),
        sample_seed=sample_seed,
        index_dir=str(system.settings.index_dir),
        model=stats.model,
        documents=stats.documents,
        chunks=stats.chunks,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        results=results,
    )
