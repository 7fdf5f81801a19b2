"""Depth and size limits for every JSON and JSONL parse of untrusted input.

Python's ``json`` recurses once per nesting level: a body of 100,000 ``[`` raises
``RecursionError`` (not ``ValueError``), and code that walks the parsed value recurses as deeply.
:func:`loads_limited` measures the nesting depth first, without recursion (string literals are
skipped, then brackets counted in a vectorised running sum), and refuses deep or large input with a
``ValueError`` like any other malformed JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

#: Deepest nesting accepted (documents are flat; a JSONL record nests metadata one level).
MAX_JSON_DEPTH = 64
#: Largest JSON text (one request body or one JSONL record) parsed.
MAX_JSON_BYTES = 64 * 1024 * 1024

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPEN = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSE = np.frombuffer(b"]}", dtype=np.uint8)


class JsonLimitError(ValueError):
    """The JSON text is nested too deeply or is too large."""


def json_depth(data: bytes | str) -> int:
    """The deepest nesting of arrays and objects in a JSON text (0 for a scalar)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if b"[" not in raw and b"{" not in raw:
        return 0
    structure = _STRING.sub(b"", raw)
    arr = np.frombuffer(structure, dtype=np.uint8)
    steps = np.isin(arr, _OPEN).astype(np.int32) - np.isin(arr, _CLOSE).astype(np.int32)
    if not len(steps):
        return 0
    return int(np.cumsum(steps).max())


def check_json(
    data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH, max_bytes: int = MAX_JSON_BYTES
) -> None:
    """Raise :class:`JsonLimitError` when ``data`` is larger or deeper than allowed."""
    if len(data) > max_bytes:
        raise JsonLimitError(f"the JSON text is larger than {max_bytes} bytes")
    depth = json_depth(data)
    if depth > max_depth:
        raise JsonLimitError(f"the JSON is nested {depth} levels deep; the limit is {max_depth}")


def loads_limited(
    data: bytes | str,
    *,
    max_depth: int = MAX_JSON_DEPTH,
    max_bytes: int = MAX_JSON_BYTES,
    **kwargs: Any,
) -> Any:
    """``json.loads`` after :func:`check_json`; every failure is a ``ValueError``."""
    check_json(data, max_depth=max_depth, max_bytes=max_bytes)
    try:
        return json.loads(data, **kwargs)
    except RecursionError as exc:  # cannot happen below the depth limit, but never a 500
        raise JsonLimitError("the JSON is nested too deeply") from exc
