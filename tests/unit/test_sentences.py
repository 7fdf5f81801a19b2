"""Sentence splitting on small invented texts."""

from __future__ import annotations

from rag.sentences import split_sentences


def parts(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def test_simple_sentences() -> None:
    assert parts("The cat sat. The dog ran! Did the bird sing?") == [
        "The cat sat.",
        "The dog ran!",
        "Did the bird sing?",
    ]


def test_spans_are_exact_slices_and_ordered() -> None:
    text = "  First one.   Second one.\n\nThird one.  "
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == ["First one.", "Second one.", "Third one."]
    assert all(a < b for a, b in spans)
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))


def test_abbreviations_do_not_end_a_sentence() -> None:
    assert parts("Dr. Smith met the U.S. team at 5 p.m. on Friday. They ate.") == [
        "Dr. Smith met the U.S. team at 5 p.m. on Friday.",
        "They ate.",
    ]


def test_initials_do_not_end_a_sentence() -> None:
    assert len(parts("J. R. Tolkien wrote books. He lived in Oxford.")) == 2


def test_ideographic_full_stops_need_no_space() -> None:
    assert parts("今日は晴れです。明日は雨です。") == ["今日は晴れです。", "明日は雨です。"]


def test_arabic_question_mark_ends_a_sentence() -> None:
    assert len(parts("ما هذا؟ هذا كتاب.")) == 2


def test_closing_quotes_stay_with_their_sentence() -> None:
    assert parts("“We will win.” She smiled.") == ["“We will win.”", "She smiled."]


def test_empty_and_blank_text_have_no_sentences() -> None:
    assert split_sentences("") == []
    assert split_sentences("   \n\t ") == []


def test_text_without_an_end_mark_is_one_sentence() -> None:
    assert parts("a heading without a full stop") == ["a heading without a full stop"]


def test_blank_lines_end_sentences() -> None:
    assert parts("Title line\n\nBody text here.") == ["Title line", "Body text here."]


def test_an_ordinal_day_before_a_month_does_not_end_a_sentence() -> None:
    """German writes dates "27. Februar": the period closes the ordinal, not the sentence."""
    text = "Am 27. Februar 2022 sprach der Kanzler im Bundestag. Am 1. Mai sprach er erneut."
    assert parts(text) == [
        "Am 27. Februar 2022 sprach der Kanzler im Bundestag.",
        "Am 1. Mai sprach er erneut.",
    ]
    # a year (four digits) before a capitalised word still ends the sentence
    assert len(parts("Das Abkommen trat 2022. Februar war kalt.")) == 2
