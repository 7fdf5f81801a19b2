"""The :class:`Filters` model, filters given as mappings, and the checks that a filter names keys
and values the index has."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from index.errors import InvalidFilterError
from index.records import ChunkFilter, MetadataValue, is_iso_date


class Filters(BaseModel):
    """Restrict retrieval to some documents. Every field is optional; all given must hold."""

    model_config = ConfigDict(extra="forbid")

    doc_ids: list[str] | None = Field(None, description="Only these document ids.")
    source: str | None = Field(None, description="Only documents with exactly this source.")
    date_from: str | None = Field(
        None, description="Only documents dated on/after (YYYY[-MM[-DD]])."
    )
    date_to: str | None = Field(
        None, description="Only documents dated on/before (YYYY[-MM[-DD]])."
    )
    metadata: dict[str, MetadataValue] = Field(
        default_factory=dict, description="Only documents whose metadata has these key/values."
    )

    @field_validator("date_from", "date_to")
    @classmethod
    def _date_is_iso(cls, value: str | None) -> str | None:
        if value is not None and not is_iso_date(value):
            raise ValueError("dates are written YYYY, YYYY-MM or YYYY-MM-DD (a real date)")
        return value

    @model_validator(mode="after")
    def _dates_in_order(self) -> Filters:
        # date_to "2021" takes all of 2021 (a document's date compares as a prefix)
        if self.date_from and self.date_to and self.date_from > self.date_to + "~":
            raise ValueError(
                f"date_from {self.date_from} is after date_to {self.date_to}: no document can "
                "match; swap them"
            )
        return self

    def to_chunk_filter(self) -> ChunkFilter:
        return ChunkFilter(
            doc_ids=frozenset(self.doc_ids) if self.doc_ids is not None else None,
            source=self.source,
            date_from=self.date_from,
            date_to=self.date_to,
            metadata=dict(self.metadata),
        )


#: Filter fields every index has; any other key is matched against document metadata.
BUILTIN_FILTER_KEYS = ("doc_id", "source", "date_from", "date_to")


def filter_fields(filters: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of :class:`Filters` from a filter mapping in either shape: flat
    (``{"country": "SWE", "date_from": "2022", "doc_id": ["a", "b"]}``, as the CLI, the Python
    API and MCP take it) or nested (``{"metadata": {"country": "SWE"}, "doc_ids": [...]}``, as
    ``POST /ask`` always took it), or a mix; keys that are no built-in field are metadata."""
    fields: dict[str, Any] = {}
    nested = filters.get("metadata")
    metadata: dict[str, Any] = dict(nested) if isinstance(nested, Mapping) else {}
    if nested is not None and not isinstance(nested, Mapping):
        fields["metadata"] = nested  # left for validation to refuse
    for key, value in filters.items():
        if key == "metadata":
            continue
        if key in ("doc_id", "doc_ids"):
            # A list as given; anything else but a string is left for validation to refuse.
            fields["doc_ids"] = [value] if isinstance(value, str) else value
        elif key in BUILTIN_FILTER_KEYS:
            fields[key] = value
        else:
            metadata[key] = value
    fields.setdefault("metadata", metadata)
    return fields


def _problem(error: Any) -> str:
    """One validation error as ``field: message`` (only the message for the whole filter)."""
    message = str(error["msg"]).removeprefix("Value error, ")
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {message}" if where else message


def coerce_filters(filters: Filters | Mapping[str, Any] | None) -> Filters | None:
    """A :class:`Filters` from itself or from a mapping in either shape (:func:`filter_fields`)."""
    if filters is None or isinstance(filters, Filters):
        return filters
    try:
        return Filters(**filter_fields(filters))
    except ValidationError as exc:
        shown = "; ".join(_problem(e) for e in exc.errors()[:3])
        raise InvalidFilterError(f"invalid filter: {shown}") from None


def known_filter_keys(metadata_keys: Mapping[str, Any]) -> list[str]:
    return [*BUILTIN_FILTER_KEYS, *sorted(metadata_keys)]


