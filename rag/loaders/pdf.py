"""PDF files via pypdf: text per page, wrapped lines joined, pages kept as character offsets."""

from __future__ import annotations

import io
import logging
import re

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError

from index.records import Document
from rag.errors import LoaderError
from rag.layout import CONTINUING_WORDS, FULL_LINE, reflow, wrap_width
from rag.loaders.building import build_document

logger = logging.getLogger(__name__)

PAGE_SEPARATOR = "\n\n"
MAX_TITLE_CHARS = 200
_SENTENCE_END_RE = re.compile(r"[.!?]\s+[A-Z]")
_ENCRYPTED = "encrypted PDF; decrypt it first"
# Info-dictionary titles that are really the name of the file the PDF was made from
# ("korea-norway.html", "Microsoft Word - brief.docx"): stale, so not used.
_FILE_NAME_TITLE_RE = re.compile(
    r"(?:^microsoft \w+ - )|(?:\.(?:html?|docx?|rtf|odt|txt|pdf|pptx?|xlsx?|indd|tex|md)\s*$)",
    re.IGNORECASE,
)


def _open(label: str, data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
    except Exception as exc:  # pypdf raises many types on damaged input
        raise LoaderError(label, f"corrupt or unreadable PDF: {_one_line(exc)}") from exc
    if reader.is_encrypted:
        try:
            result = reader.decrypt("")
        except (DependencyError, NotImplementedError) as exc:
            raise LoaderError(label, f"{_ENCRYPTED} ({_one_line(exc)})") from exc
        except Exception as exc:
            raise LoaderError(label, f"corrupt or unreadable PDF: {_one_line(exc)}") from exc
        if result == PasswordType.NOT_DECRYPTED:
            raise LoaderError(label, _ENCRYPTED)
        logger.info("%s: encrypted PDF opened with the empty password", label)
    return reader


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _title(reader: PdfReader, label: str) -> str:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:  # broken info dictionaries are common; the title is optional
        return ""
    if not isinstance(title, str):
        return ""
    title = " ".join(title.split())
    if _FILE_NAME_TITLE_RE.search(title) or title.lower() in ("untitled", "title"):
        logger.info("%s: PDF title %r looks like a file name, not used", label, title)
        return ""
    return title


def _date(reader: PdfReader, label: str) -> str | None:
    """The info dictionary's CreationDate as ``YYYY-MM-DD`` (the date the file was made: the
    best a PDF says of when it was written), or None."""
    try:
        metadata = reader.metadata
        created = metadata.creation_date if metadata is not None else None
    except Exception:  # a malformed date string raises; the date is optional
        logger.info("%s: unreadable PDF CreationDate, not used", label)
        return None
    return created.date().isoformat() if created is not None else None


def heading_title(page: str, width: int = 0) -> str:
    """The opening heading line of a page's raw text, or ``""``: its first non-blank line when
    that reads as a heading, not as the first wrapped line of a paragraph: short (under the wrap
    ``width`` when the lines are hard-wrapped), a capital first, no sentence end inside, no
    sentence or clause punctuation nor a word like "the" or "of" at its end, and the next line
    not going on in lower case."""
    lines = [" ".join(line.split()) for line in page.split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    line, after = lines[0], lines[1] if len(lines) > 1 else ""
    heading = (
        len(line) <= MAX_TITLE_CHARS
        and (not width or len(line) < FULL_LINE * width)
        and not line[0].islower()
        and any(c.isalpha() for c in line)
        and not line.endswith((".", ",", ";", ":", "-"))
        and _SENTENCE_END_RE.search(line) is None
        and line.rsplit(maxsplit=1)[-1].lower() not in CONTINUING_WORDS
        and not after[:1].islower()
    )
    return line if heading else ""


def _continues(previous: str, page: str) -> bool:
    """True when ``page`` goes on with the sentence ``previous`` ended in (joined by a space)."""
    end = previous[-1:]
    return bool(end) and (end.isalnum() or end in ",;") and page[:1].islower()


def parse_pdf(label: str, data: bytes, *, doc_id: str, source: str, stem: str) -> Document:
    """A ``.pdf`` file as one document: page texts joined by a blank line (by a space when a
    sentence runs on to the next page), wrapped lines joined, pages kept.

    The title is the info dictionary's Title when it is a real title, else page 1's opening
    heading line, else the file name; the date is the CreationDate."""
    if not data.strip():
        raise LoaderError(label, "empty file")
    reader = _open(label, data)
    pages: list[str] = []
    try:
        for page in reader.pages:
            pages.append(page.extract_text().replace("\r\n", "\n"))
    except (DependencyError, FileNotDecryptedError) as exc:
        raise LoaderError(label, f"{_ENCRYPTED} ({_one_line(exc)})") from exc
    except Exception as exc:  # damaged content streams raise anything
        raise LoaderError(label, f"corrupt or unreadable PDF: {_one_line(exc)}") from exc
    if not any(page.strip() for page in pages):
        raise LoaderError(label, "PDF has no extractable text (scanned?); run OCR on it first")
    # Every line of a PDF is a wrap; the width is measured over all pages (one page may be short).
    width = wrap_width([line for page in pages for line in page.split("\n")])
    heading = next((heading_title(page, width) for page in pages if page.strip()), "")
    pages = [reflow(page, width=width) for page in pages]
    page_starts: list[int] = []
    parts: list[str] = []
    offset = 0
    for n, text in enumerate(pages):
        if n:
            separator = " " if _continues(pages[n - 1], text) else PAGE_SEPARATOR
            parts.append(separator)
            offset += len(separator)
        page_starts.append(offset)
        parts.append(text)
        offset += len(text)
    return build_document(
        label,
        doc_id=doc_id,
        title=_title(reader, label) or heading or stem,
        text="".join(parts),
        source=source,
        date=_date(reader, label),
        page_starts=page_starts,
    )
