"""Plain text and Markdown files: decoding, binary detection, title from the first line."""

from __future__ import annotations

import logging
import re

from index.records import Document
from rag.errors import LoaderError
from rag.layout import reflow
from rag.loaders.building import build_document
from rag.loaders.encoding import decode_legacy

logger = logging.getLogger(__name__)

MAX_TITLE_CHARS = 200
# Share of control characters (other than tab, newlines, form feed) above which text is binary.
_MAX_CONTROL_RATIO = 0.05
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# Control bytes no legacy text encoding uses (ESC is ISO-2022's): in bytes that are not UTF-8,
# one of them means binary content.
_CONTROL_BYTES_RE = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode_text(label: str, data: bytes) -> str:
    """Decode the bytes of a text file, keeping the text exactly except ``\\r\\n`` -> ``\\n``.

    UTF-8 (with or without BOM) first; UTF-16 when the file starts with its BOM; otherwise, when
    UTF-8 fails and the bytes hold no NUL, the encoding charset-normalizer detects
    (:func:`~rag.loaders.encoding.decode_legacy`; refused when unsure). Raises
    :class:`LoaderError` for empty, whitespace-only, binary and undecidable content.
    """
    if not data.strip():
        raise LoaderError(label, "empty file")
    if data.startswith(_UTF16_BOMS):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LoaderError(label, f"not valid UTF-16 text ({exc.reason})") from exc
    elif b"\x00" in data:
        raise LoaderError(label, "binary file, not text")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            if _CONTROL_BYTES_RE.search(data):
                raise LoaderError(label, "binary file, not text") from None
            text = decode_legacy(label, data)
    text = text.replace("\r\n", "\n")
    if len(_CONTROL_RE.findall(text)) > _MAX_CONTROL_RATIO * len(text):
        raise LoaderError(label, "binary file, not text")
    if not text.strip():
        raise LoaderError(label, "empty file")
    return text


def title_from_text(text: str, stem: str, *, markdown: bool = False) -> str:
    """The first non-empty line when it is short (Markdown heading marks removed), else ``stem``."""
    for line in text.split("\n"):
        candidate = line.strip()
        if markdown:
            candidate = candidate.lstrip("#").strip()
        if candidate:
            return candidate if len(candidate) <= MAX_TITLE_CHARS else stem
    return stem


def parse_text(
    label: str, data: bytes, *, doc_id: str, source: str, stem: str, markdown: bool = False
) -> Document:
    """A ``.txt`` or ``.md`` file as one document, hard-wrapped paragraphs joined
    (:func:`rag.layout.reflow`); Markdown structure (headings, lists, code) is kept."""
    text = reflow(decode_text(label, data))
    return build_document(
        label,
        doc_id=doc_id,
        title=title_from_text(text, stem, markdown=markdown),
        text=text,
        source=source,
    )
