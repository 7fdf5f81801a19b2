"""Rendering evaluation results: Markdown tables for people, JSON for machines."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from eval.dataset import EvalSetError
from eval.harness import ConfigResult, EvalConfig, EvalReport, Failure, SweepReport
from eval.policy_qa import (
    ANSWERABLE_CATEGORIES,
    PolicyQAFailure,
    PolicyQAMetrics,
    PolicyQAReport,
    TargetResult,
)
from eval.squad import SquadFailure, SquadReport

logger = logging.getLogger(__name__)

MAX_SAID_CHARS = 160

_CONFIG_COLUMNS: tuple[tuple[str, str], ...] = (
    ("hit@1", "hit_at_1"),
    ("hit@5", "hit_at_5"),
    ("MRR", "mrr"),
    ("accuracy", "accuracy"),
    ("precision", "precision"),
    ("abst. recall", "abstention_recall"),
    ("abst. precision", "abstention_precision"),
    ("cit. validity", "citation_validity"),
    ("support", "support"),
    ("cit. precision", "citation_precision"),
    ("p50 ms", "latency_p50_ms"),
    ("p95 ms", "latency_p95_ms"),
)
_SWEEP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("accuracy", "accuracy"),
    ("precision", "precision"),
    ("abst. recall", "abstention_recall"),
    ("abst. precision", "abstention_precision"),
    ("support", "support"),
)
_SQUAD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("hit@1", "hit_at_1"),
    ("hit@5", "hit_at_5"),
    ("MRR", "mrr"),
    ("EM", "exact_match"),
    ("F1", "f1"),
    ("contains", "contains_accuracy"),
    ("contains prec.", "contains_precision"),
    ("abst. recall", "abstention_recall"),
    ("abst. precision", "abstention_precision"),
    ("cit. validity", "citation_validity"),
    ("p50 ms", "latency_p50_ms"),
    ("p95 ms", "latency_p95_ms"),
)


def fmt(value: object) -> str:
    """A table cell: '–' for undefined, 3 decimals for rates, 1 for milliseconds."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}" if -1.0 <= value <= 1.0 else f"{value:.1f}"
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _short(text: str, limit: int = MAX_SAID_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _metric_cells(metrics: BaseModel, columns: Sequence[tuple[str, str]]) -> list[str]:
    return [fmt(getattr(metrics, attr)) for _, attr in columns]


def _configs_table(
    runs: Sequence[tuple[EvalConfig, Any]], columns: Sequence[tuple[str, str]]
) -> list[str]:
    """One row per configuration: its name, mode, k, question count, metrics, errors."""
    header = ["config", "mode", "k", "n", *(label for label, _ in columns), "errors"]
    rows = [
        [
            config.name,
            config.mode,
            str(config.k),
            str(metrics.questions),
            *_metric_cells(metrics, columns),
            str(metrics.errors),
        ]
        for config, metrics in runs
    ]
    return table(header, rows)


def config_table(report: EvalReport) -> list[str]:
    return _configs_table([(r.config, r.overall) for r in report.results], _CONFIG_COLUMNS)


def category_table(result: ConfigResult) -> list[str]:
    header = ["category", "answerable", "unanswerable", *(label for label, _ in _CONFIG_COLUMNS)]
    rows = [
        [
            category,
            str(m.answerable),
            str(m.unanswerable),
            *_metric_cells(m, _CONFIG_COLUMNS),
        ]
        for category, m in result.per_category.items()
        if m.questions
    ]
    return table(header, rows)


def failure_table(failures: Sequence[Failure]) -> list[str]:
    header = ["id", "category", "question", "expected", "system said"]
    rows = [
        [
            f.id,
            f.category,
            f.question,
            f.expected,
            _short(f.said + (f" (short: {f.short_answer})" if f.short_answer else "")),
        ]
        for f in failures
    ]
    return table(header, rows)


def detail_config(report: EvalReport, name: str | None) -> ConfigResult:
    """The result shown per category: ``name``, else 'hybrid' when run, else the first."""
    if name is not None:
        return report.result(name)
    for result in report.results:
        if result.config.name == "hybrid":
            return result
    if not report.results:
        raise EvalSetError("the report holds no results")
    return report.results[0]


def eval_markdown(
    report: EvalReport, *, detail: str | None = None, show_failures: bool = False
) -> str:
    """The Markdown report: one row per configuration, then the per-category table of one."""
    chosen = detail_config(report, detail)
    lines = [
        f"# Evaluation: {report.eval_set}",
        "",
        f"{report.questions} questions; index {report.index_dir} ({report.documents} documents, "
        f"{report.chunks} chunks, model {report.model}); {report.created}.",
        "",
        "Accuracy = correct / answerable; precision = correct / answerable answered; "
        "abstention recall = abstained unanswerable / unanswerable; abstention precision = "
        "abstained unanswerable / abstentions. Retrieval metrics over answerable questions.",
        "",
        *config_table(report),
        "",
        f"## Per category ({chosen.config.name})",
        "",
        *category_table(chosen),
        "",
        "Run times: " + ", ".join(f"{r.config.name} {r.seconds:.1f} s" for r in report.results),
    ]
    if show_failures:
        lines += ["", f"## Failing questions ({chosen.config.name}: {len(chosen.failures)})", ""]
        lines += failure_table(chosen.failures) if chosen.failures else ["None."]
    return "\n".join(lines) + "\n"


def sweep_markdown(report: SweepReport) -> str:
    header = [report.param, "answered", *(label for label, _ in _SWEEP_COLUMNS)]
    rows = [
        [fmt(row.value), str(row.metrics.answered), *_metric_cells(row.metrics, _SWEEP_COLUMNS)]
        for row in report.rows
    ]
    lines = [
        f"# Sweep of {report.param} ({report.mode}, k={report.k})",
        "",
        *table(header, rows),
    ]
    return "\n".join(lines) + "\n"


def squad_markdown(
    report: SquadReport, *, detail: str | None = None, show_failures: bool = False
) -> str:
    config_rows = _configs_table([(r.config, r.metrics) for r in report.results], _SQUAD_COLUMNS)
    seed = f", sample seed {report.sample_seed}" if report.sample_seed is not None else ""
    first = report.results[0].metrics if report.results else None
    split = f" ({first.answerable} answerable, {first.unanswerable} unanswerable)" if first else ""
    lines = [
        f"# Benchmark: {report.benchmark}",
        "",
        f"{report.questions} questions{split}{seed}; index {report.index_dir} "
        f"({report.documents} documents, {report.chunks} chunks, model {report.model}); "
        f"{report.created}.",
        "",
        "EM and F1 (SQuAD normalisation) compare the short answer, else the first answer "
        "sentence, with the best gold answer; abstaining on an answerable question scores 0. "
        "'contains' = a gold answer occurs in the answer text.",
        "",
        *config_rows,
        "",
        "Run times: " + ", ".join(f"{r.config.name} {r.seconds:.1f} s" for r in report.results),
    ]
    if show_failures and report.results:
        chosen = next((r for r in report.results if r.config.name == detail), None)
        chosen = chosen or next(
            (r for r in report.results if r.config.name == "hybrid"), report.results[0]
        )
        lines += ["", f"## Failing questions ({chosen.config.name}: {len(chosen.failures)})", ""]
        lines += _squad_failures(chosen.failures) if chosen.failures else ["None."]
    return "\n".join(lines) + "\n"


def _squad_failures(failures: Sequence[SquadFailure]) -> list[str]:
    header = ["id", "question", "expected", "system said"]
    rows = [[f.id, f.question, f.expected, _short(f.said)] for f in failures]
    return table(header, rows)


def _bound(target: TargetResult, bound: float) -> str:
    return f"{'≥' if target.higher_is_better else '≤'} {fmt(bound)}"


def _met(target: TargetResult) -> str:
    if target.value is None:
        return "–"
    if target.goal_met:
        return "goal"
    return "floor" if target.floor_met else "no"


def policy_qa_headline(report: PolicyQAReport) -> list[str]:
    """The headline figures with their floors and goals, then the ones without targets."""
    m = report.metrics
    rows = [
        [t.label, fmt(t.value), _bound(t, t.floor), _bound(t, t.goal), _met(t)]
        for t in report.targets
    ]
    rows += [
        ["gold document retrieved", fmt(m.gold_doc_retrieved), "", "", ""],
        ["answered / correct / errors", f"{m.answered} / {m.correct} / {m.errors}", "", "", ""],
        ["latency p50 / p95 ms", f"{fmt(m.latency_p50_ms)} / {fmt(m.latency_p95_ms)}", "", "", ""],
    ]
    return table(["measure", "value", "floor", "goal", "met"], rows)


def policy_qa_category_table(per_category: dict[str, PolicyQAMetrics]) -> list[str]:
    header = [
        "category",
        "n",
        "answered",
        "correct",
        "accuracy",
        "declined",
        "gold doc cited",
        "gold doc retrieved",
        "p50 ms",
    ]
    rows = []
    for category, m in per_category.items():
        answerable = category in ANSWERABLE_CATEGORIES
        rows.append(
            [
                category,
                str(m.questions),
                str(m.answered),
                str(m.correct) if answerable else "",
                fmt(m.accuracy) if answerable else "",
                fmt(m.answerable_declined if answerable else m.unanswerable_declined),
                fmt(m.gold_doc_cited) if answerable else "",
                fmt(m.gold_doc_retrieved) if answerable else "",
                fmt(m.latency_p50_ms),
            ]
        )
    return table(header, rows)


def _policy_failures(failures: Sequence[PolicyQAFailure]) -> list[str]:
    header = ["id", "category", "question", "expected", "system said", "cited"]
    rows = [
        [
            f.id,
            f.category,
            f.question,
            f.expected,
            _short(
                ("(declined) " if f.abstained else "")
                + f.said
                + (f" (short: {f.short_answer})" if f.short_answer else "")
            ),
            ", ".join(f.cited_docs),
        ]
        for f in failures
    ]
    return table(header, rows)


def policy_qa_markdown(report: PolicyQAReport, *, show_failures: bool = False) -> str:
    """The policy-qa report: headline figures against their floors and goals, per category."""
    m = report.metrics
    split = f" ({report.split})" if report.split else ""
    seed = f", sample seed {report.sample_seed}" if report.sample_seed is not None else ""
    retrieval = f"k={report.k if report.k is not None else 'default'}, mode " + (
        report.mode or "default"
    )
    lines = [
        f"# Benchmark: {report.benchmark}{split}",
        "",
        f"{report.questions} questions ({m.answerable} answerable, {m.unanswerable} "
        f"unanswerable){seed}; index {report.index_dir} ({report.documents} documents, "
        f"{report.chunks} chunks, model {report.model}); answer model {report.answer_model}; "
        f"{retrieval}; {report.created}; {report.seconds:.1f} s.",
        "",
        "Accuracy = correct / answerable (answered, and the answer text or short answer holds a "
        "gold answer); precision = correct / answered (answerable and unanswerable); declined = "
        "abstentions / questions of that kind; gold document cited = answerable questions "
        "answered citing their document / answerable. 'met': goal, floor or no.",
        "",
        *policy_qa_headline(report),
        "",
        "## Per category",
        "",
        *policy_qa_category_table(report.per_category),
    ]
    if show_failures:
        lines += ["", f"## Failing questions ({len(report.failures)})", ""]
        lines += _policy_failures(report.failures) if report.failures else ["None."]
    return "\n".join(lines) + "\n"


def write_outputs(out_dir: Path, stem: str, markdown: str, model: BaseModel) -> list[Path]:
    """Write ``<stem>.md`` and ``<stem>.json`` into ``out_dir``; returns both paths."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        md_path = out_dir / f"{stem}.md"
        json_path = out_dir / f"{stem}.json"
        md_path.write_text(markdown, encoding="utf-8")
        json_path.write_text(
            json.dumps(model.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
    except OSError as exc:
        raise EvalSetError(
            f"cannot write results into {out_dir}: {exc.strerror or exc}",
            hint="pass --out DIR pointing at a writable folder",
        ) from exc
    logger.info("wrote %s and %s", md_path, json_path)
    return [md_path, json_path]
