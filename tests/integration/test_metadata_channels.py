"""Metadata channels (issue 25): a question that names a country finds that country's document
even when the document's text never names it and other documents match the question's words
better. Real model, FAISS and SQLite; twenty statements, one per country, in JSONL with a
``country`` field as the UN corpus has."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rag.loaders import iter_documents
from rag.settings import Settings
from rag.system import QASystem

CODES = ["ARG", "BRA", "CHL", "COL", "ECU", "PRY", "URY", "BOL", "VEN", "MEX"]
CODES += ["CAN", "USA", "GTM", "HND", "SLV", "NIC", "CRI", "PAN", "CUB", "SWE"]
QUESTION = "What did Peru say about the harvest in 2021?"


@pytest.fixture(scope="module")
def statements(
    article_index: Settings,
    index_copier: Callable[[Path, Path], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    base = tmp_path_factory.mktemp("statements")
    folder = index_copier(article_index.index_dir, base / "index")
    records = [
        {
            "id": f"stmt:{code}",
            "title": f"{code} statement, general debate (2021)",
            "country": code,
            "date": "2021-09",
            "text": "This year the harvest was good. The harvest festival drew the whole nation, "
            "and the harvest will feed the region.",
        }
        for code in CODES
    ]
    records.append(
        {
            "id": "stmt:PER",
            "title": "PER statement, general debate (2021)",
            "country": "PER",
            "date": "2021-09",
            "text": "Our crops failed after the floods, and the farmers lost their seed.",
        }
    )
    path = base / "statements.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    settings = article_index.model_copy(update={"index_dir": folder})
    assert QASystem.build(settings, iter_documents([path])).added == len(records)
    return settings


@pytest.fixture(scope="module")
def systems(statements: Settings) -> Iterator[dict[float, QASystem]]:
    opened = {
        w: QASystem.open(statements.model_copy(update={"metadata_weight": w})) for w in (0, 3)
    }
    yield opened
    for qa in opened.values():
        qa.close()


def test_the_named_countrys_document_is_found_through_its_metadata(
    systems: dict[float, QASystem],
) -> None:
    without = [p.doc_id for p in systems[0].search(QUESTION, k=3)]
    assert "stmt:PER" not in without  # the words point at the others' harvests
    found = [p.doc_id for p in systems[3].search(QUESTION, k=3)]
    assert found[0] == "stmt:PER"  # weight 3: the channel's first outweighs both rankings' first
    evidence = systems[3].evidence(QUESTION, k=3)  # what ask() reads: the same passages
    assert [p.doc_id for p in evidence.passages] == found


def test_a_country_the_index_does_not_carry_changes_nothing(
    systems: dict[float, QASystem],
) -> None:
    question = "What did Japan say about the harvest in 2021?"
    ids = [[p.chunk_id for p in qa.search(question, k=5)] for qa in systems.values()]
    assert ids[0] == ids[1]


def test_the_callers_country_filter_wins(systems: dict[float, QASystem]) -> None:
    found = systems[3].search(QUESTION, k=3, filters={"country": "CHL"})
    assert {p.doc_id for p in found} == {"stmt:CHL"}


def test_a_document_without_a_country_keeps_its_place(systems: dict[float, QASystem]) -> None:
    """The sample article has no country: a channel for a country it is about (which has a
    statement of its own here) lifts that country's statement over other countries', never
    over the article."""
    question = "When did Sweden join NATO?"
    for qa in systems.values():
        top = qa.search(question, k=3)[0]
        assert top.doc_id == "japan-sweden-security-cooperation.txt"
        assert "March 2024" in top.text
