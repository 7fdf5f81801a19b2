"""The policy-qa benchmark: foreign-policy questions over the shared corpora, asked as analysts ask.

Questions come from ``benchmarks/policy-qa/{train,validation}.jsonl`` (``id``, ``doc_id``,
``category``, ``question``, ``answers``, ``evidence``, ``answerable``, ``all_required``,
``answer_type``); they are asked through :meth:`rag.system.QASystem.ask` over an index of the
sample article and both corpora. Definitions:

* a question is *answered* when the system neither abstained nor raised;
* an answerable question is *correct* when it is answered and its answer text (the cited
  sentences, without markers, plus the short answer) contains a gold answer — any of them, or
  every one when ``all_required`` — compared without case, with whitespace collapsed and curly
  quotes and dashes read as straight ones; a gold string also matches with its double quotes (and
  its enclosing single quotes) stripped, and it must start and end at word boundaries
  (``2022`` does not match ``20221``);
* accuracy = correct / answerable; precision = correct / answered (answerable *and*
  unanswerable questions answered: answering an unanswerable question costs precision);
* declined (unanswerable) = abstentions among the near-miss and false-premise questions /
  those questions; declined (answerable) = abstentions among answerable questions / answerable;
* gold document cited = answerable questions answered with a citation of their ``doc_id`` /
  answerable (a declined question cites nothing); gold document retrieved = answerable questions
  whose ``doc_id`` is among the retrieved passages / answerable;
* citation validity = citations whose quote equals the document text at its span / citations
  (every citation of every answer, as :func:`eval.metrics.citation_is_valid` checks it);
* latency p50/p95 of :meth:`~rag.system.QASystem.ask` over every question.

Per category, the same figures over that category's questions (accuracy for the answerable
categories, declined for the two unanswerable kinds). :data:`TARGETS` holds the floor and goal of
each headline figure (issue 25); the report marks which are met.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from eval.corpora import shared_file
from eval.dataset import EvalSetError
from eval.harness import DocTexts
from eval.metrics import DocTextLookup, citation_is_valid, percentile, ratio
from index.errors import RagError
from rag.models import Answer
from rag.settings import RetrievalMode
from rag.system import QASystem

logger = logging.getLogger(__name__)

POLICY_QA_DIR = "benchmarks/policy-qa"
Split = Literal["train", "validation"]
SPLITS: tuple[Split, ...] = get_args(Split)

PolicyCategory = Literal[
    "factual",
    "paraphrase",
    "attribution",
    "list",
    "number-date",
    "multi-sentence",
    "position",
    "near-miss",
    "false-premise",
]
ANSWERABLE_CATEGORIES: tuple[PolicyCategory, ...] = (
    "factual",
    "paraphrase",
    "attribution",
    "list",
    "number-date",
    "multi-sentence",
    "position",
)
UNANSWERABLE_KINDS: tuple[PolicyCategory, ...] = ("near-miss", "false-premise")
CATEGORIES: tuple[PolicyCategory, ...] = get_args(PolicyCategory)
"""Every category, in the order reports list them (answerable ones first)."""


class PolicyQuestion(BaseModel):
    """One benchmark question."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(..., min_length=1)
    doc_id: str = Field(..., min_length=1, description="The corpus document that answers it.")
    category: PolicyCategory
    question: str = Field(..., min_length=1)
    answers: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    answerable: bool
    all_required: bool = False
    answer_type: str | None = None

    @model_validator(mode="after")
    def _answers_fit(self) -> PolicyQuestion:
        if self.answerable and not any(a.strip() for a in self.answers):
            raise ValueError("an answerable question needs at least one gold answer")
        if self.answerable != (self.category not in UNANSWERABLE_KINDS):
            raise ValueError(
                f"category {self.category} disagrees with answerable={self.answerable}"
            )
        return self


