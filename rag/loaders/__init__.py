"""Document loaders: text, Markdown, HTML, PDF and JSONL files into :class:`Document` objects.

:func:`iter_documents` is the entry for ingest: it streams files and directory trees and yields
a :class:`LoadFailure` for each bad input instead of stopping. :func:`load_file` and
:func:`load_bytes` load one file and raise :class:`~rag.errors.LoaderError` on failure.
"""

from __future__ import annotations

from rag.loaders.discovery import iter_documents
from rag.loaders.failure import LoadFailure
from rag.loaders.files import SUPPORTED_SUFFIXES, load_bytes, load_file
from rag.loaders.jsonl import iter_jsonl, normalise_date

__all__ = [
    "SUPPORTED_SUFFIXES",
    "LoadFailure",
    "iter_documents",
    "iter_jsonl",
    "load_bytes",
    "load_file",
    "normalise_date",
]
