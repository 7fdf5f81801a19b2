"""Questions in bulk: read a file of questions (one a line, or JSONL records) and answer each.

A ``.jsonl`` file holds records ``{"question", "id"?, "k"?, "filters"?, "mode"?}`` (a bare JSON
string is a question too); any other file holds one question per non-blank line. Standard input
is read as JSONL when its first non-blank line is a JSON object. A question
that cannot be answered (empty, too long, a bad filter) yields an error record for its line and
the batch goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from index.errors import InvalidFilterError, RagError
from rag.errors import InvalidQuestionError, LoaderError
from rag.jsonlimits import loads_limited
from rag.models import Answer

__all__ = [
    "BatchItem",
    "answer_batch",
    "looks_like_jsonl",
    "parse_questions",
    "read_capped",
    "read_questions",
]


@dataclass
class BatchItem:
    """One question of a batch, with the options its record gave."""

    line: int
    question: str
    id: str | None = None
    k: int | None = None
    filters: dict[str, Any] | None = None
    mode: str | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _item_from_record(line: int, record: Any) -> BatchItem:
    if isinstance(record, str):
        return BatchItem(line, record)
    if not isinstance(record, dict) or not isinstance(record.get("question"), str):
        return BatchItem(line, "", error='a record needs a "question" string')
    k = record.get("k")
    filters = record.get("filters")
    if k is not None and (not isinstance(k, int) or isinstance(k, bool)):
        return BatchItem(line, record["question"], error='"k" must be an integer')
    if filters is not None and not isinstance(filters, dict):
        return BatchItem(line, record["question"], error='"filters" must be an object')
    rid = record.get("id")
    return BatchItem(
        line,
        record["question"],
        id=None if rid is None else str(rid),
        k=k,
        filters=filters,
        mode=record.get("mode"),
    )


#: Most bytes of questions read by default (``Settings.ask_file_max_bytes``).
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


def read_capped(stream: BinaryIO, limit: int, label: str) -> bytes:
    """All bytes of ``stream`` if there are at most ``limit``; else :class:`LoaderError`, after
    reading ``limit + 1`` bytes and no more (``/dev/zero`` or an endless pipe ends here)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise LoaderError(
            label,
            f"more than {limit} bytes of questions; the limit is {limit}",
            hint="split the questions into several files, or raise RAG_ASK_FILE_MAX_BYTES",
        )
    return data


def read_questions(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[BatchItem]:
    """The questions of ``path`` (JSONL records for ``.jsonl``, else one per non-blank line),
    read up to ``max_bytes`` (more is a :class:`LoaderError`)."""
    with open(path, "rb") as handle:
        data = read_capped(handle, max_bytes, str(path))
    return parse_questions(data.decode("utf-8-sig"), path.suffix.lower() == ".jsonl")


def looks_like_jsonl(text: str) -> bool:
    """Whether ``text`` (a batch without a file name, e.g. standard input) is JSONL: its first
    non-blank line is a JSON object."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not first.startswith("{"):
        return False
    try:
        return isinstance(loads_limited(first), dict)
    except (ValueError, RagError):
        return False


def parse_questions(text: str, jsonl: bool) -> list[BatchItem]:
    """The questions of ``text``: JSONL records when ``jsonl``, else one per non-blank line."""
    items: list[BatchItem] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        if not jsonl:
            items.append(BatchItem(number, raw.strip()))
            continue
        try:
            record = loads_limited(raw)
        except (ValueError, RagError) as exc:
            items.append(BatchItem(number, "", error=f"not a JSON record: {exc}"))
            continue
        items.append(_item_from_record(number, record))
    return items


def answer_batch(
    system: Any, items: list[BatchItem], defaults: dict[str, Any]
) -> Iterator[tuple[BatchItem, Answer | None, str | None]]:
    """Answer each item with ``system`` (a :class:`~rag.system.QASystem`): yields the item and
    its answer, or its error message. Options of a record override ``defaults``."""
    for item in items:
        if item.error is not None:
            yield item, None, item.error
            continue
        try:
            answer = system.ask(
                item.question,
                k=item.k if item.k is not None else defaults.get("k"),
                filters=item.filters if item.filters is not None else defaults.get("filters"),
                mode=item.mode or defaults.get("mode"),
            )
        except (InvalidQuestionError, InvalidFilterError) as exc:
            yield item, None, exc.message
            continue
        yield item, answer, None


def batch_record(item: BatchItem, answer: Answer | None, error: str | None) -> str:
    """One JSONL line: the answer model (with ``id`` and ``line``), or an error record."""
    head: dict[str, Any] = {"line": item.line}
    if item.id is not None:
        head["id"] = item.id
    if answer is None:
        head.update(question=item.question, error=error)
        return json.dumps(head, ensure_ascii=False)
    return json.dumps({**head, **answer.model_dump(mode="json")}, ensure_ascii=False)
