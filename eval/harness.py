"""Running the evaluation set through the question-answering system and measuring it.

Every question goes through :meth:`rag.system.QASystem.ask`, the path the CLI and the service
use. A configuration chooses the retrieval mode, ``k`` and, optionally, answerer settings to
override; an override builds a second :class:`QASystem` from a copy of the settings that shares
the store and the query encoder, so nothing is loaded twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from eval.corpora import ARTICLE_DOC_ID
from eval.dataset import CATEGORIES, EvalQuestion, EvalSet, EvalSetError, evidence_spans
from eval.metrics import (
    Metrics,
    QuestionRecord,
    Span,
    aggregate,
    aggregate_by_category,
    failed_record,
    score_answer,
)
from index.errors import RagError
from rag.models import Answer
from rag.settings import MAX_K, RetrievalMode, Settings
from rag.system import QASystem

logger = logging.getLogger(__name__)

SAMPLE_SEED = 20240601
"""Seed of :func:`sample_questions`, fixed so that a limited run is reproducible."""

OverrideValue = float | int | str | bool
T = TypeVar("T")


class EvalConfig(BaseModel):
    """One way of running the system: retrieval mode, passages, answerer settings."""

    name: str = Field(..., min_length=1)
    mode: RetrievalMode = "hybrid"
    k: int = Field(default=5, ge=1, le=MAX_K)
    overrides: dict[str, OverrideValue] = Field(
        default_factory=dict, description="Settings fields to change, e.g. abstain_threshold."
    )


DEFAULT_CONFIGS: tuple[EvalConfig, ...] = (
    EvalConfig(name="dense", mode="dense"),
    EvalConfig(name="lexical", mode="lexical"),
    EvalConfig(name="hybrid", mode="hybrid"),
)


class Failure(BaseModel):
    """A question the system got wrong: what was asked, expected and said."""

    id: str
    category: str
    question: str
    expected: str = Field(..., description="Gold answers, or 'abstain' when unanswerable.")
    said: str = Field(..., description="The system's answer text (or its error).")
    short_answer: str | None = None
    abstained: bool


class ConfigResult(BaseModel):
    """The measurements of one configuration."""

    config: EvalConfig
    overall: Metrics
    per_category: dict[str, Metrics]
    seconds: float
    failures: list[Failure]
    records: list[QuestionRecord]


class EvalReport(BaseModel):
    """Everything one evaluation run measured."""

    eval_set: str
    questions: int
    index_dir: str
    model: str
    documents: int
    chunks: int
    created: str
    results: list[ConfigResult]

    def result(self, name: str) -> ConfigResult:
        """The result of the configuration called ``name``."""
        for result in self.results:
            if result.config.name == name:
                return result
        known = ", ".join(r.config.name for r in self.results)
        raise EvalSetError(f"no configuration {name!r} in this report", hint=f"one of: {known}")


class SweepRow(BaseModel):
    value: OverrideValue
    metrics: Metrics


class SweepReport(BaseModel):
    """Answering and abstention metrics for each value of one setting."""

    param: str
    mode: RetrievalMode
    k: int
    rows: list[SweepRow]


QuestionCallback = Callable[[EvalConfig, QuestionRecord], None]


def deterministic_sample(items: Sequence[T], limit: int | None, seed: int = SAMPLE_SEED) -> list[T]:
    """``limit`` items drawn with a fixed seed, kept in their original order (all if None)."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit < 1:
        raise EvalSetError(f"limit must be at least 1, not {limit}", hint="e.g. --limit 300")
    chosen = set(random.Random(seed).sample(range(len(items)), limit))
    return [item for i, item in enumerate(items) if i in chosen]


def sample_questions(eval_set: EvalSet, limit: int | None, seed: int = SAMPLE_SEED) -> EvalSet:
    """A deterministic sample of ``limit`` questions, in their original order (all if None)."""
    if limit is None or limit >= len(eval_set.questions):
        return eval_set
    questions = deterministic_sample(eval_set.questions, limit, seed)
    return EvalSet(version=eval_set.version, questions=questions)


