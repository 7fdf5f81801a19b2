"""Filters given as mappings, and the check that a metadata filter names a key the index has."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from index.errors import InvalidFilterError
from rag.models import Filters

#: Filter fields every index has; any other key is matched against document metadata.
BUILTIN_FILTER_KEYS = ("doc_id", "source", "date_from", "date_to")


def coerce_filters(filters: Filters | Mapping[str, Any] | None) -> Filters | None:
    """A :class:`Filters` from itself or from a flat mapping (``{"country": "SWE",
    "date_from": "2022", "doc_id": ["a", "b"]}``); unknown keys go to ``metadata``."""
    if filters is None or isinstance(filters, Filters):
        return filters
    fields: dict[str, Any] = {}
    metadata: dict[str, Any] = dict(filters.get("metadata") or {})
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
    try:
        return Filters(metadata=metadata, **fields)
    except ValidationError as exc:
        shown = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {str(e['msg']).removeprefix('Value error, ')}"
            for e in exc.errors()[:3]
        )
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
