"""Streaming documents from files and directory trees, one failure per bad input."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from index.records import Document
from rag.errors import LoaderError
from rag.loaders.duplicates import DuplicateIds
from rag.loaders.failure import LoadFailure, unexpected_reason
from rag.loaders.files import check_supported, parse_single
from rag.loaders.jsonl import NumberedItem, iter_numbered_file
from rag.loaders.reading import read_file_bytes

logger = logging.getLogger(__name__)

# An item with the file it came from and, for JSONL records, its line number.
_Item = tuple[Document | LoadFailure, str, int | None]


def _load_one(path: Path, doc_id: str) -> Iterator[_Item]:
    """The documents of one file, or its failure: whatever it holds, an exception while reading
    it is that file's failure (JSONL: that record's), and the next file is read."""
    label = str(path)
    suffix = path.suffix.lower()
    try:
        check_supported(label, suffix)
        if suffix == ".jsonl":
            yield from _jsonl_items(label, iter_numbered_file(path, source=doc_id))
            return
        data = read_file_bytes(path)
        document = parse_single(
            label, data, suffix=suffix, doc_id=doc_id, source=doc_id, stem=path.stem
        )
    except LoaderError as exc:
        yield LoadFailure.from_error(exc), label, None
        return
    except Exception as exc:  # e.g. MemoryError reading it, or a stream that failed mid-file
        logger.debug("%s: reading it raised", label, exc_info=True)
        yield LoadFailure(path=label, reason=unexpected_reason(exc)), label, None
        return
    yield document, label, None


def _jsonl_items(label: str, items: Iterator[NumberedItem]) -> Iterator[_Item]:
    for line_no, item in items:
        yield item, label, line_no


def _walk(
    root: Path, directory: Path, visited: set[str]
) -> Iterator[tuple[Path, str] | LoadFailure]:
    real = os.path.realpath(directory)
    if real in visited:
        logger.warning("%s: directory already visited (symlink loop?), skipped", directory)
        return
    visited.add(real)
    try:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as exc:
        reason = f"cannot list directory: {exc.strerror or exc}"
        yield LoadFailure(path=str(directory), reason=reason)
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            yield from _walk(root, path, visited)
        else:  # an unsupported file is reported (as skipped) by whoever reads it
            yield path, path.relative_to(root).as_posix()


def iter_files(paths: Sequence[Path]) -> Iterator[tuple[Path, str] | LoadFailure]:
    """The files of ``paths`` with their document ids, in reading order, without reading them.

    A file named explicitly gets its file name as id; a file found under a directory gets its
    path relative to that directory (posix form). Directories are walked recursively in name
    order, skipping hidden entries and directories already visited (symlink loops); one that
    cannot be listed yields a :class:`LoadFailure`. :func:`iter_documents` and the cluster
    ingest's planner (:mod:`rag.distributed.units`) both walk with this.
    """
    for given in paths:
        path = Path(given)
        if path.is_dir():
            yield from _walk(path, path, set())
        else:
            yield path, path.name


def iter_documents(paths: Sequence[Path]) -> Iterator[Document | LoadFailure]:
    """Stream the documents of files and directory trees, in order, lazily.

    Files and ids are those of :func:`iter_files`; a document's ``source`` is its file's id (the
    file name, or the path relative to the folder walked), never the path as typed, and so is
    the ``source`` of JSONL records without their own. Each bad file, JSONL record or repeated
    document id yields a :class:`LoadFailure` (``skipped`` for a file type ingest does not read)
    and iteration goes on.
    """
    ids = DuplicateIds()
    for entry in iter_files(paths):
        if isinstance(entry, LoadFailure):
            yield entry
            continue
        for item, label, line_no in _load_one(*entry):
            if isinstance(item, Document):
                origin = f"{label} line {line_no}" if line_no is not None else label
                duplicate = ids.claim(item.id, origin)
                if duplicate is not None:
                    yield LoadFailure(path=label, reason=duplicate, record=line_no)
                    continue
            yield item
