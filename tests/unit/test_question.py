"""Question analysis on questions about invented, off-domain topics."""

from __future__ import annotations

import pytest

from rag.answering.question import analyse_question


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When did the bakery open?", "date"),
        ("In what year was the bridge finished?", "date"),
        ("How many goats live on the farm?", "number"),
        ("Where is the lighthouse?", "place"),
        ("Who painted the mural?", "agent"),
        ("Why was the festival cancelled?", "reason"),
        ("What colour is the tram?", "other"),
        # the type comes from the main clause, not from a subordinate or relative one
        ("What did the village give up when it joined the league?", "other"),
        ("What did the baker who won the prize bake?", "other"),
        ("Where did the caravan stop when the road flooded?", "place"),
        ("What is the name of the potter who glazed the urn?", "person"),
        ("When and where did the choir first sing?", "date"),
        ("What is the monetary value of the harvest?", "number"),
    ],
)
def test_expected_answer_types(question: str, kind: str) -> None:
    assert analyse_question(question).answer_type == kind


@pytest.mark.parametrize(
    "question",
    ["Who said the river would flood?", "According to whom is the harvest late?"],
)
def test_attribution_questions(question: str) -> None:
    assert analyse_question(question).asks_attribution


def test_a_plain_question_does_not_ask_for_attribution() -> None:
    assert not analyse_question("What does the recipe need?").asks_attribution


def test_analysis_is_deterministic() -> None:
    assert analyse_question("Who baked the cake?") == analyse_question("Who baked the cake?")
