"""A comparison as a spreadsheet (CSV, one row per group) and as Markdown (a table and its
sources), the same layout the page exports."""

from __future__ import annotations

import csv
import io

from rag.compare import Comparison, ComparisonRow

#: The CSV's columns, in order: one line per group.
CSV_COLUMNS = (
    "group",
    "label",
    "status",
    "answer",
    "short_answer",
    "confidence",
    "documents",
    "question",
    "citation_doc_ids",
    "citation_spans",
    "citation_quotes",
)
#: Several citations of one cell are joined with this in their CSV columns.
JOIN = " | "


def _cells(row: ComparisonRow) -> list[str]:
    answer = row.answer
    answered = answer is not None and not answer.abstained
    citations = answer.citations if answer is not None and answered else []
    return [
        row.group,
        row.label,
        row.status,
        answer.answer_plain if answer is not None and answered else "",
        (answer.short_answer or "") if answer is not None and answered else "",
        f"{row.confidence:.4f}",
        str(row.documents),
        row.question,
        JOIN.join(c.doc_id for c in citations),
        JOIN.join(f"{c.char_start}-{c.char_end}" for c in citations),
        JOIN.join(" ".join(c.quote.split()) for c in citations),
    ]


def silent_rows(comparison: Comparison) -> list[list[str]]:
    """The groups that declined (all groups asked: they are not among the rows) as CSV lines."""
    return [
        [g, g, "declined", "", "", "", "", comparison.question, "", "", ""]
        for g in comparison.declined
    ]


def to_csv(comparison: Comparison) -> str:
    """CSV (RFC 4180, a header line, UTF-8): one line per group, answered or not; a cell's
    citations joined with `` | `` in the three citation columns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in comparison.rows:
        writer.writerow(_cells(row))
    writer.writerows(silent_rows(comparison))
    return out.getvalue()


def _md(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def to_markdown(comparison: Comparison) -> str:
    """A Markdown table (group, answer with [n] markers, confidence) and its numbered sources."""
    lines = [f"## {_md(comparison.question)}", "", f"By {comparison.by}"]
    if comparison.filters:
        shown = ", ".join(f"{k} = {v}" for k, v in comparison.filters.items())
        lines[-1] += f"; filters: {_md(shown)}"
    lines += ["", "| group | answer | confidence |", "|---|---|---|"]
    sources: list[str] = []
    for row in comparison.rows:
        answer = row.answer
        if row.status == "no_documents":
            cell = "_no documents_"
        elif answer is None or answer.abstained:
            cell = "_no statement on this_"
        else:
            marks: dict[int, int] = {}
            for c in answer.citations:
                sources.append(
                    f"{len(sources) + 1}. {_md(c.title)} (`{c.doc_id}`, "
                    f"{c.char_start}-{c.char_end}): “{_md(c.quote)}”"
                )
                marks[c.marker] = len(sources)
            cell = " ".join(
                _md(s.text) + "".join(f" [{marks[m]}]" for m in s.markers if m in marks)
                for s in answer.sentences
            ) or _md(answer.answer_plain)
        lines.append(f"| {_md(row.label)} | {cell} | {row.confidence:.2f} |")
    if comparison.declined:
        lines += ["", f"No statement on this: {', '.join(comparison.declined)}"]
    if sources:
        lines += ["", "Sources:", "", *sources]
    return "\n".join(lines) + "\n"