class PolicyQARecord(BaseModel):
    """What was measured for one question."""

    id: str
    doc_id: str
    category: str
    question: str
    answerable: bool
    all_required: bool = False
    gold: list[str] = Field(default_factory=list)
    abstained: bool
    error: str | None = Field(default=None, description="The error the system raised, if any.")
    answer: str = Field("", description="The answer text without citation markers.")
    short_answer: str | None = None
    correct: bool | None = Field(default=None, description="None for unanswerable questions.")
    cited_docs: list[str] = Field(default_factory=list, description="Cited documents, in order.")
    gold_doc_cited: bool = False
    gold_doc_rank: int | None = Field(
        default=None, description="1-based rank of the first passage from doc_id; None if none."
    )
    citations: int = 0
    valid_citations: int = 0
    latency_ms: float = 0.0

    @property
    def answered(self) -> bool:
        return not self.abstained and self.error is None

    @property
    def passed(self) -> bool:
        """Right answer to an answerable question, or abstention on an unanswerable one."""
        if self.error is not None:
            return False
        return bool(self.correct) if self.answerable else self.abstained


class PolicyQAMetrics(BaseModel):
    """Aggregates over a group of records; ``None`` means undefined (0 denominator)."""

    questions: int = 0
    answerable: int = 0
    unanswerable: int = 0
    errors: int = 0
    answered: int = Field(default=0, description="Neither abstained nor failed.")
    abstained: int = 0
    correct: int = 0
    accuracy: float | None = Field(default=None, description="Correct / answerable.")
    precision: float | None = Field(default=None, description="Correct / answered (all kinds).")
    unanswerable_declined: float | None = Field(
        default=None, description="Abstentions among unanswerable questions / unanswerable."
    )
    answerable_declined: float | None = Field(
        default=None, description="Abstentions among answerable questions / answerable."
    )
    gold_doc_cited: float | None = Field(
        default=None, description="Answerable questions answered citing their doc_id / answerable."
    )
    gold_doc_retrieved: float | None = Field(
        default=None, description="Answerable questions with doc_id among the passages."
    )
    citation_validity: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None


class PolicyQAFailure(BaseModel):
    """A question the system got wrong: what was asked, expected and said."""

    id: str
    category: str
    doc_id: str
    question: str
    expected: str = Field(..., description="Gold answers, or 'abstain' when unanswerable.")
    said: str = Field(..., description="The system's answer text (or its error).")
    short_answer: str | None = None
    abstained: bool
    cited_docs: list[str] = Field(default_factory=list)


class Target(BaseModel):
    """A headline figure with its floor and goal (issue 25)."""

    label: str
    category: str | None = Field(default=None, description="None: the overall figure.")
    metric: str
    floor: float
    goal: float
    higher_is_better: bool = True


TARGETS: tuple[Target, ...] = (
    Target(label="accuracy", metric="accuracy", floor=0.65, goal=0.80),
    Target(
        label="paraphrase accuracy", category="paraphrase", metric="accuracy", floor=0.50, goal=0.70
    ),
    Target(
        label="position accuracy", category="position", metric="accuracy", floor=0.55, goal=0.75
    ),
    Target(label="precision", metric="precision", floor=0.85, goal=0.90),
    Target(
        label="near-miss + false-premise declined",
        metric="unanswerable_declined",
        floor=0.60,
        goal=0.75,
    ),
    Target(
        label="answerable declined",
        metric="answerable_declined",
        floor=0.15,
        goal=0.08,
        higher_is_better=False,
    ),
    Target(label="gold document cited", metric="gold_doc_cited", floor=0.80, goal=0.90),
    Target(label="citation validity", metric="citation_validity", floor=1.0, goal=1.0),
)


class TargetResult(BaseModel):
    label: str
    value: float | None
    floor: float
    goal: float
    higher_is_better: bool = True
    floor_met: bool
    goal_met: bool


