"""Typed spans and speakers by shape, with names no list knows."""

from __future__ import annotations

from rag.answering.attribution import attribute, speaker_in
from rag.answering.question import analyse_question
from rag.answering.spans import is_org, is_person, nearest_to_question, typed_spans


def test_question_types() -> None:
    assert analyse_question("When did the talks begin?").answer_type == "date"
    assert analyse_question("How many refugees crossed?").answer_type == "number"
    assert analyse_question("Where did the envoys meet?").answer_type == "place"
    assert analyse_question("Who chaired the summit?").answer_type == "agent"
    assert analyse_question("Why did the mission end?").answer_type == "reason"
    assert analyse_question("What is the treaty about?").answer_type == "other"
    assert analyse_question("Who said the ceasefire would hold?").asks_attribution


def test_places_are_found_after_locative_prepositions() -> None:
    q = analyse_question("Where did the ministers meet?")
    assert typed_spans("The ministers met in Seoul last week.", q) == ["Seoul"]
    assert typed_spans("Officials arrived from Ottawa.", q) == ["Ottawa"]
    assert typed_spans("Erdoğan Ünal chaired the meeting.", q) == []


def test_people_and_organisations() -> None:
    assert is_person("Recep Tayyip Erdoğan")
    assert is_person("President Lula")
    assert not is_person("Seoul")
    assert is_org("World Health Organization")
    assert is_org("OSCE")
    q = analyse_question("Who chaired the summit?")
    assert typed_spans("The summit was chaired by António Guterres.", q) == ["António Guterres"]


def test_initials_belong_to_a_name_but_are_no_name_alone() -> None:
    assert is_person("Marta K. Olsson")
    assert is_person("General Tomas R. Vik")
    assert not is_person("J. K.")
    q = analyse_question("Who chaired the river commission in 1951?")
    sentence = (
        "The Harbour Office moved in 1951, when Marta K. Olsson chaired the river commission."
    )
    assert typed_spans(sentence, q) == ["Harbour Office", "Marta K. Olsson"]


def test_the_span_nearest_the_questions_words_comes_first() -> None:
    q = analyse_question("Who chaired the river commission in 1951?")
    sentence = (
        "The Harbour Office moved in 1951, when Marta K. Olsson chaired the river commission."
    )
    spans = typed_spans(sentence, q)
    assert nearest_to_question(sentence, spans, q)[0] == "Marta K. Olsson"
    q = analyse_question("Which agency was the memo sent to?")
    sentence = (
        "A memo on talks between the Transport Ministry and the port was sent to the "
        "Fisheries Agency last week."
    )
    spans = typed_spans(sentence, q)
    assert spans == ["Transport Ministry", "Fisheries Agency"]
    assert nearest_to_question(sentence, spans, q)[0] == "Fisheries Agency"
    # no word of the question in the sentence: the sentence's order stands
    q = analyse_question("Which agency was it?")
    sentence = "The Transport Ministry and the Fisheries Agency met."
    assert nearest_to_question(sentence, typed_spans(sentence, q), q) == [
        "Transport Ministry",
        "Fisheries Agency",
    ]


def test_question_names_are_not_answers() -> None:
    q = analyse_question("Who met António Guterres?")
    assert typed_spans("António Guterres met Recep Tayyip Erdoğan.", q) == ["Recep Tayyip Erdoğan"]


def test_number_type_skips_years() -> None:
    q = analyse_question("How many delegations attended in 2023?")
    assert typed_spans("In 2023, 193 delegations attended.", q) == ["193"]


def test_speakers_with_unicode_names() -> None:
    assert (
        speaker_in("“The Charter is not optional,” said António Guterres, the Secretary-General.")
        == "António Guterres, the Secretary-General"
    )
    assert speaker_in("Recep Tayyip Erdoğan said that talks would continue.") == (
        "Recep Tayyip Erdoğan"
    )
    assert speaker_in("According to the ministry of finance, revenue fell.") == (
        "the ministry of finance"
    )
    assert speaker_in("Revenue fell sharply.") is None


def test_a_bare_quotation_takes_its_neighbours_speaker() -> None:
    before = "“We will not retreat,” said Prime Minister Mark Carney."
    assert attribute("“Nor will we forget.”", before, None) == "Prime Minister Mark Carney"
    assert attribute("Nothing more was said.", before, None) is None


def test_a_building_or_a_place_is_no_person() -> None:
    assert not is_person("New War Building")
    assert not is_person("Liberty Square")
    assert is_person("Stuart Hall")  # a surname that is also a building's head noun stays a name
    q = analyse_question("Who chaired the talks?")
    sentence = "The talks at the New War Building were chaired by Anna Berg."
    assert typed_spans(sentence, q) == ["Anna Berg"]


def test_names_with_particles_of_two_words() -> None:
    assert is_person("Ursula von der Leyen")
    assert is_person("Charles de la Fuente")
    assert not is_person("King of the Netherlands")
    q = analyse_question("Which organisation did the envoy speak for?")
    sentence = "The envoy spoke for the Union of the Comoros at the morning session."
    assert typed_spans(sentence, q) == ["Union of the Comoros"]


def test_a_speaker_only_where_the_sentence_reports_speech() -> None:
    """Off-domain: no quote, no "that", a noun phrase after a comma is no apposition."""
    assert (
        speaker_in(
            "While the league fined Chelsea, the other seven clubs stressed their support for the "
            "new rules."
        )
        is None
    )
    assert (
        speaker_in("After the storm hit Florida, the other three utilities noted new rates.")
        is None
    )
    assert speaker_in("The coach stressed their fitness before the final.") is None
    # speech verbs, "that", quotes and a closed apposition still name the speaker
    assert speaker_in("Coach Ange Postecoglou stressed that fitness mattered.") == (
        "Coach Ange Postecoglou"
    )
    assert speaker_in("Marie Curie, the physicist, noted: radium glows.") == (
        "Marie Curie, the physicist"
    )
    assert speaker_in("The Met Office said rain would follow.") == "The Met Office"
