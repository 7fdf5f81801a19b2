"""Joining hard-wrapped lines into paragraphs, on invented texts."""

from __future__ import annotations

from rag.layout import reflow, wrap_width

WRAPPED = (
    "The village council met on a rainy Tuesday to discuss the new bridge over\n"
    "the river, which had been planned for many years but never quite finished\n"
    "because the money always ran out before the second span could be built by\n"
    "the contractors who came from the town on the other side of the valley and\n"
    "who were paid by the week rather than by the job, as everyone agreed later.\n"
    "\n"
    "The second paragraph is short.\n"
)


def test_wrapped_lines_are_joined_with_spaces() -> None:
    out = reflow(WRAPPED)
    assert "bridge over the river" in out
    assert "by the contractors" in out


def test_blank_lines_stay_paragraph_breaks() -> None:
    out = reflow(WRAPPED)
    assert "\n\nThe second paragraph is short." in out


def test_reflow_keeps_the_text_length_or_shortens_it() -> None:
    assert len(reflow(WRAPPED)) <= len(WRAPPED)


def test_a_sentence_per_line_text_is_left_alone() -> None:
    text = "One short line.\nAnother short line.\nA third.\n"
    assert reflow(text) == text


def test_markdown_lists_keep_their_lines() -> None:
    text = WRAPPED + "\n- apples\n- pears\n"
    assert "- apples\n- pears" in reflow(text)


def test_wrap_width_of_uniform_lines() -> None:
    width = wrap_width(WRAPPED.splitlines())
    assert 70 <= width <= 80


def test_empty_text() -> None:
    assert reflow("") == ""