class PolicyQAReport(BaseModel):
    """Everything one policy-qa run measured."""

    benchmark: str = "policy-qa"
    split: str | None = None
    questions: int
    sample_seed: int | None = None
    index_dir: str
    model: str = Field(..., description="The embedding model of the index.")
    answer_model: str = Field(..., description="The answer model folder, or 'bundled'.")
    documents: int
    chunks: int
    k: int | None = Field(default=None, description="Passages per question (None: the default).")
    mode: str | None = Field(default=None, description="Retrieval mode (None: the default).")
    created: str
    seconds: float
    metrics: PolicyQAMetrics
    per_category: dict[str, PolicyQAMetrics]
    targets: list[TargetResult]
    failures: list[PolicyQAFailure]
    records: list[PolicyQARecord]

    @property
    def floors_met(self) -> bool:
        return all(t.floor_met for t in self.targets)


# --- loading --------------------------------------------------------------------------------------
def policy_qa_path(shared_dir: Path | None, split: str = "validation") -> Path:
    """``<shared>/benchmarks/policy-qa/<split>.jsonl`` (:class:`CorpusError` when missing)."""
    if split not in SPLITS:
        raise EvalSetError(f"unknown policy-qa split {split!r}", hint="use train or validation")
    return shared_file(shared_dir, f"{POLICY_QA_DIR}/{split}.jsonl")


def load_policy_qa(path: Path) -> list[PolicyQuestion]:
    """Read a policy-qa JSONL file; raises :class:`EvalSetError` naming the line of a bad one."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalSetError(
            f"cannot read policy-qa questions {path}: {exc}",
            hint="check --shared; it needs benchmarks/policy-qa/validation.jsonl",
        ) from exc
    questions: list[PolicyQuestion] = []
    for line_no, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            questions.append(PolicyQuestion.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise EvalSetError(
                f"{path}:{line_no}: not a valid policy-qa question: {exc}",
                hint="the file must hold one JSON question per line",
            ) from exc
    if not questions:
        raise EvalSetError(f"{path} holds no questions")
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise EvalSetError(f"{path}: question ids repeat")
    return questions


# --- matching -------------------------------------------------------------------------------------
_QUOTES_AND_DASHES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
    }
)
_WHITESPACE_RE = re.compile(r"\s+")


def normalize_match_text(text: str) -> str:
    """Case-folded, curly quotes and dashes made straight, whitespace collapsed to one space."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_QUOTES_AND_DASHES)
    return _WHITESPACE_RE.sub(" ", text).strip()


def gold_variants(gold: str) -> list[str]:
    """The normalised gold string, and the same without double quotes and enclosing single
    quotes (``“Lives safe”`` also matches ``Lives safe``); empty variants are dropped."""
    base = normalize_match_text(gold)
    bare = normalize_match_text(base.replace('"', " ").strip().strip("'"))
    return [v for v in dict.fromkeys((base, bare)) if v]


def _occurs(needle: str, haystack: str) -> bool:
    """``needle`` in ``haystack``, not starting or ending inside a word."""
    start = haystack.find(needle)
    while start >= 0:
        end = start + len(needle)
        left_ok = not needle[0].isalnum() or start == 0 or not haystack[start - 1].isalnum()
        right_ok = not needle[-1].isalnum() or end == len(haystack) or not haystack[end].isalnum()
        if left_ok and right_ok:
            return True
        start = haystack.find(needle, start + 1)
    return False


def contains_answer(text: str, gold: str) -> bool:
    """Whether ``text`` contains ``gold`` (any variant of :func:`gold_variants`)."""
    haystack = normalize_match_text(text)
    return any(_occurs(variant, haystack) for variant in gold_variants(gold))


def gold_found(text: str, answers: Sequence[str], *, all_required: bool = False) -> bool:
    """Any gold answer in ``text`` (every one when ``all_required``); False without answers."""
    golds = [g for g in answers if g.strip()]
    if not golds:
        return False
    found = (contains_answer(text, g) for g in golds)
    return all(found) if all_required else any(found)


def answer_text(answer: Answer) -> str:
    """What correctness reads: the answer's sentences without markers, plus the short answer."""
    return answer.answer_plain + "\n" + (answer.short_answer or "")


