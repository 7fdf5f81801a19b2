"""Comparisons with the real model over the article and the fixture statements (``corpus_index``:
Sweden's and Japan's 2022 General Debate statements carry ``country`` and ``session``): each
cell is ``ask``'s answer for its group, cited from that group's documents only; one query
encoding per table; groups without documents; bad keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from index.errors import InvalidFilterError
from rag.errors import InvalidComparisonError, InvalidQuestionError
from rag.settings import Settings
from rag.system import QASystem

QUESTION = "What did Sweden say about Russia's war against Ukraine?"


@pytest.fixture(scope="module")
def system(corpus_index: Settings) -> Iterator[QASystem]:
    with QASystem.open(corpus_index) as qa:
        yield qa


class CountingEncoder:
    """The system's encoder, counting the questions it encodes."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode_query(self, text: str) -> Any:
        self.texts.append(text)
        return self.inner.encode_query(text)


def test_each_cell_is_the_groups_own_answer(system: QASystem) -> None:
    table = system.compare(QUESTION, by="country", groups=["SWE", "JPN"], filters={"session": 77})
    assert [r.group for r in table.rows] == ["SWE", "JPN"]
    assert [r.label for r in table.rows] == ["Sweden (SWE)", "Japan (JPN)"]
    # the default wording: the filter names the group; a what-did-they-say question its topic
    assert [r.question for r in table.rows] == ["Russia's war against Ukraine"] * 2
    for row in table.rows:
        assert row.answer is not None and row.documents == 1
        assert row.status == ("declined" if row.answer.abstained else "answered")
        direct = system.ask(row.question, filters={"session": 77, "country": row.group})
        assert row.answer.answer == direct.answer
        assert row.confidence == pytest.approx(direct.confidence, abs=1e-6)
        for c in row.answer.citations:  # from the group's own statement, verbatim
            assert c.doc_id == f"ungdc:{row.group}_77_2022" and c.metadata["country"] == row.group
            doc = system.get_document(c.doc_id)
            assert doc is not None and doc.text[c.char_start : c.char_end] == c.quote
    answered = [r for r in table.rows if r.status == "answered"]
    assert answered and all(r.answer and r.answer.citations for r in answered)


def test_named_wording_puts_each_group_in(corpus_index: Settings) -> None:
    settings = corpus_index.model_copy(update={"compare_wording": "named"})
    with QASystem.open(settings) as qa:
        table = qa.compare(QUESTION, by="country", groups=["SWE", "JPN"])
        assert [r.question for r in table.rows] == [
            QUESTION,
            "What did Japan say about Russia's war against Ukraine?",
        ]
        for row in table.rows:
            direct = qa.ask(row.question, filters={"country": row.group})
            assert row.answer is not None and row.answer.answer == direct.answer


@pytest.mark.parametrize("compare_reader", [False, True])
def test_the_reader_answers_cells_only_when_asked_to(
    corpus_index: Settings, compare_reader: bool
) -> None:
    on = corpus_index.model_copy(update={"reader": True, "compare_reader": compare_reader})
    with QASystem.open(on) as qa:
        table = qa.compare(QUESTION, by="country", groups=["SWE", "JPN"], filters={"session": 77})
        cells = qa if compare_reader else qa.with_settings(on.model_copy(update={"reader": False}))
        other = qa.with_settings(on.model_copy(update={"reader": not compare_reader}))
        for row in table.rows:
            assert row.answer is not None
            asked = {"session": 77, "country": row.group}
            direct = cells.ask(row.question, filters=asked)
            assert row.answer.answer == direct.answer
            assert row.confidence == pytest.approx(direct.confidence, abs=1e-6)
            # the other answerer's confidence differs, so the cell says which one answered
            assert row.confidence != pytest.approx(
                other.ask(row.question, filters=asked).confidence, abs=1e-6
            )


def test_one_query_encoding_for_the_whole_table(corpus_index: Settings) -> None:
    with QASystem.open(corpus_index) as qa:
        counting = CountingEncoder(qa.encoder)
        qa.encoder = counting  # type: ignore[assignment]
        table = qa.compare(QUESTION, by="country")
    assert counting.texts == ["Russia's war against Ukraine"]
    assert table.groups_total == 2


def test_all_groups_keep_the_answers_ranked(system: QASystem) -> None:
    table = system.compare(QUESTION, by="country")
    assert table.groups is None and table.groups_total == 2
    assert sorted([r.group for r in table.rows] + table.declined) == ["JPN", "SWE"]
    assert all(r.status == "answered" for r in table.rows)
    confidences = [r.confidence for r in table.rows]
    assert confidences == sorted(confidences, reverse=True)


def test_groups_without_documents_are_listed(system: QASystem) -> None:
    table = system.compare(
        "What did Japan say about the rule of law?",
        by="country",
        groups=["JPN", "Finland", "XYZ"],
        filters={"session": 77},
    )
    assert [(r.group, r.status != "no_documents") for r in table.rows] == [
        ("JPN", True),
        ("FIN", False),
        ("XYZ", False),
    ]
    assert [r.status for r in table.rows][1:] == ["no_documents", "no_documents"]
    assert table.rows[1].label == "Finland (FIN)" and table.rows[1].answer is None


def test_by_year_and_by_session(system: QASystem) -> None:
    years = system.compare(
        "What did the speaker say about Ukraine?", by="date", groups=["2022", "1999"]
    )
    assert [(r.group, r.status != "no_documents") for r in years.rows] == [
        ("2022", True),
        ("1999", False),
    ]
    for c in years.rows[0].answer.citations if years.rows[0].answer else []:
        assert (c.date or "").startswith("2022")
    sessions = system.compare("What did Japan say about Ukraine?", by="session")
    assert sessions.groups_total == 1
    assert [r.group for r in sessions.rows] + sessions.declined == ["77"]


def test_a_silent_group_declines(system: QASystem) -> None:
    table = system.compare(
        "What did Sweden say about the boiling point of tungsten?",
        by="country",
        groups=["SWE", "JPN"],
    )
    assert [r.status for r in table.rows] == ["declined", "declined"]
    assert all(r.answer is not None and r.answer.abstained for r in table.rows)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"by": "colour"}, InvalidComparisonError, "no document carries the key 'colour'"),
        ({"by": "date_to"}, InvalidComparisonError, "cannot group by 'date_to'"),
        ({"by": "country", "filters": {"contry": "SWE"}}, InvalidFilterError, "unknown filter key"),
        ({"by": "country", "question": "   "}, InvalidQuestionError, "the question is empty"),
    ],
)
def test_bad_input_is_refused(
    system: QASystem, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    question = kwargs.pop("question", QUESTION)
    with pytest.raises(error, match=message):
        system.compare(question, **kwargs)


def test_more_groups_than_the_limit(corpus_index: Settings) -> None:
    with QASystem.open(corpus_index.model_copy(update={"compare_max_groups": 1})) as qa:
        with pytest.raises(InvalidComparisonError, match="2 values of 'country'"):
            qa.compare(QUESTION, by="country")
        with pytest.raises(InvalidComparisonError, match="2 groups asked; the limit is 1"):
            qa.compare(QUESTION, by="country", groups=["SWE", "JPN"])
