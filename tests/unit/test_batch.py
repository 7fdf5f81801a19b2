"""Batch question files without an index: how lines and records become questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.batch import looks_like_jsonl, parse_questions, read_capped, read_questions
from rag.errors import LoaderError


@pytest.mark.parametrize(
    ("text", "jsonl"),
    [
        ('\n  {"question": "Where is Ottawa?"}\n{"question": "x"}', True),
        ('{"question": "a"}', True),
        ("Where is Ottawa?\nWho spoke for Seoul?", False),
        ('{not json at all}\n{"question": "x"}', False),
        ('["a list"]', False),
        ('"a bare string"', False),
        ("", False),
    ],
)
def test_standard_input_is_jsonl_when_its_first_line_is_an_object(text: str, jsonl: bool) -> None:
    assert looks_like_jsonl(text) is jsonl


def test_records_keep_their_line_numbers_and_options() -> None:
    text = '{"id": 7, "question": "Where is Ottawa?", "k": 3, "mode": "lexical"}\n\n"Seoul?"\n[1]'
    items = parse_questions(text, jsonl=True)
    assert [(i.line, i.question, i.id, i.k, i.mode) for i in items[:2]] == [
        (1, "Where is Ottawa?", "7", 3, "lexical"),
        (3, "Seoul?", None, None, None),
    ]
    assert items[2].line == 4 and items[2].error == 'a record needs a "question" string'


def test_plain_lines_are_questions_as_written() -> None:
    items = parse_questions('{"question": "kept as text"}\n  Who spoke for Ankara?  \n', False)
    assert [(i.line, i.question) for i in items] == [
        (1, '{"question": "kept as text"}'),
        (2, "Who spoke for Ankara?"),
    ]


def test_questions_are_read_up_to_a_cap(tmp_path: Path) -> None:
    """Issue 28: `rag ask --file /dev/zero` read 2.3 GB in 4.5 s and went on."""
    path = tmp_path / "q.txt"
    path.write_text("What?\n" * 10)
    assert len(read_questions(path, max_bytes=60)) == 10
    with pytest.raises(LoaderError, match="more than 59 bytes"):
        read_questions(path, max_bytes=59)
    with open("/dev/zero", "rb") as zero, pytest.raises(LoaderError, match="the limit is 1000"):
        read_capped(zero, 1000, "/dev/zero")