# --- scoring --------------------------------------------------------------------------------------
def score_policy_answer(
    question: PolicyQuestion, answer: Answer, *, doc_text: DocTextLookup, latency_ms: float
) -> PolicyQARecord:
    """Measure one answer to a benchmark question."""
    answered = not answer.abstained
    cited = list(dict.fromkeys(c.doc_id for c in answer.citations))
    rank = next(
        (i for i, p in enumerate(answer.passages, start=1) if p.doc_id == question.doc_id), None
    )
    correct: bool | None = None
    if question.answerable:
        correct = answered and gold_found(
            answer_text(answer), question.answers, all_required=question.all_required
        )
    return PolicyQARecord(
        id=question.id,
        doc_id=question.doc_id,
        category=question.category,
        question=question.question,
        answerable=question.answerable,
        all_required=question.all_required,
        gold=list(question.answers),
        abstained=answer.abstained,
        answer=answer.answer_plain,
        short_answer=answer.short_answer,
        correct=correct,
        cited_docs=cited if answered else [],
        gold_doc_cited=answered and question.doc_id in cited,
        gold_doc_rank=rank,
        citations=len(answer.citations),
        valid_citations=sum(1 for c in answer.citations if citation_is_valid(c, doc_text)),
        latency_ms=round(latency_ms, 2),
    )


def failed_policy_record(
    question: PolicyQuestion, message: str, latency_ms: float
) -> PolicyQARecord:
    """The record of a question on which the system raised instead of answering."""
    return PolicyQARecord(
        id=question.id,
        doc_id=question.doc_id,
        category=question.category,
        question=question.question,
        answerable=question.answerable,
        all_required=question.all_required,
        gold=list(question.answers),
        abstained=False,
        error=message,
        correct=False if question.answerable else None,
        latency_ms=round(latency_ms, 2),
    )


def _share(
    records: Sequence[PolicyQARecord], test: Callable[[PolicyQARecord], bool]
) -> float | None:
    return ratio(sum(1 for r in records if test(r)), len(records))


def aggregate_policy_qa(records: Sequence[PolicyQARecord]) -> PolicyQAMetrics:
    """The aggregate figures of a group of records (see the module docstring)."""
    answerable = [r for r in records if r.answerable]
    unanswerable = [r for r in records if not r.answerable]
    answered = [r for r in records if r.answered]
    correct = sum(1 for r in answerable if r.correct)
    latencies = [r.latency_ms for r in records]
    return PolicyQAMetrics(
        questions=len(records),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        errors=sum(1 for r in records if r.error is not None),
        answered=len(answered),
        abstained=sum(1 for r in records if r.abstained),
        correct=correct,
        accuracy=ratio(correct, len(answerable)),
        precision=ratio(correct, len(answered)),
        unanswerable_declined=_share(unanswerable, lambda r: r.abstained),
        answerable_declined=_share(answerable, lambda r: r.abstained),
        gold_doc_cited=_share(answerable, lambda r: r.gold_doc_cited),
        gold_doc_retrieved=_share(answerable, lambda r: r.gold_doc_rank is not None),
        citation_validity=ratio(
            sum(r.valid_citations for r in records), sum(r.citations for r in records)
        ),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
    )


def aggregate_by_category(records: Sequence[PolicyQARecord]) -> dict[str, PolicyQAMetrics]:
    """Aggregates per category in :data:`CATEGORIES` order (empty ones left out)."""
    return {
        category: aggregate_policy_qa(group)
        for category in CATEGORIES
        if (group := [r for r in records if r.category == category])
    }


def _meets(value: float | None, bound: float, *, higher: bool) -> bool:
    if value is None:
        return False
    return value >= bound - 1e-12 if higher else value <= bound + 1e-12