def apply_overrides(settings: Settings, overrides: dict[str, OverrideValue]) -> Settings:
    """A copy of ``settings`` with fields replaced, each value validated against its field."""
    if not overrides:
        return settings
    update: dict[str, Any] = {}
    for name, value in overrides.items():
        field = Settings.model_fields.get(name)
        if field is None or field.annotation is None:
            raise EvalSetError(
                f"unknown setting {name!r}",
                hint="use a field of rag.settings.Settings, e.g. abstain_threshold",
            )
        try:
            update[name] = TypeAdapter(field.annotation).validate_python(value)
        except ValidationError as exc:
            raise EvalSetError(
                f"invalid value {value!r} for setting {name}: {exc.errors()[0]['msg']}"
            ) from exc
    return settings.model_copy(update=update)


def system_for(system: QASystem, config: EvalConfig) -> QASystem:
    """``system`` itself, or one sharing its store and encoder with overridden settings."""
    if not config.overrides:
        return system
    return system.with_settings(apply_overrides(system.settings, config.overrides))


class DocTexts:
    """Document texts fetched from the index on first use (for citation checks)."""

    def __init__(self, system: QASystem) -> None:
        self._system = system
        self._texts: dict[str, str | None] = {}

    def __call__(self, doc_id: str) -> str | None:
        if doc_id not in self._texts:
            doc = self._system.get_document(doc_id)
            self._texts[doc_id] = doc.text if doc is not None else None
        return self._texts[doc_id]


def gold_spans(
    system: QASystem, eval_set: EvalSet, gold_doc_id: str
) -> tuple[dict[str, list[Span]], DocTexts]:
    """Each question's evidence spans, located in the gold document as the index stores it."""
    texts = DocTexts(system)
    article = texts(gold_doc_id)
    if article is None:
        raise EvalSetError(
            f"the index at {system.settings.index_dir} holds no document {gold_doc_id!r}",
            hint="evaluate an index built from the sample article (rag eval builds one)",
        )
    return {q.id: evidence_spans(q, article) for q in eval_set.questions}, texts


def timed_ask(
    system: QASystem, question_id: str, text: str, config: EvalConfig
) -> tuple[Answer | str, float]:
    """Ask as the service does: the answer (or the error, as text) and the latency in ms.

    A question that raises is recorded, not fatal: the run goes on.
    """
    t0 = time.perf_counter()
    try:
        answer: Answer | str = system.ask(text, k=config.k, mode=config.mode)
    except RagError as exc:
        logger.warning("question %s failed under %s: %s", question_id, config.name, exc)
        answer = f"{type(exc).__name__}: {exc}"
    return answer, (time.perf_counter() - t0) * 1000


def ask_and_score(
    system: QASystem,
    question: EvalQuestion,
    config: EvalConfig,
    *,
    gold_doc_id: str,
    spans: list[Span],
    doc_text: Callable[[str], str | None],
) -> QuestionRecord:
    """Ask one question the way the service does and measure the answer."""
    answer, latency = timed_ask(system, question.id, question.question, config)
    if isinstance(answer, str):
        return failed_record(question, answer, latency)
    return score_answer(
        question,
        answer,
        gold_doc_id=gold_doc_id,
        spans=spans,
        doc_text=doc_text,
        latency_ms=latency,
    )


def failure_of(question: EvalQuestion, record: QuestionRecord) -> Failure:
    expected = " | ".join(question.answers) if question.answerable else "abstain"
    if question.answerable and question.all_required:
        expected = "all of: " + expected
    return Failure(
        id=record.id,
        category=record.category,
        question=record.question,
        expected=expected,
        said=record.error if record.error is not None else record.answer,
        short_answer=record.short_answer,
        abstained=record.abstained,
    )


