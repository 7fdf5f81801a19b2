"""Word-processor files: .docx (python-docx), .rtf (striprtf) and .odt (its XML, read directly).

Each becomes one document whose text is its paragraphs, headings and table rows in reading order,
paragraphs separated by a blank line (so a paragraph is never joined to the next). The title is
the file's own title property when it is a real title, else the first heading or short first
paragraph, else the file name.
"""

from __future__ import annotations

import datetime
import io
import logging
import re
import zipfile
from collections.abc import Iterator
from xml.etree import ElementTree

from index.records import Document
from rag.errors import LoaderError
from rag.loaders.building import build_document
from rag.loaders.jsonl import normalise_date

logger = logging.getLogger(__name__)

PARAGRAPH_SEPARATOR = "\n\n"
MAX_TITLE_CHARS = 200
_FILE_NAME_RE = re.compile(r"\.(?:docx?|rtf|odt|txt|pdf|html?)\s*$", re.IGNORECASE)
_ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_ODF_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_ODF_META = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
_DC = "http://purl.org/dc/elements/1.1/"
_MAX_XML_BYTES = 200 * 1024 * 1024  # a zip bomb is refused rather than inflated


def _clean_title(title: str | None) -> str:
    title = " ".join((title or "").split())
    if not title or _FILE_NAME_RE.search(title) or len(title) > MAX_TITLE_CHARS:
        return ""
    return title


def _document(
    label: str,
    blocks: list[str],
    *,
    title: str,
    doc_id: str,
    source: str,
    stem: str,
    date: str | None = None,
) -> Document:
    paragraphs = [b.strip() for b in blocks if b.strip()]
    if not paragraphs:
        raise LoaderError(label, "no text in the document")
    first = paragraphs[0]
    if not title and len(first) <= MAX_TITLE_CHARS and "\n" not in first:
        title = first
    return build_document(
        label,
        doc_id=doc_id,
        title=title or stem,
        text=PARAGRAPH_SEPARATOR.join(paragraphs),
        source=source,
        date=date,
    )


def _core_date(value: object) -> str | None:
    """A core-properties date (a datetime, or ISO text in ODF's meta.xml) as ``YYYY-MM-DD``."""
    if isinstance(value, datetime.datetime | datetime.date):
        return value.strftime("%Y-%m-%d")
    return normalise_date(value) if isinstance(value, str) else None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# --- .docx ---------------------------------------------------------------------------------------
def parse_docx(label: str, data: bytes, *, doc_id: str, source: str, stem: str) -> Document:
    """A ``.docx`` file: paragraphs and table rows (cells joined by `` | ``) in order; the date
    is the core properties' created date (else modified)."""
    import docx
    from docx.table import Table

    if not data.strip():
        raise LoaderError(label, "empty file")
    try:
        word = docx.Document(io.BytesIO(data))
        blocks: list[str] = []
        for item in word.iter_inner_content():
            if isinstance(item, Table):
                rows = [
                    " | ".join(cell.text.strip() for cell in row.cells if cell.text.strip())
                    for row in item.rows
                ]
                blocks.append("\n".join(r for r in rows if r))
            else:
                blocks.append(item.text)
        title = _clean_title(word.core_properties.title)
        date = _core_date(word.core_properties.created) or _core_date(word.core_properties.modified)
    except Exception as exc:  # python-docx raises many types (zip, XML, KeyError) on bad input
        raise LoaderError(label, f"corrupt or unreadable Word file: {_one_line(exc)}") from exc
    return _document(label, blocks, title=title, doc_id=doc_id, source=source, stem=stem, date=date)


# --- .rtf ----------------------------------------------------------------------------------------
def parse_rtf(label: str, data: bytes, *, doc_id: str, source: str, stem: str) -> Document:
    """An ``.rtf`` file: its text, one paragraph per line of the converted text."""
    from striprtf.striprtf import rtf_to_text

    if not data.strip():
        raise LoaderError(label, "empty file")
    if not data.lstrip().startswith(b"{\\rtf"):
        raise LoaderError(label, "not an RTF file (it does not start with {\\rtf)")
    match = re.search(rb"\\ansicpg(\d+)", data[:4096])
    encoding = f"cp{match.group(1).decode()}" if match else "cp1252"
    try:
        text = rtf_to_text(data.decode("latin-1"), encoding=encoding, errors="replace")
    except LookupError:
        text = rtf_to_text(data.decode("latin-1"), encoding="cp1252", errors="replace")
    except Exception as exc:
        raise LoaderError(label, f"corrupt or unreadable RTF file: {_one_line(exc)}") from exc
    blocks = text.replace("\r\n", "\n").split("\n")
    return _document(label, blocks, title="", doc_id=doc_id, source=source, stem=stem)


