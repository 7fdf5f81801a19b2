"""Depth and size limits for every JSON and JSONL parse of untrusted input.

Python's ``json`` recurses once per nesting level: a body of 100,000 ``[`` raises
``RecursionError`` (not ``ValueError``), and code that walks the parsed value recurses as deeply.
:func:`loads_limited` measures the nesting depth first, in one linear pass without recursion, and
refuses deep or large input with a ``ValueError`` like any other malformed JSON.

The pass reads the text in blocks of :data:`SCAN_BLOCK` bytes, vectorised: a quote is a string
delimiter unless an odd run of backslashes precedes it, a bracket counts only outside strings, and
the state between blocks is three numbers (depth, inside a string, an odd backslash run pending).
The work and the memory are linear in the input whatever it holds (an unterminated string full of
escapes, a million tiny strings); the earlier regex that removed string literals first retried an
unterminated string at each of its quotes, which made a 40 KB body take seconds.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

#: Deepest nesting accepted (documents are flat; a JSONL record nests metadata one level).
MAX_JSON_DEPTH = 64
#: Largest JSON text (one request body or one JSONL record) parsed.
MAX_JSON_BYTES = 64 * 1024 * 1024

#: Bytes scanned per vectorised step (bounds the scan's working memory to a few MB).
SCAN_BLOCK = 1 << 20

_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSE = np.frombuffer(b"]}", dtype=np.uint8)


class JsonLimitError(ValueError):
    """The JSON text is nested too deeply or is too large."""


def json_depth(data: bytes | str) -> int:
    """The deepest nesting of arrays and objects in a JSON text (0 for a scalar).

    One linear pass (see the module's docstring). For valid JSON the count is exact; for invalid
    JSON (a backslash outside a string, an unterminated string) it is a number the parse that
    follows rejects anyway.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    encoding = json.detect_encoding(raw)
    if encoding not in ("utf-8", "utf-8-sig"):  # json.loads reads UTF-16 and UTF-32 bytes too
        try:
            raw = raw.decode(encoding).encode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return 0  # json.loads fails on it in the same way
    if b"[" not in raw and b"{" not in raw:
        return 0
    depth = deepest = 0
    in_string = False
    odd_backslashes = False  # the previous block ended in an odd run of backslashes
    view = memoryview(raw)
    for start in range(0, len(raw), SCAN_BLOCK):
        block = np.frombuffer(view[start : start + SCAN_BLOCK], dtype=np.uint8)
        positions = np.arange(len(block), dtype=np.int64)
        backslash = block == _BACKSLASH
        # Index of the last non-backslash at or before each position (-1: none in this block).
        last_plain = np.maximum.accumulate(np.where(backslash, -1, positions))
        # Backslashes immediately before each position, and whether that run began in the
        # previous block (which then adds its own odd or even run).
        before = np.empty_like(positions)
        before[0] = 0
        before[1:] = positions[:-1] - last_plain[:-1]
        from_start = np.empty(len(block), dtype=bool)
        from_start[0] = True
        from_start[1:] = last_plain[:-1] < 0
        escaped = ((before + (from_start & odd_backslashes)) & 1).astype(bool)
        quotes = (block == _QUOTE) & ~escaped
        inside = ((np.cumsum(quotes, dtype=np.int64) + in_string) & 1).astype(bool)
        steps = np.isin(block, _OPEN).astype(np.int64) - np.isin(block, _CLOSE).astype(np.int64)
        steps[inside] = 0
        running = np.cumsum(steps) + depth
        deepest = max(deepest, int(running.max()))
        depth = int(running[-1])
        in_string = bool(inside[-1])
        trailing = len(block) - 1 - int(last_plain[-1])
        odd_backslashes = bool((trailing + (odd_backslashes and last_plain[-1] < 0)) & 1)
    return deepest


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