def evaluate_config(
    system: QASystem,
    eval_set: EvalSet,
    config: EvalConfig,
    *,
    gold_doc_id: str,
    spans: dict[str, list[Span]],
    doc_text: Callable[[str], str | None],
    on_question: QuestionCallback | None = None,
) -> ConfigResult:
    """Run every question of ``eval_set`` under one configuration."""
    target = system_for(system, config)
    t0 = time.perf_counter()
    records: list[QuestionRecord] = []
    for question in eval_set.questions:
        record = ask_and_score(
            target,
            question,
            config,
            gold_doc_id=gold_doc_id,
            spans=spans[question.id],
            doc_text=doc_text,
        )
        records.append(record)
        if on_question is not None:
            on_question(config, record)
    seconds = time.perf_counter() - t0
    by_id = {q.id: q for q in eval_set.questions}
    overall = aggregate(records)
    logger.info(
        "%s: accuracy %s, abstention recall %s, hit@5 %s in %.1f s",
        config.name,
        overall.accuracy,
        overall.abstention_recall,
        overall.hit_at_5,
        seconds,
    )
    return ConfigResult(
        config=config,
        overall=overall,
        per_category=aggregate_by_category(records, CATEGORIES),
        seconds=round(seconds, 2),
        failures=[failure_of(by_id[r.id], r) for r in records if not r.passed],
        records=records,
    )


def run_eval(
    system: QASystem,
    eval_set: EvalSet,
    configs: Sequence[EvalConfig] | None = None,
    *,
    gold_doc_id: str = ARTICLE_DOC_ID,
    on_question: QuestionCallback | None = None,
) -> EvalReport:
    """Evaluate ``system`` on ``eval_set`` under each configuration (default: dense, lexical,
    hybrid). ``gold_doc_id`` is the id of the article the set quotes, as indexed."""
    chosen = list(configs) if configs is not None else list(DEFAULT_CONFIGS)
    if not chosen:
        raise EvalSetError("no configurations to evaluate", hint="e.g. --configs dense,hybrid")
    names = [c.name for c in chosen]
    if len(set(names)) != len(names):
        raise EvalSetError(f"configuration names repeat: {', '.join(names)}")
    spans, doc_text = gold_spans(system, eval_set, gold_doc_id)
    results = [
        evaluate_config(
            system,
            eval_set,
            config,
            gold_doc_id=gold_doc_id,
            spans=spans,
            doc_text=doc_text,
            on_question=on_question,
        )
        for config in chosen
    ]
    stats = system.stats()
    return EvalReport(
        eval_set=eval_set.version,
        questions=len(eval_set.questions),
        index_dir=str(system.settings.index_dir),
        model=stats.model,
        documents=stats.documents,
        chunks=stats.chunks,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        results=results,
    )


def sweep(
    system: QASystem,
    eval_set: EvalSet,
    param: str,
    values: Sequence[OverrideValue],
    *,
    mode: RetrievalMode = "hybrid",
    k: int = 5,
    gold_doc_id: str = ARTICLE_DOC_ID,
    on_question: QuestionCallback | None = None,
) -> SweepReport:
    """Run the set once per value of setting ``param`` (e.g. ``abstain_threshold``) to calibrate
    it: accuracy, precision and abstention recall/precision for each value."""
    if not values:
        raise EvalSetError(f"no values to sweep {param} over", hint=f"e.g. {param}=0.3,0.4,0.5")
    configs = [
        EvalConfig(name=f"{param}={value}", mode=mode, k=k, overrides={param: value})
        for value in values
    ]
    for config in configs:  # fail on a bad name or value before answering anything
        apply_overrides(system.settings, config.overrides)
    report = run_eval(system, eval_set, configs, gold_doc_id=gold_doc_id, on_question=on_question)
    rows = [
        SweepRow(value=value, metrics=result.overall)
        for value, result in zip(values, report.results, strict=True)
    ]
    return SweepReport(param=param, mode=mode, k=k, rows=rows)
