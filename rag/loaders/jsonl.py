"""JSON Lines corpora: one document per line, bad records reported by line number."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from index.records import Document, MetadataValue
from rag.errors import LoaderError
from rag.jsonlimits import MAX_JSON_BYTES, JsonLimitError, loads_limited
from rag.layout import reflow
from rag.loaders.building import build_document
from rag.loaders.duplicates import DuplicateIds
from rag.loaders.failure import LoadFailure, unexpected_reason
from rag.loaders.reading import open_regular, os_reason

logger = logging.getLogger(__name__)

_FIELDS = frozenset({"id", "text", "title", "source", "date", "metadata"})
_DATE_RE = re.compile(r"(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2})(?:[T ]\S.*)?)?)?")
_MAX_LISTED_LINES = 10

NumberedItem = tuple[int | None, Document | LoadFailure]


def normalise_date(value: object) -> str | None:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` for a date-like value, else None.

    Accepts those forms with ``-``, ``/`` or ``.`` separators and unpadded months/days, ISO
    date-times (the time is dropped) and integer years.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None
    match = _DATE_RE.fullmatch(text)
    if match is None:
        return None
    year, month, day = match.groups()
    if month is None:
        return year
    if not 1 <= int(month) <= 12:
        return None
    if day is None:
        return f"{year}-{int(month):02d}"
    try:
        return dt.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def _scalar(value: object) -> MetadataValue | None:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool):
        return value
    return None


def _optional_str(record: dict[str, object], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be a string, not {type(value).__name__}")
    return value


def _record_document(
    label: str, line_no: int, record: dict[str, object], default_source: str
) -> Document:
    raw_id = record.get("id")
    if raw_id is None:
        raise ValueError("missing 'id'")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    if not isinstance(raw_id, str):
        raise ValueError(f"'id' must be a string, not {type(raw_id).__name__}")
    text = record.get("text")
    if text is None:
        raise ValueError("missing 'text'")
    if not isinstance(text, str):
        raise ValueError(f"'text' must be a string, not {type(text).__name__}")
    title = _optional_str(record, "title") or ""
    source = _optional_str(record, "source") or default_source

    date: str | None = None
    raw_date = record.get("date")
    if raw_date is not None and raw_date != "":
        date = normalise_date(raw_date)
        if date is None:
            logger.warning(
                "%s:%d: dropping unparseable date %r (use YYYY, YYYY-MM or YYYY-MM-DD)",
                label,
                line_no,
                raw_date,
            )

    metadata: dict[str, MetadataValue] = {}
    nested = record.get("metadata")
    extra = dict(nested) if isinstance(nested, dict) else {}
    extra.update((k, v) for k, v in record.items() if k not in _FIELDS)
    for key, value in extra.items():
        scalar = _scalar(value)
        if scalar is None:
            logger.debug("%s:%d: metadata key %r is not a scalar, dropped", label, line_no, key)
        else:
            metadata[str(key)] = scalar

    return build_document(
        label,
        doc_id=raw_id,
        title=title.strip(),
        text=reflow(text),  # hard-wrapped records (text extracted from PDFs) become paragraphs
        source=source,
        date=date,
        metadata=metadata,
    )


def parse_record(
    label: str, line_no: int, raw: bytes, *, default_source: str
) -> Document | LoadFailure:
    """One JSONL line as a document, or a :class:`LoadFailure` naming the line (whatever the
    line holds: one bad record never ends the file)."""
    try:
        return _parse_record(label, line_no, raw, default_source=default_source)
    except Exception as exc:
        logger.debug("%s:%d: the record raised", label, line_no, exc_info=True)
        return LoadFailure(path=label, reason=unexpected_reason(exc), record=line_no)


def _parse_record(
    label: str, line_no: int, raw: bytes, *, default_source: str
) -> Document | LoadFailure:
    def failure(reason: str) -> LoadFailure:
        return LoadFailure(path=label, reason=reason, record=line_no)

    if len(raw) > MAX_JSON_BYTES:
        return failure(f"record longer than {MAX_JSON_BYTES} bytes")
    try:
        record = loads_limited(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        return failure(f"not UTF-8 ({exc.reason} at byte {exc.start})")
    except json.JSONDecodeError as exc:
        return failure(f"invalid JSON: {exc.msg} (column {exc.colno})")
    except JsonLimitError as exc:
        return failure(str(exc))
    if not isinstance(record, dict):
        return failure(f"record is a JSON {type(record).__name__}, expected an object")
    try:
        return _record_document(label, line_no, record, default_source)
    except ValueError as exc:
        return failure(str(exc))
    except LoaderError as exc:
        return failure(exc.reason)


def iter_numbered_records(
    label: str, lines: Iterable[bytes], *, default_source: str
) -> Iterator[NumberedItem]:
    """``(line number, document or failure)`` for each non-blank line; a file-level failure has
    line number None."""
    seen_any = False
    for line_no, raw in enumerate(lines, start=1):
        if not raw.strip() or raw.strip() == b"\xef\xbb\xbf":
            continue
        seen_any = True
        yield line_no, parse_record(label, line_no, raw, default_source=default_source)
    if not seen_any:
        yield None, LoadFailure(path=label, reason="empty file")


def iter_numbered_file(path: Path, *, source: str | None = None) -> Iterator[NumberedItem]:
    """:func:`iter_numbered_records` over a file, streaming it line by line. A record without
    its own ``source`` gets ``source`` (default: the file name, never the path as typed)."""
    label = str(path)
    try:
        handle = open_regular(path)
    except LoaderError as exc:
        yield None, LoadFailure(path=label, reason=exc.reason)
        return
    with handle:
        try:
            lines = bounded_lines(handle, MAX_JSON_BYTES)
            yield from iter_numbered_records(label, lines, default_source=source or path.name)
        except OSError as exc:
            yield None, LoadFailure(path=label, reason=os_reason(exc))


def bounded_lines(handle: BinaryIO, limit: int) -> Iterator[bytes]:
    """The lines of a binary file, each cut at ``limit + 1`` bytes (the rest of an over-long line
    is skipped), so one huge line cannot fill memory."""
    while line := handle.readline(limit + 1):
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := handle.readline(limit)) and not rest.endswith(b"\n"):
                pass
        yield line


def iter_jsonl(path: Path) -> Iterator[Document | LoadFailure]:
    """Stream the documents of a JSONL file; each bad record yields a :class:`LoadFailure`.

    Never raises for bad input: an unreadable or empty file yields one failure with
    ``record=None``. Records need ``id`` and ``text``; ``title``, ``source`` (default: the file)
    and ``date`` are optional; other scalar keys become metadata.
    """
    for _, item in iter_numbered_file(path):
        yield item


def collect_strict(label: str, items: Iterable[NumberedItem]) -> list[Document]:
    """All documents, or a :class:`LoaderError` naming the bad lines (invalid or duplicate ids)."""
    documents: list[Document] = []
    failures: list[LoadFailure] = []
    ids = DuplicateIds()
    for line_no, item in items:
        if isinstance(item, LoadFailure):
            if item.record is None:
                raise LoaderError(label, item.reason)
            failures.append(item)
            continue
        duplicate = ids.claim(item.id, f"line {line_no}")
        if duplicate is not None:
            failures.append(LoadFailure(path=label, reason=duplicate, record=line_no))
        else:
            documents.append(item)
    if failures:
        lines = ", ".join(str(f.record) for f in failures[:_MAX_LISTED_LINES])
        more = ", ..." if len(failures) > _MAX_LISTED_LINES else ""
        first = failures[0]
        raise LoaderError(
            label,
            f"{len(failures)} bad record(s) at line(s) {lines}{more}; "
            f"line {first.record}: {first.reason}; fix or remove them",
        )
    return documents


def load_jsonl_bytes(label: str, data: bytes) -> list[Document]:
    """The documents of JSONL content held in memory; any bad record raises :class:`LoaderError`."""
    return collect_strict(
        label, iter_numbered_records(label, io.BytesIO(data), default_source=label)
    )
