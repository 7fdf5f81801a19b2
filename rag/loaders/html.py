"""HTML pages: the main text only (no navigation, footers, comments), via trafilatura."""

from __future__ import annotations

import logging

import trafilatura

from index.records import Document
from rag.errors import LoaderError
from rag.loaders.building import build_document
from rag.loaders.jsonl import normalise_date

logger = logging.getLogger(__name__)


def _extract_main_text(data: bytes, *, favor_recall: bool) -> str | None:
    tree = trafilatura.load_html(data)
    if tree is None:
        return None
    text = trafilatura.extract(
        tree, include_comments=False, include_tables=True, favor_recall=favor_recall
    )
    return text if text and text.strip() else None


def _extract_title(data: bytes) -> str:
    tree = trafilatura.load_html(data)
    if tree is None:
        return ""
    metadata = trafilatura.extract_metadata(tree)
    title = metadata.title if metadata is not None else None
    return title.strip() if isinstance(title, str) else ""


#: Where a page states its date, most trusted first (meta names and properties, lower-cased).
DATE_META = (
    "article:published_time",
    "date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "dcterms.date",
    "citation_publication_date",
    "pubdate",
    "datepublished",
)


def _extract_date(data: bytes) -> str | None:
    """The page's own date (``YYYY[-MM[-DD]]``): a ``<meta>`` of :data:`DATE_META` (Open Graph
    ``article:published_time``, ``<meta name=\"date\">``, Dublin Core), else the first
    ``<time datetime>``; never a date guessed from the text."""
    tree = trafilatura.load_html(data)
    if tree is None:
        return None
    found: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        date = normalise_date(meta.get("content") or "")
        if key in DATE_META and date is not None:
            found.setdefault(key, date)
    for key in DATE_META:
        if key in found:
            return found[key]
    for time in tree.iter("time"):
        date = normalise_date(time.get("datetime") or "")
        if date is not None:
            return date
    return None


def parse_html(label: str, data: bytes, *, doc_id: str, source: str, stem: str) -> Document:
    """An ``.html``/``.htm`` file as one document holding its main text.

    Extraction runs in trafilatura's balanced mode first and, when that finds nothing (short or
    unusual pages), once more favouring recall. The date is the page's own (:func:`_extract_date`).
    """
    if not data.strip():
        raise LoaderError(label, "empty file")
    try:
        text = _extract_main_text(data, favor_recall=False)
        if text is None:
            logger.debug("%s: no main text in balanced mode, retrying favouring recall", label)
            text = _extract_main_text(data, favor_recall=True)
        title = _extract_title(data) if text is not None else ""
        date = _extract_date(data) if text is not None else None
    except Exception as exc:  # a third-party parser on untrusted input may raise anything
        raise LoaderError(label, f"unreadable HTML ({exc})") from exc
    if text is None:
        raise LoaderError(label, "no main text found")
    return build_document(
        label,
        doc_id=doc_id,
        title=title or stem,
        text=text.replace("\r\n", "\n"),
        source=source,
        date=date,
    )
