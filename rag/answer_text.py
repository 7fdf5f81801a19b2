"""An answer laid out as text for a terminal: the answer with its citation markers, then each
citation with its quote, or, when it abstains, the closest passages (``rag ask`` without
``--json``)."""

from __future__ import annotations

import textwrap
from typing import Any


def format_answer(answer: Any, width: int = 96) -> str:
    """The human-readable layout: answer with markers, then each citation and its quote."""
    lines = textwrap.wrap(answer.answer, width) or [answer.answer]
    if answer.short_answer and not answer.abstained:
        lines += ["", f"Short answer: {answer.short_answer}"]
    if answer.citations:
        lines += ["", "Sources:"]
        for c in answer.citations:
            where = f"chars {c.char_start}–{c.char_end}" + (f", page {c.page}" if c.page else "")
            lines.append(f"[{c.marker}] {c.title or c.doc_id} ({c.doc_id}; {where})")
            if c.speaker:
                lines.append(f"    speaker: {c.speaker}")
            lines += textwrap.wrap(
                c.quote, width, initial_indent="    │ ", subsequent_indent="    │ "
            )
    elif answer.abstained and answer.passages:
        lines += ["", "Closest passages:"]
        for p in answer.passages[:3]:
            excerpt = p.text if len(p.text) <= 240 else p.text[:237] + "…"
            lines.append(f"- {p.title or p.doc_id} ({p.doc_id}; chars {p.char_start}–{p.char_end})")
            lines += textwrap.wrap(excerpt, width, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(lines)
