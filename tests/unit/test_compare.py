"""Comparisons without a model or an index: the grouping logic over a fake system (the groups
present, the groups asked, their filters, ranking and declines, the limits and bad keys), the
wording rule of the question per group, and the CSV / Markdown exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from index.records import ChunkFilter
from rag.compare import Comparison, ComparisonRow, cell_system, compare, group_key
from rag.compare_cli import format_comparison, parse_groups
from rag.compare_export import CSV_COLUMNS, to_csv, to_markdown
from rag.compare_wording import (
    country_code,
    country_display,
    find_mentions,
    ordinal,
    reword,
    topic_of,
)
from rag.errors import InvalidComparisonError
from rag.filters import FilterOptions, Filters
from rag.models import Answer, AnswerSentence, Citation
from rag.settings import Settings

#: (country, session, year) of each fake document.
DOCS = [
    ("CHN", 78, "2023"),
    ("USA", 78, "2023"),
    ("FRA", 78, "2023"),
    ("CHN", 77, "2022"),
    ("JPN", 77, "2022"),
]
#: What each country's documents say about anything (None: silent).
SAYS = {
    "CHN": ("China will respond to climate change.", 0.8),
    "FRA": ("France calls for climate finance.", 0.6),
    "USA": (None, 0.05),
    "JPN": ("Japan supports a treaty.", 0.4),
}


class FakeSnapshot:
    def group_documents(
        self, field: str, flt: ChunkFilter, *, key: str | None = None
    ) -> list[tuple[Any, str, str | None]]:
        out: list[tuple[Any, str, str | None]] = []
        for country, session, year in DOCS:
            meta = {"country": country, "session": session}
            if any(meta.get(k) != v for k, v in flt.metadata.items()):
                continue
            if flt.date_from and year < flt.date_from[:4]:
                continue
            value = year if field == "year" else meta[key or ""]
            out.append((value, f"ungdc:{country}_{session}", f"{year}-09"))
        return sorted(out, key=lambda r: (str(r[0]), r[1]))

    def any_document(self, flt: ChunkFilter) -> bool:
        return bool(self.group_documents("year", flt))


class FakeSystem:
    """The public surface :mod:`rag.compare` uses: settings, the answerer, with_settings,
    filter_options, snapshot, the encoder and ask — which records what it was asked."""

    def __init__(self, *, reads: bool = False, **settings: Any) -> None:
        self.settings = Settings(compare_workers=1, **settings)
        self.asked: list[tuple[str, dict[str, Any], Any]] = []
        self.encoded: list[str] = []
        self.encoder = self
        # an extractive answerer's scorer, with a trained reader in use or not
        self.answerer = SimpleNamespace(scorer=SimpleNamespace(reader=object() if reads else None))

    def with_settings(self, settings: Settings) -> FakeSystem:
        other = FakeSystem(
            reads=bool(settings.reader), **settings.model_dump(exclude={"compare_workers"})
        )
        other.asked = self.asked
        return other

    def encode_query(self, text: str) -> np.ndarray:
        self.encoded.append(text)
        return np.ones(4, dtype=np.float32)

    def filter_options(self) -> FilterOptions:
        return FilterOptions(
            keys=["doc_id", "source", "date_from", "date_to", "country", "session"],
            metadata={"country": ["CHN", "FRA", "JPN", "USA"], "session": ["77", "78"]},
        )

    @contextmanager
    def snapshot(self) -> Iterator[FakeSnapshot]:
        yield FakeSnapshot()

    def ask(
        self, question: str, *, k: Any, filters: Filters, mode: Any, query_vector: Any
    ) -> Answer:
        self.asked.append((question, filters.model_dump(exclude_defaults=True), query_vector))
        country = (filters.doc_ids or ["ungdc:?"])[0].split(":")[1][:3]
        text, confidence = SAYS.get(str(country), ("A statement.", 0.5))
        if text is None:
            return Answer(
                question=question,
                answer="",
                abstained=True,
                confidence=confidence,
                answerer="extractive",
                mode="hybrid",
            )
        doc_id = f"ungdc:{country}"
        citation = Citation(
            marker=1,
            doc_id=doc_id,
            title=f"{country} statement",
            source="UNGDC",
            char_start=10,
            char_end=10 + len(text),
            quote=text,
        )
        return Answer(
            question=question,
            answer=f"{text} [1]",
            sentences=[AnswerSentence(text=text, markers=[1])],
            citations=[citation],
            confidence=confidence,
            answerer="extractive",
            mode="hybrid",
        )


def run(
    system: FakeSystem, question: str = "What did China say about climate?", **kw: Any
) -> Comparison:
    return compare(system, question, **kw)  # type: ignore[arg-type]


# --- which answerer --------------------------------------------------------------------------
def test_cells_are_answered_without_the_reader_unless_asked() -> None:
    with_reader = FakeSystem(reads=True, reader=True)
    cells = cell_system(with_reader)  # type: ignore[arg-type]
    assert cells is not with_reader and cells.settings.reader is False
    assert cells.settings.compare_wording == with_reader.settings.compare_wording
    asked = FakeSystem(reads=True, reader=True, compare_reader=True)
    assert cell_system(asked) is asked  # type: ignore[arg-type]
    plain = FakeSystem()
    assert cell_system(plain) is plain  # type: ignore[arg-type]
    table = run(with_reader, by="country", groups=["CHN", "FRA"])
    assert [r.status for r in table.rows] == ["answered", "answered"]
    assert len(with_reader.asked) == 2  # asked through the swapped system, recorded here


# --- grouping ----------------------------------------------------------------------------------
def test_all_groups_keep_those_that_answer_most_confident_first() -> None:
    system = FakeSystem()
    table = run(system, by="country", filters={"session": 78})
    assert [r.group for r in table.rows] == ["CHN", "FRA"]
    assert all(r.status == "answered" for r in table.rows)
    assert table.declined == ["USA"] and table.groups_total == 3
    # each group asked with its own documents under the shared filters, one vector for all
    assert sorted(f["doc_ids"] for _, f, _ in system.asked) == [
        ["ungdc:CHN_78"],
        ["ungdc:FRA_78"],
        ["ungdc:USA_78"],
    ]
    assert len(system.encoded) == 1
    assert all(v is not None for _, _, v in system.asked)


def test_groups_asked_are_rows_in_their_order_with_their_status() -> None:
    system = FakeSystem()
    table = run(
        system, by="country", groups=["usa", "China", "JPN", "XYZ"], filters={"session": 78}
    )
    assert [(r.group, r.status) for r in table.rows] == [
        ("USA", "declined"),  # any case
        ("CHN", "answered"),  # by name
        ("JPN", "no_documents"),  # in the index, but not in session 78
        ("XYZ", "no_documents"),  # nowhere
    ]
    assert [r.label for r in table.rows][:2] == ["United States (USA)", "China (CHN)"]
    assert table.rows[2].answer is None and table.rows[2].documents == 0
    assert len(system.asked) == 2  # nothing asked of a group without documents
    assert table.declined == []


def test_by_year_filters_each_group_to_its_year() -> None:
    system = FakeSystem(compare_wording="named")
    table = run(
        system, "What did China say about climate in 2022?", by="date", filters={"country": "CHN"}
    )
    assert {r.group for r in table.rows} == {"2022", "2023"}
    assert sorted(f["doc_ids"] for _, f, _ in system.asked) == [["ungdc:CHN_77"], ["ungdc:CHN_78"]]
    questions = sorted(q for q, _, _ in system.asked)
    assert questions == [
        "What did China say about climate in 2022?",
        "What did China say about climate in 2023?",
    ]
    assert system.encoded == ["What did the country say about climate?"]


def test_by_session_keeps_the_value_type() -> None:
    system = FakeSystem()
    table = run(system, by="session", groups=["77", "78"], filters={"country": "CHN"})
    assert [f["doc_ids"] for _, f, _ in system.asked] == [["ungdc:CHN_77"], ["ungdc:CHN_78"]]
    assert [r.label for r in table.rows] == ["session 77 (2022)", "session 78 (2023)"]


def test_a_large_group_is_filtered_by_its_value() -> None:
    from rag.compare import _group_filters

    base = Filters(metadata={"session": 78}, date_from="2023")
    few = _group_filters(base, "metadata", "country", "CHN", ["a", "b"])
    assert few.model_dump(exclude_defaults=True) == {"doc_ids": ["a", "b"]}
    many = _group_filters(base, "metadata", "country", "CHN", ["x"] * 5000)
    assert many.metadata == {"session": 78, "country": "CHN"} and many.doc_ids is None
    year = _group_filters(Filters(date_from="2023-06"), "year", None, "2023", ["x"] * 5000)
    assert (year.date_from, year.date_to) == ("2023-06", "2023")


@pytest.mark.parametrize(
    ("by", "message"),
    [
        ("colour", "no document carries the key 'colour'"),
        ("date_from", "cannot group by 'date_from'"),
        ("doc_id", "cannot group by 'doc_id'"),
        ("a b", "cannot group by 'a b'"),
        ("", "cannot group by ''"),
    ],
)
def test_a_key_that_cannot_group_is_refused(by: str, message: str) -> None:
    with pytest.raises(InvalidComparisonError, match=message):
        run(FakeSystem(), by=by)


def test_builtin_grouping_keys() -> None:
    assert group_key("date", []) == ("year", None)
    assert group_key("year", []) == ("year", None)
    assert group_key("source", []) == ("source", None)
    assert group_key("country", ["country"]) == ("metadata", "country")


def test_more_groups_than_the_limit_are_refused() -> None:
    with pytest.raises(InvalidComparisonError, match="4 groups asked; the limit is 3"):
        run(FakeSystem(compare_max_groups=3), by="country", groups=["A", "B", "C", "D"])
    with pytest.raises(InvalidComparisonError, match=r"4 values of 'country'.*limit is 3"):
        run(FakeSystem(compare_max_groups=3), by="country")
    with pytest.raises(InvalidComparisonError, match="no groups given"):
        run(FakeSystem(), by="country", groups=[])
    with pytest.raises(InvalidComparisonError, match="names no group"):
        parse_groups(" , ")
    assert parse_groups("USA, CHN,") == ["USA", "CHN"]


def test_progress_is_reported_per_group() -> None:
    seen: list[tuple[str, int, int]] = []
    compare(
        FakeSystem(),  # type: ignore[arg-type]
        "What did China say?",
        by="country",
        on_row=lambda row, done, total: seen.append((row.group, done, total)),
    )
    assert seen == [("CHN", 1, 4), ("FRA", 2, 4), ("JPN", 3, 4), ("USA", 4, 4)]


# --- wording -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "asked_of_usa", "neutral"),
    [
        (
            "What did China say about climate finance?",
            "What did the United States say about climate finance?",
            "What did the country say about climate finance?",
        ),
        (  # the topic stays: only the speaker is the group
            "What did China say about Taiwan?",
            "What did the United States say about Taiwan?",
            "What did the country say about Taiwan?",
        ),
        (
            "What is China's position on Security Council reform?",
            "What is the United States' position on Security Council reform?",
            "What is the country's position on Security Council reform?",
        ),
        (
            "According to Japan, what must happen to nuclear weapons?",
            "According to the United States, what must happen to nuclear weapons?",
            "According to the country, what must happen to nuclear weapons?",
        ),
        (
            "China said what about the pandemic?",
            "The United States said what about the pandemic?",
            "The country said what about the pandemic?",
        ),
        (  # no speaker named: asked as written
            "How did countries describe Russia's invasion of Ukraine?",
            "How did countries describe Russia's invasion of Ukraine?",
            "How did countries describe Russia's invasion of Ukraine?",
        ),
        (  # "us" is a pronoun, not the United States
            "What did they tell us about debt?",
            "What did they tell us about debt?",
            "What did they tell us about debt?",
        ),
    ],
)
def test_the_speaker_country_is_the_group(question: str, asked_of_usa: str, neutral: str) -> None:
    mentions = find_mentions(question, "country", country_like=True)
    assert reword(question, mentions, country=country_display("USA")) == asked_of_usa
    assert reword(question, mentions) == neutral


def test_years_and_sessions_become_the_groups() -> None:
    q = "What did Japan say at the 77th session about disarmament in 2022?"
    mentions = find_mentions(q, "session", country_like=False)
    assert reword(q, mentions, session="79", year="2024") == (
        "What did Japan say at the 79th session about disarmament in 2024?"
    )
    assert reword(q, mentions) == "What did Japan say about disarmament?"
    q = "What did countries say about the 2015 Paris Agreement?"  # not a time frame
    assert find_mentions(q, "date", country_like=False) == []


def test_other_keys_substitute_a_named_value() -> None:
    q = "What does the wire say about NATO?"
    mentions = find_mentions(q, "source", country_like=False, values=["wire", "gazette"])
    assert reword(q, mentions, value="gazette") == "What does the gazette say about NATO?"


def test_country_names_and_codes() -> None:
    assert country_code("China") == "CHN" and country_code("usa") == "USA"
    assert country_code("the United Kingdom") == "GBR" and country_code("Atlantis") is None
    assert country_display("KOR") == "South Korea" and country_display("fr") == "France"
    assert [ordinal(n) for n in (1, 2, 3, 11, 22, 78)] == [
        "1st",
        "2nd",
        "3rd",
        "11th",
        "22nd",
        "78th",
    ]


def test_the_group_wording_is_what_is_asked() -> None:
    named = FakeSystem(compare_wording="named")
    run(named, "What did China say about climate?", by="country", groups=["USA", "FRA"])
    assert [q for q, _, _ in named.asked] == [
        "What did the United States say about climate?",
        "What did France say about climate?",
    ]
    neutral = FakeSystem(compare_wording="neutral")  # the filter names the group, not the words
    table = run(neutral, "What did China say about climate?", by="country", groups=["USA", "FRA"])
    assert [q for q, _, _ in neutral.asked] == ["What did the country say about climate?"] * 2
    assert [r.question for r in table.rows] == ["What did the country say about climate?"] * 2
    assert neutral.encoded == ["What did the country say about climate?"]
    topic = FakeSystem()  # the default: a what-did-they-say question asks its topic
    table = run(topic, "What did China say about climate finance?", by="country", groups=["USA"])
    assert [q for q, _, _ in topic.asked] == ["Climate finance"]
    assert table.rows[0].question == "Climate finance" and topic.encoded == ["Climate finance"]
    other = FakeSystem()  # no such shape: the neutral wording
    run(other, "When did China join the WTO?", by="country", groups=["USA"])
    assert [q for q, _, _ in other.asked] == ["When did the country join the WTO?"]


@pytest.mark.parametrize(
    ("neutral", "topic"),
    [
        ("What did the country say about climate finance?", "Climate finance"),
        ("What is the country's position on Security Council reform?", "Security Council reform"),
        ("Did the country raise Myanmar?", "Myanmar"),
        ("Where does the country stand on Gaza?", "Gaza"),
        ("How did the country describe the war in Sudan?", "The war in Sudan"),
        ("When did the country join NATO?", None),
        ("What did the country say?", None),
    ],
)
def test_the_topic_of_a_question(neutral: str, topic: str | None) -> None:
    assert topic_of(neutral) == topic


def test_a_country_the_filters_hold_is_worded_out_by_session() -> None:
    system = FakeSystem(compare_wording="neutral")
    run(system, "What did China say about climate?", by="session", filters={"country": "CHN"})
    assert {q for q, _, _ in system.asked} == {"What did the country say about climate?"}
    named = FakeSystem(compare_wording="named")
    run(named, "What did China say about climate?", by="session", filters={"country": "CHN"})
    assert {q for q, _, _ in named.asked} == {"What did China say about climate?"}


# --- exports -----------------------------------------------------------------------------------
def test_csv_has_one_line_per_group_with_its_citations() -> None:
    table = run(FakeSystem(), by="country", filters={"session": 78})
    rows = list(csv.reader(io.StringIO(to_csv(table))))
    assert tuple(rows[0]) == CSV_COLUMNS
    body = [dict(zip(CSV_COLUMNS, r, strict=True)) for r in rows[1:]]
    assert [(r["group"], r["status"]) for r in body] == [
        ("CHN", "answered"),
        ("FRA", "answered"),
        ("USA", "declined"),
    ]
    assert body[0]["citation_doc_ids"] == "ungdc:CHN"
    assert body[0]["citation_spans"] == "10-47"
    assert body[0]["citation_quotes"] == "China will respond to climate change."
    assert body[0]["confidence"] == "0.8000" and body[2]["answer"] == ""


def test_csv_quotes_commas_quotes_and_newlines() -> None:
    row = ComparisonRow(
        group="X", label='A, "B"\nC', status="no_documents", question="q", documents=0
    )
    table = Comparison(question="q", by="country", rows=[row], groups=["X"], groups_total=1)
    assert list(csv.reader(io.StringIO(to_csv(table))))[1][1] == 'A, "B"\nC'


def test_markdown_and_text_show_every_group() -> None:
    table = run(FakeSystem(), by="country", groups=["CHN", "USA", "XYZ"], filters={"session": 78})
    md = to_markdown(table)
    assert "| China (CHN) | China will respond to climate change. [1] | 0.80 |" in md
    assert "_no statement on this_" in md and "_no documents_" in md
    assert "1. CHN statement (`ungdc:CHN`, 10-47)" in md
    text = format_comparison(table)
    assert "United States (USA): declined" in text and "XYZ: no documents" in text


def test_the_held_out_compare_set_is_apart_from_the_tuning_set() -> None:
    """compare.test.v1 (the held-out report) loads, asks by country and by session, has cells
    that must decline, and shares no country with compare.v1 (on which the wording was chosen)."""
    from eval.compare import COMPARE_SET, load_compare_set

    held_out = load_compare_set(COMPARE_SET.with_name("compare.test.v1.jsonl"))
    tuning = load_compare_set()

    def countries(questions: list[Any]) -> set[str]:
        out = {q.filters["country"] for q in questions if "country" in q.filters}
        return out | {g for q in questions if q.by == "country" for g in q.groups}

    assert len(held_out) >= 12
    assert {q.by for q in held_out} == {"country", "session"}
    assert any(c == "decline" for q in held_out for c in q.cells.values())
    assert not countries(held_out) & countries(tuning)
    assert not {q.question for q in held_out} & {q.question for q in tuning}
