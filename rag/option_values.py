"""Values given as command-line text: a scalar typed from its text, ``KEY=VALUE`` filter options
made into :class:`rag.filters.Filters` (:mod:`rag.filters` holds the one definition of the filter
fields and of how a mapping becomes filters), the number of passages, and the one-line error that
names the option or ``RAG_*`` variable a bad setting came from."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from index.errors import InvalidFilterError
from rag.errors import SettingsError
from rag.settings import MAX_K

if TYPE_CHECKING:
    from pydantic import ValidationError

    from rag.filters import Filters


def parse_scalar(raw: str) -> str | int | float | bool:
    """A command-line value as bool, int, float or str, in that order of preference."""
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    try:
        number = int(raw)
    except ValueError:
        pass
    else:
        if not -(2**63) <= number < 2**63:
            raise InvalidFilterError(
                f"filter value {raw[:40]!r} does not fit in 64 bits",
                hint="metadata integers are 64-bit; quote-free text values are compared as text",
            )
        return number
    try:
        value = float(raw)
    except ValueError:
        return raw
    return value if math.isfinite(value) else raw


def parse_filters(items: Sequence[str]) -> Filters | None:
    """``KEY=VALUE`` options into :class:`rag.filters.Filters` (doc_id may repeat; a built-in
    field's value is text, a metadata value is typed by :func:`parse_scalar`)."""
    from rag.filters import BUILTIN_FILTER_KEYS, coerce_filters  # the query path stays light

    doc_ids: list[str] = []
    fields: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidFilterError(
                f"filter {item!r} is not KEY=VALUE",
                hint="e.g. --filter date_from=2022 --filter country=SWE --filter doc_id=ID",
            )
        if key == "doc_id":
            doc_ids.append(value)
        elif key in fields or key in metadata:
            raise InvalidFilterError(
                f"filter key {key!r} is given twice",
                hint="give each key once; only doc_id repeats (documents with any of the ids)",
            )
        elif key in BUILTIN_FILTER_KEYS:
            fields[key] = value
        else:
            metadata[key] = parse_scalar(value)
    if doc_ids:
        fields["doc_id"] = doc_ids
    try:
        # Metadata goes in under "metadata", so that a key named like a field alias
        # (``metadata``, ``doc_ids``) stays a metadata key, as given.
        return coerce_filters({**fields, "metadata": metadata})
    except InvalidFilterError as exc:
        raise InvalidFilterError(
            exc.message, hint=exc.hint or "e.g. --filter date_from=2022-03"
        ) from None


#: Command-line option of each setting that has one (the rest come from RAG_* variables).
OPTION_OF = {
    "index_dir": "--index",
    "chunk_tokens": "--chunk-tokens",
    "vector_index": "--vector-index",
    "host": "--host",
    "port": "--port",
    "ray_address": "--ray",
    "ray_actors": "--ray-actors",
}


def settings_error(exc: ValidationError, overrides: dict[str, Any]) -> SettingsError:
    """One line naming each bad option or variable, its value and the form expected."""
    problems: list[str] = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "settings"
        where = (
            OPTION_OF.get(field, f"RAG_{field.upper()}")
            if field in overrides
            else f"RAG_{field.upper()}"
        )
        value = err.get("input")
        shown = f" {value!r}" if isinstance(value, str | int | float) else ""
        message = str(err["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}{shown}: {message}")
    return SettingsError(
        "invalid setting: " + "; ".join(problems[:3]),
        hint="see `rag --help` and the settings in the README",
    )


def parse_passages(value: str) -> int:
    """``--k``: a whole number of passages, 1 to 50 (argparse makes a bad one a usage error)."""
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 1 <= k <= MAX_K:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_K}, not {k}")
    return k