def check_filter_keys(filters: Filters, metadata_values: Mapping[str, Any]) -> None:
    """:class:`InvalidFilterError` naming the known keys when a metadata key is in no document."""
    unknown = sorted(k for k in filters.metadata if k not in metadata_values)
    if unknown:
        known = ", ".join(known_filter_keys(metadata_values))
        raise InvalidFilterError(
            f"unknown filter key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(k) for k in unknown)}; known keys: {known}",
            hint="filter on a built-in field or a metadata key that documents in the index have",
        )


#: Close values named when a filter value matches no document.
MAX_CLOSE = 5


def _close(value: str, candidates: Sequence[str], found: Sequence[str]) -> list[str]:
    """Values like ``value``: the index's own containing it (any case), then similar ones."""
    similar = difflib.get_close_matches(value, list(candidates), n=MAX_CLOSE, cutoff=0.6)
    lower = {c.lower(): c for c in candidates}
    same_case = [lower[value.lower()]] if value.lower() in lower else []
    return list(dict.fromkeys([*same_case, *found, *similar]))[:MAX_CLOSE]


def _nothing(what: str, close: Sequence[str], hint: str) -> InvalidFilterError:
    shown = f"; close: {', '.join(close)}" if close else ""
    return InvalidFilterError(f"no document has {what}{shown}", hint=hint)


def check_filters(filters: Filters, snap: Any, metadata_values: Mapping[str, Any]) -> None:
    """:class:`InvalidFilterError` when a filter could only ever abstain: a metadata key no
    document has (naming the known keys), or a value of one field that no document has
    (``country=fin``: "no document has country 'fin'; close: FIN"; an unknown ``doc_id``, a
    ``source``, a date range holding no dated document), naming close values. Each condition is
    checked alone; conditions that each match some document may still match none together.

    ``snap`` is an index snapshot (:class:`index.store.Snapshot`); ``metadata_values`` its
    metadata keys with their commonest values."""
    if filters.metadata:
        check_filter_keys(filters, metadata_values)
    hint = "GET /filters or `rag stats` shows what the index holds"
    for key, value in sorted(filters.metadata.items()):
        if snap.any_document(ChunkFilter(metadata={key: value})):
            continue
        text = json.dumps(value) if isinstance(value, bool) else str(value)
        close = _close(
            text,
            [str(v) for v in metadata_values.get(key, [])],
            snap.values_containing("metadata", text, key=key),
        )
        raise _nothing(f"{key} {text!r}", close, hint)
    if filters.doc_ids is not None:
        missing = sorted(set(filters.doc_ids) - snap.existing_ids(filters.doc_ids))
        if missing:
            first = missing[0]
            more = f" (nor {len(missing) - 1} more of the ids given)" if len(missing) > 1 else ""
            close = _close(first, [], snap.values_containing("id", first))
            error = _nothing(f"id {first!r}{more}", close, "`rag documents list` shows the ids")
            raise error
    if filters.source is not None and not snap.any_document(ChunkFilter(source=filters.source)):
        close = _close(
            filters.source, snap.source_values(), snap.values_containing("source", filters.source)
        )
        raise _nothing(f"source {filters.source!r}", close, hint)
    if (filters.date_from or filters.date_to) and not snap.any_document(
        ChunkFilter(date_from=filters.date_from, date_to=filters.date_to)
    ):
        low, high = snap.date_range()
        span = " and ".join(
            p
            for p in (
                f"from {filters.date_from}" if filters.date_from else "",
                f"to {filters.date_to}" if filters.date_to else "",
            )
            if p
        )
        dated = (
            "no document has a date"
            if not low
            else f"documents are dated {low}" + (f" to {high}" if high != low else "")
        )
        raise InvalidFilterError(
            f"no document is dated {span} ({dated})",
            hint="documents without a date never pass a date filter; give dates at ingest "
            "with `rag ingest --date` or a JSONL 'date'",
        )


class FilterOptions(BaseModel):
    """What a filter form can offer: the keys and the values present in the index."""

    keys: list[str] = Field(..., description="Every filter key: built-in fields, then metadata.")
    sources: list[str] = Field(
        default_factory=list, description="Document sources, commonest first."
    )
    date_min: str | None = Field(None, description="Earliest document date.")
    date_max: str | None = Field(None, description="Latest document date.")
    metadata: dict[str, list[str]] = Field(
        default_factory=dict, description="Each metadata key with its commonest values (as text)."
    )