def check_targets(
    metrics: PolicyQAMetrics, per_category: dict[str, PolicyQAMetrics]
) -> list[TargetResult]:
    """Each :data:`TARGETS` figure with whether its floor and goal are met (an undefined figure
    meets neither)."""
    results: list[TargetResult] = []
    for target in TARGETS:
        source = metrics if target.category is None else per_category.get(target.category)
        value = getattr(source, target.metric) if source is not None else None

        results.append(
            TargetResult(
                label=target.label,
                value=value,
                floor=target.floor,
                goal=target.goal,
                higher_is_better=target.higher_is_better,
                floor_met=_meets(value, target.floor, higher=target.higher_is_better),
                goal_met=_meets(value, target.goal, higher=target.higher_is_better),
            )
        )
    return results


def failure_of(record: PolicyQARecord) -> PolicyQAFailure:
    expected = " | ".join(record.gold) if record.answerable else "abstain"
    if record.answerable and record.all_required:
        expected = "all of: " + expected
    return PolicyQAFailure(
        id=record.id,
        category=record.category,
        doc_id=record.doc_id,
        question=record.question,
        expected=expected,
        said=record.error if record.error is not None else record.answer,
        short_answer=record.short_answer,
        abstained=record.abstained,
        cited_docs=record.cited_docs,
    )


# --- running --------------------------------------------------------------------------------------
ProgressCallback = Callable[[PolicyQARecord], None]


def ask_policy_question(
    system: QASystem,
    question: PolicyQuestion,
    *,
    doc_text: DocTextLookup,
    k: int | None = None,
    mode: RetrievalMode | None = None,
) -> PolicyQARecord:
    """Ask one question through :meth:`QASystem.ask` (the service's path) and measure it. A
    question that raises is recorded as an error, not fatal."""
    t0 = time.perf_counter()
    try:
        answer = system.ask(question.question, k=k, mode=mode)
    except RagError as exc:
        latency = (time.perf_counter() - t0) * 1000
        logger.warning("policy-qa question %s failed: %s", question.id, exc)
        return failed_policy_record(question, f"{type(exc).__name__}: {exc}", latency)
    latency = (time.perf_counter() - t0) * 1000
    return score_policy_answer(question, answer, doc_text=doc_text, latency_ms=latency)


def evaluate_policy_qa(
    system: QASystem,
    questions: Sequence[PolicyQuestion],
    *,
    k: int | None = None,
    mode: RetrievalMode | None = None,
    split: str | None = None,
    sample_seed: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> PolicyQAReport:
    """Ask every question of ``questions`` through ``system`` and measure the answers.

    ``k`` and ``mode`` default to the system's settings (what ``rag ask`` and ``/ask`` use).
    ``on_progress`` is called with each question's record as it is scored. Warm the system up
    first (:meth:`QASystem.warm_up`) for latencies that do not include loading.
    """
    doc_text = DocTexts(system)
    records: list[PolicyQARecord] = []
    t0 = time.perf_counter()
    for question in questions:
        record = ask_policy_question(system, question, doc_text=doc_text, k=k, mode=mode)
        records.append(record)
        if on_progress is not None:
            on_progress(record)
    seconds = time.perf_counter() - t0
    metrics = aggregate_policy_qa(records)
    per_category = aggregate_by_category(records)
    logger.info(
        "policy-qa: accuracy %s, precision %s, unanswerable declined %s in %.1f s",
        metrics.accuracy,
        metrics.precision,
        metrics.unanswerable_declined,
        seconds,
    )
    stats = system.stats()
    model_dir = system.settings.answer_model_dir
    return PolicyQAReport(
        split=split,
        questions=len(records),
        sample_seed=sample_seed,
        index_dir=str(system.settings.index_dir),
        model=stats.model,
        answer_model=str(model_dir) if model_dir is not None else "bundled",
        documents=stats.documents,
        chunks=stats.chunks,
        k=k,
        mode=mode,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        seconds=round(seconds, 2),
        metrics=metrics,
        per_category=per_category,
        targets=check_targets(metrics, per_category),
        failures=[failure_of(r) for r in records if not r.passed],
        records=records,
    )
