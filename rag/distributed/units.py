"""Work units for a cluster ingest: which worker reads what, planned without reading content.

The driver lists folders and takes file sizes (metadata only); JSON Lines files are cut into byte
ranges that workers read straight from shared storage, so a corpus larger than the driver's disk
is never copied to it. A range owns every line that *starts* inside it. Workers return records
numbered within their range; the driver, which consumes ranges in order, turns those into file
line numbers. Walk order, document ids and failures are those of
:func:`rag.loaders.iter_documents`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from index.records import Document
from rag.errors import LoaderError
from rag.ingest import IngestOptions, Prepared, prepare
from rag.jsonlimits import MAX_JSON_BYTES
from rag.loaders import LoadFailure, load_file
from rag.loaders.discovery import iter_files
from rag.loaders.jsonl import parse_record
from rag.loaders.reading import open_regular, os_reason
from rag.tokens import TokenCounter

DEFAULT_RANGE_BYTES = 4 * 1024 * 1024
DEFAULT_FILES_PER_UNIT = 16


@dataclass(frozen=True)
class FilesUnit:
    """Single-document files (text, Markdown, HTML, PDF, Word, RTF, OpenDocument, and files of
    types ingest does not read, reported as skipped): ``(path, document id)`` pairs."""

    files: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class JsonlRange:
    """The lines of a JSONL file that start in ``[start, end)``; ``last`` marks the file's end."""

    path: str
    start: int
    end: int
    last: bool
    #: The file's id (its name, or its path under the folder walked): records' default source.
    source: str = ""


@dataclass(frozen=True)
class FailedUnit:
    """A failure known while planning (a folder that cannot be listed)."""

    failure: LoadFailure


Unit = FilesUnit | JsonlRange | FailedUnit


@dataclass
class UnitResult:
    """What a worker made of one unit, in input order.

    ``items`` pairs each document with its sentences, chunks and detected language (or holds a
    failure);
    ``line_numbers`` gives, for JSONL records, the 1-based line within the range (None for a
    file-level failure); ``lines`` is how many lines the range owned; ``seen_any`` whether any
    of them was not blank.
    """

    items: list[tuple[Document | LoadFailure, Prepared | None]] = field(default_factory=list)
    line_numbers: list[int | None] = field(default_factory=list)
    lines: int = 0
    seen_any: bool = False


def plan_units(
    paths: Sequence[Path],
    *,
    range_bytes: int = DEFAULT_RANGE_BYTES,
    files_per_unit: int = DEFAULT_FILES_PER_UNIT,
) -> Iterator[Unit]:
    """Units for ``paths`` in the order :func:`rag.loaders.iter_documents` reads them."""
    batch: list[tuple[str, str]] = []
    for entry in iter_files(paths):  # the walk of iter_documents: same order, ids, failures
        if isinstance(entry, LoadFailure):
            if batch:
                yield FilesUnit(tuple(batch))
                batch = []
            yield FailedUnit(entry)
            continue
        file, doc_id = entry
        if file.suffix.lower() != ".jsonl":
            batch.append((str(file), doc_id))
            if len(batch) >= files_per_unit:
                yield FilesUnit(tuple(batch))
                batch = []
            continue
        if batch:
            yield FilesUnit(tuple(batch))
            batch = []
        yield from _jsonl_ranges(file, range_bytes, doc_id)
    if batch:
        yield FilesUnit(tuple(batch))


def _jsonl_ranges(path: Path, range_bytes: int, source: str) -> Iterator[JsonlRange]:
    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # one range; the worker reports why it cannot read the file
    starts = list(range(0, size, range_bytes)) or [0]
    for i, start in enumerate(starts):
        last = i == len(starts) - 1
        yield JsonlRange(str(path), start, size if last else start + range_bytes, last, source)


def read_unit(unit: Unit, counter: TokenCounter, options: IngestOptions) -> UnitResult:
    """Load, parse and chunk one unit (runs on a cluster worker)."""
    result = UnitResult()
    if isinstance(unit, FailedUnit):
        result.items.append((unit.failure, None))
        result.line_numbers.append(None)
    elif isinstance(unit, FilesUnit):
        for path, doc_id in unit.files:
            try:
                (document,) = load_file(Path(path), doc_id=doc_id, source=doc_id)
            except LoaderError as exc:
                result.items.append((LoadFailure.from_error(exc), None))
            else:
                result.items.append((document, prepare(document, counter, options)))
            result.line_numbers.append(None)
    else:
        _read_range(unit, counter, options, result)
    return result


def _skip_line(handle: BinaryIO) -> None:
    """Read on to the end of the current line, a bounded piece at a time."""
    while (rest := handle.readline(MAX_JSON_BYTES)) and not rest.endswith(b"\n"):
        pass


def _range_lines(unit: JsonlRange) -> Iterator[bytes]:
    """The lines that start in the range, each cut at ``MAX_JSON_BYTES + 1`` bytes like
    :func:`rag.loaders.jsonl.bounded_lines` (the record is then refused as too long). Only a
    regular file is opened (:func:`rag.loaders.reading.open_regular`)."""
    with open_regular(Path(unit.path)) as handle:
        if unit.start > 0:
            handle.seek(unit.start - 1)
            _skip_line(handle)  # the line that straddles the start belongs to the previous range
        while handle.tell() < unit.end:
            line = handle.readline(MAX_JSON_BYTES + 1)
            if not line:
                return
            if len(line) > MAX_JSON_BYTES and not line.endswith(b"\n"):
                _skip_line(handle)
            yield line


def _read_range(
    unit: JsonlRange, counter: TokenCounter, options: IngestOptions, result: UnitResult
) -> None:
    try:
        for raw in _range_lines(unit):
            result.lines += 1
            if not raw.strip() or raw.strip() == b"\xef\xbb\xbf":
                continue
            result.seen_any = True
            default_source = unit.source or Path(unit.path).name
            item = parse_record(unit.path, result.lines, raw, default_source=default_source)
            prepared = prepare(item, counter, options) if isinstance(item, Document) else None
            result.items.append((item, prepared))
            result.line_numbers.append(result.lines)
    except LoaderError as exc:
        result.items.append((LoadFailure(path=unit.path, reason=exc.reason), None))
        result.line_numbers.append(None)
    except OSError as exc:
        result.items.append((LoadFailure(path=unit.path, reason=os_reason(exc)), None))
        result.line_numbers.append(None)
