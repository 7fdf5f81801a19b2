"""Language detection of short and long texts, without loading anything heavy for questions."""

from __future__ import annotations

import pytest

from rag.language import UNDETERMINED, detect_language, function_words, stemmer_language


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Where did the cat sleep last night?", "en"),
        ("Où est le chat qui dort dans la maison?", "fr"),
        ("¿Dónde está el gato que duerme en la casa?", "es"),
        ("Где спит кошка этой ночью?", "ru"),
        ("猫はどこで寝ていますか", "ja"),
        ("猫在哪里睡觉", "zh"),
        ("고양이는 어디에서 자나요", "ko"),
        ("أين تنام القطة؟", "ar"),
    ],
)
def test_short_questions(text: str, code: str) -> None:
    assert detect_language(text) == code


def test_text_without_letters_is_undetermined() -> None:
    assert detect_language("12345 !!! ---") == UNDETERMINED


def test_function_words_of_english_include_the() -> None:
    assert "the" in function_words("en")


def test_english_has_one_stopword_list() -> None:
    """English's function words are rag.text_features.STOPWORDS; the words English is detected by
    are among them, but for reported speech."""
    from rag.language import _FUNCTION_WORDS
    from rag.text_features import STOPWORDS

    assert function_words("en") is STOPWORDS
    assert _FUNCTION_WORDS["en"] - {"said", "say"} <= STOPWORDS


def test_stemmer_language_names() -> None:
    assert stemmer_language("fr") == "french"
    assert stemmer_language("zz") is None
