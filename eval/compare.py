"""The compare set: questions asked of several countries (or sessions, or years) at once, with
the gold of every cell, run through :meth:`rag.system.QASystem.compare`.

``eval/data/compare.v1.jsonl`` holds one question a line: ``id``, ``question``, ``by``,
``filters``, ``groups`` and ``cells`` — for each group either ``{"doc_id", "answer": [...]}``
(the group's statement speaks to the question: the cell must answer, cite ``doc_id`` and hold one
of the ``answer`` strings) or ``"decline"`` (the statement never names the topic: the cell must
decline). The gold was looked up in the UN General Debate corpus (``scripts/make_compare_set.py``).

Definitions:

* an answer cell is *right* when the row is answered, cites its gold ``doc_id`` and its answer
  text (sentences plus short answer) holds one of the gold strings (no case, whitespace
  collapsed, curly quotes straight);
* a decline cell is *right* when the row declined (a *silent group declined*);
* cell accuracy = right cells / cells; answer cells right = right answer cells / answer cells;
  silent declined = right decline cells / decline cells;
* citation validity = citations whose quote equals the document text at its span *and* whose
  document belongs to the row's group / citations (every citation of every row);
* per question: its cell accuracy, and whether every cell is right; latency p50/p95 of the whole
  comparison.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from eval.dataset import EvalSetError
from eval.harness import DocTexts
from eval.metrics import citation_is_valid, percentile, ratio
from eval.policy_qa import answer_text, normalize_match_text
from index.errors import RagError
from rag.compare import Comparison, ComparisonRow
from rag.system import QASystem

COMPARE_SET = Path(__file__).resolve().parent / "data" / "compare.v1.jsonl"
#: Issue 27's floors.
FLOORS = {"cell_accuracy": 0.80, "silent_declined": 0.80, "citation_validity": 1.0}


class GoldAnswer(BaseModel):
    doc_id: str = Field(..., description="The group's statement that answers.")
    answer: list[str] = Field(..., min_length=1, description="One must be in the answer.")


class CompareQuestion(BaseModel):
    id: str
    question: str
    by: str
    filters: dict[str, Any] = Field(default_factory=dict)
    groups: list[str] = Field(..., min_length=1)
    cells: dict[str, GoldAnswer | Literal["decline"]]


class CellRecord(BaseModel):
    question_id: str
    group: str
    gold: Literal["answer", "decline"]
    status: str
    right: bool
    confidence: float
    said: str = ""
    cited: list[str] = Field(default_factory=list)
    citations: int = 0
    valid_citations: int = 0


class QuestionResult(BaseModel):
    id: str
    question: str
    by: str
    cells: int
    right: int
    cell_accuracy: float | None
    all_right: bool
    latency_ms: float
    error: str | None = None


class CompareMetrics(BaseModel):
    questions: int
    cells: int
    answer_cells: int
    decline_cells: int
    cell_accuracy: float | None = Field(None, description="Right cells / cells.")
    answer_cells_right: float | None = Field(None, description="Right answer cells / answer.")
    silent_declined: float | None = Field(None, description="Declined / decline cells.")
    citation_validity: float | None = Field(None, description="Valid citations / citations.")
    citations: int = 0
    questions_all_right: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    errors: int = 0


class CompareReport(BaseModel):
    eval_set: str
    metrics: CompareMetrics
    by_key: dict[str, CompareMetrics] = Field(default_factory=dict)
    questions: list[QuestionResult] = Field(default_factory=list)
    cells: list[CellRecord] = Field(default_factory=list)
    floors_met: dict[str, bool] = Field(default_factory=dict)


def load_compare_set(path: Path | None = None) -> list[CompareQuestion]:
    """The compare set (the packaged one by default); :class:`EvalSetError` naming a bad line."""
    path = path or COMPARE_SET
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalSetError(f"cannot read the compare set {path}: {exc.strerror or exc}") from exc
    out: list[CompareQuestion] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = CompareQuestion.model_validate(json.loads(line))
        except (ValueError, ValidationError) as exc:
            raise EvalSetError(f"{path.name} line {n}: {str(exc).splitlines()[0]}") from exc
        missing = [g for g in item.groups if g not in item.cells]
        if missing:
            raise EvalSetError(f"{path.name} line {n}: no gold cell for {', '.join(missing)}")
        out.append(item)
    if not out:
        raise EvalSetError(f"the compare set {path} holds no question")
    return out


def _in_group(doc_meta: dict[str, Any], date: str | None, by: str, group: str) -> bool:
    if by in ("date", "year"):
        return (date or "")[:4] == group
    value = doc_meta.get(by)
    return value is not None and str(value) == group


def score_cell(
    question: CompareQuestion, row: ComparisonRow, doc_text: Callable[[str], str | None]
) -> CellRecord:
    gold = question.cells[row.group]
    answer = row.answer
    answered = row.status == "answered" and answer is not None
    citations = answer.citations if answered and answer is not None else []
    valid = sum(
        1
        for c in citations
        if citation_is_valid(c, doc_text) and _in_group(c.metadata, c.date, question.by, row.group)
    )
    if isinstance(gold, GoldAnswer):
        text = normalize_match_text(answer_text(answer)) if answered and answer else ""
        right = (
            answered
            and any(c.doc_id == gold.doc_id for c in citations)
            and any(normalize_match_text(s) in text for s in gold.answer)
        )
    else:
        right = row.status == "declined"
    return CellRecord(
        question_id=question.id,
        group=row.group,
        gold="answer" if isinstance(gold, GoldAnswer) else "decline",
        status=row.status,
        right=right,
        confidence=round(row.confidence, 4),
        said=answer.answer_plain[:300] if answered and answer else "",
        cited=[c.doc_id for c in citations],
        citations=len(citations),
        valid_citations=valid,
    )


def aggregate(cells: Sequence[CellRecord], results: Sequence[QuestionResult]) -> CompareMetrics:
    answer_cells = [c for c in cells if c.gold == "answer"]
    decline_cells = [c for c in cells if c.gold == "decline"]
    latencies = [r.latency_ms for r in results if r.error is None]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    return CompareMetrics(
        questions=len(results),
        cells=len(cells),
        answer_cells=len(answer_cells),
        decline_cells=len(decline_cells),
        cell_accuracy=ratio(sum(c.right for c in cells), len(cells)),
        answer_cells_right=ratio(sum(c.right for c in answer_cells), len(answer_cells)),
        silent_declined=ratio(sum(c.right for c in decline_cells), len(decline_cells)),
        citation_validity=ratio(
            sum(c.valid_citations for c in cells), sum(c.citations for c in cells)
        ),
        citations=sum(c.citations for c in cells),
        questions_all_right=ratio(sum(r.all_right for r in results), len(results)),
        latency_p50_ms=None if p50 is None else round(p50, 1),
        latency_p95_ms=None if p95 is None else round(p95, 1),
        errors=sum(r.error is not None for r in results),
    )


def evaluate_compare(
    system: QASystem,
    questions: Sequence[CompareQuestion],
    *,
    eval_set: str = COMPARE_SET.name,
    on_progress: Callable[[QuestionResult], None] | None = None,
) -> CompareReport:
    """Run every question through ``system.compare`` and score each cell against its gold."""
    texts = DocTexts(system)
    cells: list[CellRecord] = []
    results: list[QuestionResult] = []
    for q in questions:
        t0 = time.perf_counter()
        error = None
        mine: list[CellRecord] = []
        try:
            table: Comparison = system.compare(
                q.question, by=q.by, groups=q.groups, filters=q.filters or None
            )
            mine = [score_cell(q, row, texts) for row in table.rows]
        except RagError as exc:
            error = exc.message
        latency = (time.perf_counter() - t0) * 1000
        right = sum(c.right for c in mine)
        result = QuestionResult(
            id=q.id,
            question=q.question,
            by=q.by,
            cells=len(q.groups),
            right=right,
            cell_accuracy=ratio(right, len(q.groups)),
            all_right=error is None and right == len(q.groups),
            latency_ms=round(latency, 1),
            error=error,
        )
        cells.extend(mine)
        results.append(result)
        if on_progress is not None:
            on_progress(result)
    metrics = aggregate(cells, results)
    by_key = {
        key: aggregate(
            [c for c in cells if any(r.id == c.question_id and r.by == key for r in results)],
            [r for r in results if r.by == key],
        )
        for key in dict.fromkeys(r.by for r in results)
    }
    floors = {name: (getattr(metrics, name) or 0.0) >= floor for name, floor in FLOORS.items()}
    return CompareReport(
        eval_set=eval_set,
        metrics=metrics,
        by_key=by_key,
        questions=results,
        cells=cells,
        floors_met=floors,
    )


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def compare_markdown(report: CompareReport, *, show_failures: bool = False) -> str:
    """The report for people: headline figures against the floors, per key, per question."""
    m = report.metrics
    lines = [
        f"# Compare set ({report.eval_set}): {m.questions} questions, {m.cells} cells",
        "",
        "| figure | value | floor |",
        "|---|---|---|",
    ]
    for name, label in (
        ("cell_accuracy", "cell accuracy"),
        ("answer_cells_right", "answer cells right"),
        ("silent_declined", "silent groups declined"),
        ("citation_validity", "citation validity"),
        ("questions_all_right", "questions with every cell right"),
    ):
        floor = FLOORS.get(name)
        met = "" if floor is None else (" ✓" if report.floors_met.get(name) else " ✗")
        shown = "" if floor is None else f"≥ {floor:.2f}{met}"
        lines.append(f"| {label} | {_pct(getattr(m, name))} | {shown} |")
    lines.append(
        f"| latency p50 / p95 (ms, whole table) | {m.latency_p50_ms} / {m.latency_p95_ms} | |"
    )
    lines += [
        "",
        "| by | questions | cells | cell accuracy | answer cells right | silent declined |",
    ]
    lines.append("|---|---|---|---|---|---|")
    for key, km in report.by_key.items():
        lines.append(
            f"| {key} | {km.questions} | {km.cells} | {_pct(km.cell_accuracy)} | "
            f"{_pct(km.answer_cells_right)} | {_pct(km.silent_declined)} |"
        )
    lines += ["", "| question | by | right / cells | ms |", "|---|---|---|---|"]
    for r in report.questions:
        note = f" (error: {r.error})" if r.error else ""
        lines.append(
            f"| {r.id}: {r.question}{note} | {r.by} | {r.right} / {r.cells} | {r.latency_ms} |"
        )
    if show_failures:
        wrong = [c for c in report.cells if not c.right]
        lines += [
            "",
            "Wrong cells:",
            "",
            "| question | group | gold | got | said |",
            "|---|---|---|---|---|",
        ]
        for c in wrong:
            said = " ".join(c.said.split())[:160].replace("|", "\\|")
            lines.append(f"| {c.question_id} | {c.group} | {c.gold} | {c.status} | {said} |")
    return "\n".join(lines) + "\n"
