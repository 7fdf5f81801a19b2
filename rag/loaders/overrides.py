"""Fields that one ingest call sets on every document it reads.

``rag ingest --date D --meta K=V`` and the upload form's (and ``POST /documents``'s) ``date`` and
``meta`` fields give documents the date and metadata their files do not hold (a plain text file
has neither), so that ``--filter date_to=2021`` or ``--filter country=SWE`` finds them. A date
given here replaces the one read from the file; metadata given here is added to the file's own
(JSONL records'), a key given here winning.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from index.records import Document, MetadataValue
from rag.loaders.failure import LoadFailure
from rag.loaders.jsonl import normalise_date

#: Longest metadata key or text value accepted from the command line or a form.
MAX_META_CHARS = 512
#: Built-in document fields and filter keys, which a metadata key may not shadow.
RESERVED_KEYS = frozenset(
    {"id", "doc_id", "doc_ids", "title", "text", "source", "date", "date_from", "date_to"}
)


def meta_value(raw: str) -> MetadataValue:
    """A metadata value given as text: ``true``/``false``, a 64-bit integer, a finite number,
    else the text itself (as the CLI's ``--filter`` reads values, so that filters match)."""
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    try:
        number = int(raw)
    except ValueError:
        pass
    else:
        return number if -(2**63) <= number < 2**63 else raw
    try:
        value = float(raw)
    except ValueError:
        return raw
    return value if math.isfinite(value) else raw


@dataclass(frozen=True)
class DocumentFields:
    """A date and metadata to set on every document of one ingest call."""

    date: str | None = None
    metadata: dict[str, MetadataValue] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.date is not None or bool(self.metadata)

    @classmethod
    def parse(cls, meta: Sequence[str] = (), date: str | None = None) -> DocumentFields:
        """From ``KEY=VALUE`` texts and a date text; :class:`ValueError` saying what is wrong."""
        metadata: dict[str, MetadataValue] = {}
        for item in meta:
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"metadata {item[:80]!r} is not UTF-8 text") from None
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ValueError(f"metadata {item[:80]!r} is not KEY=VALUE (e.g. country=SWE)")
            if key in RESERVED_KEYS:
                raise ValueError(
                    f"metadata key {key!r} is a built-in field; "
                    + ("use --date / the date field" if key == "date" else "choose another key")
                )
            if key in metadata:
                raise ValueError(f"metadata key {key!r} is given twice")
            if len(key) > MAX_META_CHARS or len(value) > MAX_META_CHARS:
                raise ValueError(f"metadata keys and values are at most {MAX_META_CHARS} chars")
            metadata[key] = meta_value(value.strip())
        normal = None
        if date is not None and date.strip():
            normal = normalise_date(date)
            if normal is None:
                raise ValueError(
                    f"date {date[:40]!r} is not a date; write YYYY, YYYY-MM or YYYY-MM-DD"
                )
        return cls(date=normal, metadata=metadata)

    def apply(self, document: Document) -> Document:
        """``document`` with this date (when set) and this metadata over its own."""
        if not self:
            return document
        update: dict[str, object] = {"metadata": {**document.metadata, **self.metadata}}
        if self.date is not None:
            update["date"] = self.date
        return document.model_copy(update=update)


def with_fields(
    items: Iterable[Document | LoadFailure], fields: DocumentFields
) -> Iterator[Document | LoadFailure]:
    """``items`` with ``fields`` set on every document (failures pass through), lazily."""
    for item in items:
        yield fields.apply(item) if isinstance(item, Document) else item