# --- .odt ----------------------------------------------------------------------------------------
#: Deepest nesting of tables inside table cells read (deeper is a hostile file, not a document).
MAX_ODF_TABLE_DEPTH = 64
_ODF_SPACES = re.compile(r"[0-9]+")


class _SpaceBudget:
    """How many spaces the ``text:s`` elements of one file may still expand to.

    ``<text:s text:c="1500000000"/>`` is 30 bytes asking for 1.5 G characters. A real document
    never has more padding spaces than it has bytes of XML, so the spaces one file expands to are
    capped by the size of its ``content.xml`` (and so by ``_MAX_XML_BYTES``).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def take(self, element: ElementTree.Element) -> str:
        raw = element.get(f"{{{_ODF_TEXT}}}c", "1").strip()
        if _ODF_SPACES.fullmatch(raw) is None:
            raise ValueError(f'text:s has a count that is not a whole number (text:c="{raw[:20]}")')
        count = int(raw) if len(raw) <= 12 else self.left + 1  # no int() of 10,000 digits
        if count > self.left:
            raise ValueError(
                f"its repeated spaces (text:s) expand to more than {self.limit} characters, "
                "more than the bytes of its XML"
            )
        self.left -= count
        return " " * count


def _odf_text(element: ElementTree.Element, spaces: _SpaceBudget) -> str:
    """The text of a paragraph or heading, with ODF's space, tab and line-break elements.

    Walked with a stack, not recursion, so spans nested thousands deep cannot exhaust Python's
    stack."""
    parts: list[str] = [element.text or ""]
    stack: list[tuple[Iterator[ElementTree.Element], str]] = [(iter(element), "")]
    while stack:
        children, tail = stack[-1]
        child = next(children, None)
        if child is None:  # the element's content is done: its tail follows it
            stack.pop()
            parts.append(tail)
            continue
        tag = child.tag
        if tag == f"{{{_ODF_TEXT}}}s":
            parts.append(spaces.take(child))
        elif tag == f"{{{_ODF_TEXT}}}tab":
            parts.append("\t")
        elif tag == f"{{{_ODF_TEXT}}}line-break":
            parts.append("\n")
        elif tag not in (f"{{{_ODF_TEXT}}}note", f"{{{_ODF_TEXT}}}annotation"):
            parts.append(child.text or "")
            stack.append((iter(child), child.tail or ""))
            continue
        parts.append(child.tail or "")
    return "".join(parts)


def _odf_blocks(
    element: ElementTree.Element, spaces: _SpaceBudget, tables: int = 0
) -> Iterator[str]:
    """Paragraphs, headings and table rows under ``element``, in order; sections, lists and
    frames nested any depth are walked with a stack, tables in table cells up to
    :data:`MAX_ODF_TABLE_DEPTH` deep."""
    stack: list[Iterator[ElementTree.Element]] = [iter(element)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
        elif child.tag in (f"{{{_ODF_TEXT}}}p", f"{{{_ODF_TEXT}}}h"):
            yield _odf_text(child, spaces)
        elif child.tag == f"{{{_ODF_TABLE}}}table-row":
            if tables >= MAX_ODF_TABLE_DEPTH:
                raise ValueError(f"tables are nested more than {MAX_ODF_TABLE_DEPTH} deep")
            cells = [" ".join(_odf_blocks(cell, spaces, tables + 1)).strip() for cell in child]
            yield " | ".join(c for c in cells if c)
        else:
            stack.append(iter(child))


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > _MAX_XML_BYTES:
        raise ValueError(f"{name} is too large ({info.file_size} bytes)")
    return archive.read(name)


def parse_odt(label: str, data: bytes, *, doc_id: str, source: str, stem: str) -> Document:
    """An ``.odt`` file: paragraphs, headings, list items and table rows in order."""
    if not data.strip():
        raise LoaderError(label, "empty file")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            content = _read_member(archive, "content.xml")
            meta = _read_member(archive, "meta.xml")
        if content is None:
            raise ValueError("no content.xml")
        body = ElementTree.fromstring(content)
        blocks = list(_odf_blocks(body, _SpaceBudget(len(content))))
        title, date = "", None
        if meta is not None:
            tree = ElementTree.fromstring(meta)
            found = tree.find(f".//{{{_DC}}}title")
            title = _clean_title(found.text if found is not None else None)
            created = tree.find(f".//{{{_ODF_META}}}creation-date")
            if created is None:
                created = tree.find(f".//{{{_DC}}}date")
            date = _core_date(created.text if created is not None else None)
    except (zipfile.BadZipFile, ElementTree.ParseError, ValueError, OSError) as exc:
        raise LoaderError(
            label, f"corrupt or unreadable OpenDocument file: {_one_line(exc)}"
        ) from exc
    return _document(label, blocks, title=title, doc_id=doc_id, source=source, stem=stem, date=date)
