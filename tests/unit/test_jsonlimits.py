"""Depth and size limits on every JSON parse."""

from __future__ import annotations

import pytest

from rag.jsonlimits import JsonLimitError, check_json, json_depth, loads_limited


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
