"""Depth and size limits on every JSON parse."""

from __future__ import annotations

import contextlib
import time

import pytest

from rag import jsonlimits
from rag.jsonlimits import SCAN_BLOCK, JsonLimitError, check_json, json_depth, loads_limited


@pytest.mark.parametrize(
    ("text", "depth"),
    [("1", 0), ('"[[["', 0), ("[]", 1), ('{"a": [1, {"b": 2}]}', 3), ('["]", [[]]]', 3)],
)
def test_depth_ignores_brackets_inside_strings(text: str, depth: int) -> None:
    assert json_depth(text) == depth


def test_bytes_and_text_give_the_same_depth() -> None:
    assert json_depth(b"[[1]]") == json_depth("[[1]]") == 2


def test_too_deep_is_refused() -> None:
    with pytest.raises(JsonLimitError, match="nested"):
        check_json("[" * 5 + "]" * 5, max_depth=4)


def test_too_large_is_refused() -> None:
    with pytest.raises(JsonLimitError, match="larger"):
        check_json('"' + "x" * 100 + '"', max_bytes=50)


def test_loads_limited_parses_within_limits() -> None:
    assert loads_limited('{"a": [1, 2]}') == {"a": [1, 2]}


def test_loads_limited_failures_are_value_errors() -> None:
    with pytest.raises(ValueError):
        loads_limited("{not json")
    with pytest.raises(ValueError):
        loads_limited("[" * 100 + "]" * 100, max_depth=64)


# --- linear time (issue 28: a 40 KB body froze the server for 10 s) ---------------------------
#: Shapes that made the old check quadratic (an unterminated string full of escaped quotes) or
#: that a linear check must still walk through quickly (many tiny strings, many brackets).
HOSTILE_SHAPES = {
    "unterminated escapes": lambda n: b'["' + b'\\"' * (n // 2),
    "escapes then a bracket": lambda n: b'["' + b'\\"x' * (n // 3) + b"]",
    "tiny strings": lambda n: b"[" + b'"",' * (n // 3) + b'""]',
    "flat brackets": lambda n: b"[" + b"[]," * (n // 3) + b"[]]",
    "one long string": lambda n: b'{"text": "' + b"word " * (n // 5) + b'"}',
}


@pytest.mark.parametrize("shape", sorted(HOSTILE_SHAPES))
def test_depth_check_is_linear(shape: str) -> None:
    """40 KB took 5 s and 400 KB minutes before; now 4 MB takes about 0.1 s. Sizes grow so
    that a quadratic check fails at the small one instead of running for hours."""
    for size, budget in ((40_000, 0.5), (400_000, 1.5), (4_000_000, 3.0)):
        data = HOSTILE_SHAPES[shape](size)
        start = time.process_time()  # CPU seconds: other processes on the machine do not count
        with contextlib.suppress(ValueError):
            check_json(data)
        elapsed = time.process_time() - start
        assert elapsed < budget, f"{shape}: {len(data)} bytes took {elapsed:.2f} s"


def test_depth_limit_still_holds_on_large_input() -> None:
    """Depth is counted across scan blocks: deep nesting after 2 MB of string is still refused,
    and brackets inside a string that spans blocks (with escapes at the seams) do not count."""
    filler = b"x" * (SCAN_BLOCK - 7) + b'\\\\\\"[[[' + b"y" * SCAN_BLOCK
    assert json_depth(b'["' + filler + b'"]') == 1
    with pytest.raises(JsonLimitError, match="nested 65 levels"):
        check_json(b'["' + filler + b'", ' + b"[" * 64 + b"]" * 64 + b"]")


@pytest.mark.parametrize("block", [1, 2, 3, 7])
def test_depth_is_exact_whatever_the_block_size(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonlimits, "SCAN_BLOCK", block)
    samples = {
        '{"a\\\\": [1, {"b": "\\"]]["}]}': 3,
        '["\\\\\\"[", [[{}]]]': 4,
        '"\\\\"': 0,
        '[["]]\\\\"]]': 2,
    }
    for text, depth in samples.items():
        assert json_depth(text) == depth, text
        assert json_depth(text.encode("utf-16")) == depth, text
