"""Turning parsed fields into a validated :class:`Document`, with loader-style errors."""

from __future__ import annotations

import re

from pydantic import ValidationError

from index.records import Document, MetadataValue
from rag.errors import LoaderError

# UTF-16 surrogate code points: a lone one (a JSON "\\ud800") is no character, and cannot be
# stored, embedded or written as UTF-8.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def validation_reason(error: ValidationError) -> str:
    """A one-line summary of a pydantic validation error."""
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "document"
        parts.append(f"{field}: {item['msg']}")
    return "invalid document (" + "; ".join(parts) + ")"


def unencodable_field(fields: dict[str, object]) -> str | None:
    """What the first string of ``fields`` (metadata: its keys and values too) holding a lone
    surrogate is, as one line, or None when all are valid Unicode text."""
    for name, value in fields.items():
        pairs = value.items() if isinstance(value, dict) else [(None, value)]
        for key, item in pairs:
            where = name if key is None else f"{name} key {str(key)[:40]!r}"
            for text in (key, item):
                found = _SURROGATE_RE.search(text) if isinstance(text, str) else None
                if found is not None:
                    return (
                        f"{where} holds a lone surrogate (U+{ord(found.group()):04X}) at "
                        f"character {found.start()}, which is not valid Unicode text; fix the "
                        "escape (e.g. \\ud800 without its low half) or remove it"
                    )
    return None


def build_document(
    label: str,
    *,
    doc_id: str,
    text: str,
    title: str = "",
    source: str = "",
    date: str | None = None,
    metadata: dict[str, MetadataValue] | None = None,
    page_starts: list[int] | None = None,
) -> Document:
    """Build a :class:`Document`; a validation failure becomes a :class:`LoaderError`, and so
    does text that is not valid Unicode (a lone surrogate), which could be neither stored nor
    embedded."""
    bad = unencodable_field(
        {"id": doc_id, "title": title, "text": text, "source": source, "metadata": metadata or {}}
    )
    if bad is not None:
        raise LoaderError(label, bad)
    try:
        return Document(
            id=doc_id,
            title=title,
            text=text,
            source=source,
            date=date,
            metadata=metadata or {},
            page_starts=page_starts,
        )
    except ValidationError as exc:
        raise LoaderError(label, validation_reason(exc)) from exc
