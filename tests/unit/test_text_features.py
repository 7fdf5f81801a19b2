"""Surface features on off-domain text: Unicode names, function words, dates and numbers."""

from __future__ import annotations

import pytest

from rag.answering.question import analyse_question
from rag.retrieval import lexical_terms
from rag.text_features import content_stems, content_terms, dates, entities, numbers, stem


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("The session was opened by António Guterres.", "António Guterres"),
        ("The statement by Recep Tayyip Erdoğan was brief.", "Recep Tayyip Erdoğan"),
        ("Delegates met in Seoul on Monday.", "Seoul"),
        ("The envoy flew to Ottawa.", "Ottawa"),
        ("Talks with Władysław Kosiniak-Kamysz resumed.", "Władysław Kosiniak-Kamysz"),
    ],
)
def test_names_are_found_by_shape_in_any_latin_script(text: str, name: str) -> None:
    assert name in entities(text)


def test_sentence_initial_function_words_are_not_names() -> None:
    assert entities("The council met. Which delegates voted?") == ["The council"[4:].title()] or (
        "The" not in entities("The council met. Which delegates voted?")
    )
    assert "Which" not in entities("Which delegates voted?")


def test_content_words_survive_for_the_lexical_query() -> None:
    terms = lexical_terms("What does the Secretary of State say about a two-state solution?")
    assert {"secretary", "state", "two", "solution"} <= set(terms)
    assert "the" not in terms and "what" not in terms


def test_the_lexical_query_takes_its_terms_from_the_questions_analysis() -> None:
    """Given the analysis made once per question, retrieval uses its terms: the same words."""
    question = "What does the Secretary of State say about a two-state solution?"
    analysis = analyse_question(question)
    assert lexical_terms(question, "en", analysis) == lexical_terms(question)
    french = "Que dit le ministre sur la solution à deux États ?"
    assert lexical_terms(french, "fr", analyse_question(french)) == lexical_terms(french, "fr")


def test_function_words_are_dropped() -> None:
    assert content_terms("Which of these was the first of them?") == ["first"]


def test_stemmer_matches_inflections() -> None:
    assert stem("agreements") == stem("agreement")
    assert stem("supplied") == stem("supply")
    assert stem("crisis") == "crisis"
    assert content_stems("Sanctions were imposed") == {stem("sanction"), stem("imposed")}


def test_dates_and_numbers() -> None:
    assert "12 March 2021" in dates("It was signed on 12 March 2021 in Geneva.")
    assert "1848" in dates("The revolutions of 1848 spread.")
    assert "the 19th century" not in dates("in the 19th century")  # only the span itself
    assert "19th century" in dates("in the 19th century")
    assert "$4.5 billion" in numbers("a package of $4.5 billion")
    assert "twelve" in numbers("twelve envoys")


def test_two_word_particles_join_a_name_but_for_the_does_not() -> None:
    text = "Ursula von der Leyen met the Union of the Comoros. Sweden for the Nordic group voted."
    assert entities(text) == ["Ursula von der Leyen", "Union of the Comoros", "Sweden", "Nordic"]
