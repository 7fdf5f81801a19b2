"""Loading one file (from disk or from uploaded bytes) by its suffix."""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

from index.records import Document
from rag.errors import LoaderError, UnsupportedFileTypeError
from rag.loaders.failure import unexpected_reason
from rag.loaders.jsonl import collect_strict, iter_numbered_file, load_jsonl_bytes
from rag.loaders.reading import base_name, read_file_bytes, suffix_of
from rag.loaders.text import parse_text

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".jsonl", ".docx", ".rtf", ".odt"}
)
# Formats people expect to work, with what to do instead.
_CONVERT: dict[str, str] = {
    ".doc": "legacy Word .doc is not supported; save it as .docx",
    ".wpd": "WordPerfect is not supported; save it as .docx",
    ".pages": "Apple Pages is not supported; export it as .docx",
    ".ppt": "presentations are not supported; export the text as .pdf",
    ".pptx": "presentations are not supported; export the text as .pdf",
    ".odp": "presentations are not supported; export the text as .pdf",
    ".xls": "spreadsheets are not supported",
    ".xlsx": "spreadsheets are not supported",
    ".ods": "spreadsheets are not supported",
}
_OFFICE = frozenset({".docx", ".rtf", ".odt"})
_MARKDOWN = frozenset({".md", ".markdown"})
_HTML = frozenset({".html", ".htm"})


def check_supported(label: str, suffix: str) -> None:
    """Raise :class:`UnsupportedFileTypeError` unless ingest accepts ``suffix``."""
    if suffix in _CONVERT:
        raise UnsupportedFileTypeError(
            label, f"unsupported file type '{suffix}': {_CONVERT[suffix]}"
        )
    if suffix not in SUPPORTED_SUFFIXES:
        shown = f"'{suffix}'" if suffix else "without a suffix"
        raise UnsupportedFileTypeError(
            label,
            f"unsupported file type {shown}; use one of {', '.join(sorted(SUPPORTED_SUFFIXES))}",
        )


def parse_single(
    label: str, data: bytes, *, suffix: str, doc_id: str, source: str, stem: str
) -> Document:
    """The one document held in a non-JSONL file's bytes.

    Whatever the content, a failure is a :class:`LoaderError`: a parser's own exception on
    hostile input (RecursionError, MemoryError, OverflowError, a bad number or encoding) is
    reported as the file's failure, so one bad file never ends an ingest."""
    try:
        return _parse_single(label, data, suffix=suffix, doc_id=doc_id, source=source, stem=stem)
    except LoaderError:
        raise
    except Exception as exc:  # any parser, any hostile content: one failed file
        logger.debug("%s: the %s parser raised", label, suffix, exc_info=True)
        raise LoaderError(label, unexpected_reason(exc)) from exc


def _parse_single(
    label: str, data: bytes, *, suffix: str, doc_id: str, source: str, stem: str
) -> Document:
    if suffix in _HTML:
        from rag.loaders.html import parse_html  # lazy: trafilatura is slow to import

        return parse_html(label, data, doc_id=doc_id, source=source, stem=stem)
    if suffix == ".pdf":
        from rag.loaders.pdf import parse_pdf  # lazy: pypdf is slow to import

        return parse_pdf(label, data, doc_id=doc_id, source=source, stem=stem)
    if suffix in _OFFICE:
        from rag.loaders import office  # lazy: python-docx imports lxml

        parse = {".docx": office.parse_docx, ".rtf": office.parse_rtf, ".odt": office.parse_odt}
        return parse[suffix](label, data, doc_id=doc_id, source=source, stem=stem)
    return parse_text(
        label, data, doc_id=doc_id, source=source, stem=stem, markdown=suffix in _MARKDOWN
    )


def load_file(
    path: Path, *, doc_id: str | None = None, source: str | None = None
) -> list[Document]:
    """The documents of one file: one for text, Markdown, HTML, PDF, Word (.docx), RTF and
    OpenDocument (.odt); one per JSONL record.

    ``doc_id`` and ``source`` default to the file name (the path as typed would leak into
    citations and exports; :func:`iter_documents` gives paths relative to the folder walked, as
    both). JSONL records keep
    their own ids (``doc_id`` is ignored) and any bad record fails the whole file; use
    :func:`rag.loaders.iter_jsonl` to skip bad records instead. Raises
    :class:`~rag.errors.UnsupportedFileTypeError` or :class:`~rag.errors.LoaderError`.
    """
    path = Path(path)
    label = str(path)
    if path.is_dir():
        raise LoaderError(label, "is a directory; load folders with iter_documents")
    suffix = path.suffix.lower()
    check_supported(label, suffix)
    if suffix == ".jsonl":
        return collect_strict(label, iter_numbered_file(path, source=source or path.name))
    data = read_file_bytes(path)
    document = parse_single(
        label,
        data,
        suffix=suffix,
        doc_id=doc_id or path.name,
        source=source or path.name,
        stem=path.stem,
    )
    return [document]


def load_bytes(filename: str, data: bytes, *, doc_id: str | None = None) -> list[Document]:
    """Like :func:`load_file` for uploaded content; ``filename`` picks the format.

    Only the last component of ``filename`` is used, as default id and as ``source``. For JSONL,
    any bad record raises :class:`~rag.errors.LoaderError` naming the line numbers.
    """
    name = base_name(filename)
    suffix = suffix_of(name)
    check_supported(name or filename, suffix)
    if suffix == ".jsonl":
        return load_jsonl_bytes(name, data)
    document = parse_single(
        name,
        data,
        suffix=suffix,
        doc_id=doc_id or name,
        source=name,
        stem=PurePosixPath(name).stem,
    )
    return [document]
