"""Question validation and the word-level features answering uses, on off-domain text."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answering.attribution import attribute, speaker_in
from rag.answering.spans import is_org, is_person
from rag.errors import InvalidQuestionError
from rag.question_input import validate_question
from rag.settings import Settings
from rag.text_features import content_terms, dates, numbers, words

SETTINGS = Settings(index_dir=Path("unused"), max_question_chars=40)


def test_a_question_is_trimmed() -> None:
    assert validate_question("  Where is the mill?  ", SETTINGS) == "Where is the mill?"


@pytest.mark.parametrize("question", ["", "   ", "\u200b\u200d", "\ufeff \u00ad"])
def test_empty_or_invisible_questions_are_refused(question: str) -> None:
    with pytest.raises(InvalidQuestionError, match="empty"):
        validate_question(question, SETTINGS)


def test_too_long_questions_name_the_limit() -> None:
    with pytest.raises(InvalidQuestionError, match="40"):
        validate_question("x" * 41, SETTINGS)


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(InvalidQuestionError, match="UTF-8"):
        validate_question("bad \udc80 text", SETTINGS)


def test_words_keep_numbers_and_apostrophes() -> None:
    assert words("The baker's 3,000 loaves") == ["The", "baker's", "3,000", "loaves"]


def test_content_terms_drop_function_and_question_words() -> None:
    assert content_terms("What is the price of the red apples?") == ["price", "red", "apples"]


def test_dates_and_numbers_are_found() -> None:
    text = "On 4 July 1999 the 12 boats left; by March 2001 forty had come back."
    assert any("1999" in d for d in dates(text))
    assert any("2001" in d for d in dates(text))
    assert "12" in numbers(text)


@pytest.mark.parametrize(
    ("sentence", "who"),
    [
        ("“The tide is late,” said Captain Olsen.", "Captain Olsen"),
        ("Maria Lopez said the orchard would flower early.", "Maria Lopez"),
        ("According to the harbour master, the ferry is cancelled.", "the harbour master"),
    ],
)
def test_speakers_by_shape(sentence: str, who: str) -> None:
    assert speaker_in(sentence) == who


def test_no_speaker_in_plain_narration() -> None:
    assert speaker_in("The ferry left at noon.") is None


def test_a_bare_quote_takes_its_neighbours_speaker() -> None:
    before = "“We sail at dawn,” said Captain Olsen."
    assert attribute("“Bring the nets.”", before, None) == "Captain Olsen"
    assert attribute("The nets were brought.", before, None) is None


def test_organisations_and_people_by_shape() -> None:
    assert is_org("Harbour Authority") or is_org("FIFA")
    assert is_org("UNESCO")
    assert not is_person("UNESCO")
    assert is_person("Dr. Greta Holm")
    assert not is_person("Greta")
