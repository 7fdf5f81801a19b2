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


def test_blank_lines_inside_a_sentence_are_joined_in_any_text() -> None:
    """A transcript breaks sentences with blank lines; its long lines are not hard-wrapped."""
    text = (
        "Mr. President,\n\nOur delegation speaks for the farmers of the river delta, who "
        "have waited many years for the water agreement that was\n\npromised to them "
        "in 2019, and for the roads that were never\n\n\nbuilt.\n\nThank you."
    )
    out = reflow(text)
    assert "agreement that was promised to them" in out
    assert "were never built." in out
    assert "Mr. President,\n\nOur delegation" in out  # the next line starts a sentence
    assert out.endswith("built.\n\nThank you.")


def test_structure_and_code_keep_blank_lines_before_lower_case() -> None:
    text = (
        "6. Questions of procedure\n\na. clearance of the minutes\n\n"
        "```\nvalue = compute\n\nresult = value\n```\n"
    )
    assert reflow(text) == text


def test_a_short_hard_wrapped_paragraph_is_one_paragraph() -> None:
    """Three wrapped lines are too few to measure a wrap width; the lines still go on with
    their sentence (a lower-case start, a line ending in "of")."""
    text = (
        "Norway said on Tuesday that its fisheries\n"
        "accord with Iceland would be extended until the end of 2031, after two rounds of\n"
        "Talks in Reykjavik and Oslo.\n"
    )
    assert reflow(text) == (
        "Norway said on Tuesday that its fisheries accord with Iceland would be extended "
        "until the end of 2031, after two rounds of Talks in Reykjavik and Oslo.\n"
    )
    address = "Ministry of Foreign Affairs\nGustav Adolfs torg 1\nStockholm\n"
    assert reflow(address) == address


def test_a_word_hyphenated_at_a_line_end_is_joined() -> None:
    short = "The report was a scien-\ntific study of the Arctic.\n"
    assert reflow(short) == "The report was a scientific study of the Arctic.\n"
    wrapped = WRAPPED.replace("which had been planned", "which was a scien-\ntific plan")
    out = reflow(wrapped)
    assert "a scientific plan" in out and "scien-" not in out
    # compounds keep their hyphen
    assert "self-defence" in reflow("They spoke of self-\ndefence and more.\n")


# --- linear time (issue 28: a 2.8 MB hard-wrapped paragraph took 11 s, 6 MB over 90 s) ---------
def _wrapped_paragraph(chars: int, width: int = 72) -> str:
    """One hard-wrapped paragraph of about ``chars`` characters; every 25th line ends in a word
    broken by a hyphen ("coop-" / "eration")."""
    words = "the ministers agreed that security cooperation in the region would grow".split()
    lines, line, size, n = [], "", 0, 0
    while size < chars:
        word = words[n % len(words)]
        n += 1
        if len(line) + 1 + len(word) > width:
            if len(lines) % 25 == 24:
                line += " coop-"
                word = "eration " + word
            lines.append(line)
            size += len(line) + 1
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\n".join(lines) + "\n"


def test_a_3_mb_hard_wrapped_paragraph_loads_in_linear_time() -> None:
    import time

    from rag.loaders import load_bytes

    text = _wrapped_paragraph(3_000_000)
    start = time.process_time()
    [doc] = load_bytes("long.txt", text.encode())
    elapsed = time.process_time() - start
    assert elapsed < 5.0, f"3 MB took {elapsed:.1f} s of CPU"  # before: over 11 s
    assert doc.text.count("\n") == 1  # one paragraph, its final newline
    assert "cooperation" in doc.text and "coop-" not in doc.text
