"""The trained answerer on documents and names no list in the code knows: UN-style statements
(``tests/fixtures/offdomain_statements.jsonl``) naming António Guterres and Recep Tayyip Erdoğan,
meetings in Seoul and Ottawa, among the article and three real statements (``corpus_index``, built
once per session). Real model, real FAISS and SQLite, the bundled scorer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.settings import Settings
from rag.system import QASystem

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def system(corpus_index: Settings) -> Iterator[QASystem]:
    qa = QASystem.open(corpus_index)
    qa.warm_up()
    yield qa
    qa.close()


def test_who_question_picks_the_right_speaker_among_two(system: QASystem) -> None:
    answer = system.ask("Who said that Türkiye would keep mediating?")
    assert not answer.abstained, answer.warnings
    assert answer.citations[0].doc_id == "ungd:tur"
    assert answer.short_answer == "Recep Tayyip Erdoğan"
    assert all("Guterres" not in (c.speaker or "") for c in answer.citations)


def test_quoted_speaker_with_accented_name(system: QASystem) -> None:
    answer = system.ask("Who said that multilateralism is not a slogan?")
    assert not answer.abstained, answer.warnings
    assert answer.citations[0].doc_id == "ungd:opening"
    assert answer.short_answer and answer.short_answer.startswith("António Guterres")


def test_where_question_gets_a_place_no_list_names(system: QASystem) -> None:
    answer = system.ask("Where did the foreign ministers meet in March?")
    assert not answer.abstained, answer.warnings
    assert answer.short_answer == "Seoul"
    assert answer.citations[0].doc_id == "ungd:kor" and "Seoul" in answer.citations[0].quote


def test_number_question(system: QASystem) -> None:
    answer = system.ask("How much grain did the corridor carry before it was suspended?")
    assert not answer.abstained, answer.warnings
    assert answer.short_answer is not None and "33 million" in answer.short_answer
    assert answer.citations[0].doc_id == "ungd:tur"
    assert answer.citations[0].date == "2023-09-19"  # the document's own fields, on the citation


def test_a_when_clause_does_not_make_a_what_question_ask_for_a_date(system: QASystem) -> None:
    answer = system.ask("What did the corridor carry when it was open?")
    assert not answer.abstained, answer.warnings
    assert answer.citations[0].doc_id == "ungd:tur" and "33 million" in answer.answer
    assert answer.short_answer != "July 2023"  # the sentence's date answers no question here


def test_off_topic_question_abstains(system: QASystem) -> None:
    answer = system.ask("What is the recipe for a Victoria sponge cake?")
    assert answer.abstained


def test_no_topic_lists_in_the_answering_code() -> None:
    """The answerer knows no country, capital, person or article phrase."""
    words = ["watanabe", "watchdog", "nordic", "stockholm", "tokyo", "kyiv", "sweden", "japan"]
    words += ["ukraine", "nato", "leaked to"]
    for path in (ROOT / "rag").rglob("*.py"):
        text = path.read_text(encoding="utf-8").lower()
        found = [w for w in words if re.search(rf"\b{w}\b", text)]
        assert not found, f"{path.relative_to(ROOT)} names {found}"
