"""The countries and years a question names, and the metadata channels made of them (no index,
no model; the channel's fusion on a scripted snapshot)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from index.records import ChunkFilter, DocumentFields
from rag.metadata_hints import MAX_CHANNELS, metadata_channels, question_hints
from rag.retrieval import RetrievalParams, retrieve

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("question", "countries"),
    [
        ("What did Peru propose in its statement?", ("PER",)),
        ("What did the Democratic Republic of the Congo say?", ("COD",)),  # "Congo, The …"
        ("Why did St. Vincent and the Grenadines appeal?", ("VCT",)),  # "Saint …"
        ("What did the Republic of Korea pledge?", ("KOR",)),  # "Korea, Republic of"
        ("What did Türkiye's delegate say?", ("TUR",)),  # possessive, non-ASCII
        ("Did Guinea-Bissau or Guinea speak first?", ("GNB", "GIN")),  # longest name first
        ("What did Nigeria and Niger agree?", ("NGA", "NER")),
        ("How did the committee vote on the budget?", ()),
        ("What did Korea say?", ()),  # two countries share the bare name: it names neither
    ],
)
def test_countries_named_in_a_question(question: str, countries: tuple[str, ...]) -> None:
    assert question_hints(question).countries == countries


@pytest.mark.parametrize(
    ("question", "years"),
    [
        ("What did it say in 2021 about the 1986 ruling?", ("2021", "1986")),
        ("What changed between 2020 and 2020?", ("2020",)),
        ("Is 12021 or 2021.5 or 1,999 a year?", ()),
        ("What was agreed in 1850?", ()),  # before 1900: not a document's year here
    ],
)
def test_years_named_in_a_question(question: str, years: tuple[str, ...]) -> None:
    assert question_hints(question).years == years


VALUES = {"country": ["CHL", "PER", "URY", "ARG"], "session": ["75", "76"]}


def test_one_channel_per_named_country_with_the_questions_years() -> None:
    channels = metadata_channels(
        "Did Peru and Chile agree in 2021 or 2022?", None, VALUES, "country"
    )
    assert [c.strict.metadata for c in channels] == [{"country": "PER"}, {"country": "CHL"}]
    assert all((c.strict.date_from, c.strict.date_to) == ("2021", "2022") for c in channels)
    assert all(c.dated for c in channels)


def test_channels_keep_the_callers_filter_and_dates() -> None:
    flt = ChunkFilter(source="UN", date_from="2020", metadata={"session": "75"})
    (channel,) = metadata_channels("What did Peru say in 2023?", flt, VALUES, "country")
    strict = channel.strict
    assert strict.source == "UN" and strict.metadata == {"session": "75", "country": "PER"}
    assert (strict.date_from, strict.date_to) == ("2020", None)  # the caller's dates win
    assert not channel.dated


def test_no_channel_without_country_metadata_or_when_the_caller_picks_the_country() -> None:
    question = "What did Peru say?"
    assert metadata_channels(question, None, {"session": ["75"]}, "country") == []
    picked = ChunkFilter(metadata={"country": "CHL"})
    assert metadata_channels(question, picked, VALUES, "country") == []
    assert metadata_channels(question, None, VALUES, "nation") == []


def test_at_most_a_few_channels() -> None:
    question = "Did Peru, Chile, Uruguay and Argentina all sign?"
    assert len(metadata_channels(question, None, VALUES, "country")) == MAX_CHANNELS


def doc(doc_id: str, country: str | None = None, date: str | None = None) -> DocumentFields:
    return DocumentFields(doc_id, date, {"country": country} if country else {})


def test_who_is_in_a_channel() -> None:
    (channel,) = metadata_channels("What did Peru say in 2021?", None, VALUES, "country")
    assert channel.lets_in(doc("a", "PER", "2021-09"))
    assert not channel.lets_in(doc("b", "PER", "2023-09"))  # its other years: not this one
    assert not channel.lets_in(doc("c", "CHL", "2021-09"))  # another country's
    assert channel.lets_in(doc("d"))  # names no country, no date: may be about it
    assert channel.lets_in(doc("e", None, "2021-03"))
    assert not channel.lets_in(doc("f", None, "1999"))


class ScriptedSnapshot:
    """Dense and lexical rankings by filter (the whole index, or one country's documents),
    and which document each chunk is from."""

    def __init__(
        self, rankings: dict[str | None, list[int]], docs: dict[int, DocumentFields]
    ) -> None:
        self.rankings = rankings
        self.docs = docs

    def _ranked(self, flt: ChunkFilter | None) -> list[tuple[int, float]]:
        country = str(flt.metadata["country"]) if flt is not None else None
        return [(cid, 1.0 / (i + 1)) for i, cid in enumerate(self.rankings[country])]

    def search_dense(self, query: Any, k: int, flt: ChunkFilter | None = None) -> list:
        return self._ranked(flt)[:k]

    def search_lexical(self, terms: Sequence[str], k: int, flt: Any = None, **_: Any) -> list:
        return self._ranked(flt)[:k]

    def document_fields(self, ids: Sequence[int]) -> dict[int, DocumentFields]:
        return {i: self.docs[i] for i in ids if i in self.docs}

    def chunks(self, ids: Sequence[int]) -> dict:
        return {}  # no passages are built from a script

    def documents(self, ids: Sequence[str]) -> dict:
        return {}


def params(weight: float) -> RetrievalParams:
    return RetrievalParams(
        k=3,
        mode="hybrid",
        dense_depth=10,
        lexical_depth=10,
        rrf_k=10,
        dense_weight=0.5,
        lexical_weight=1.0,
        dense_scoring="chunk",
        metadata_weight=weight,
    )


def test_a_channel_lifts_its_country_over_others_never_over_documents_without_one() -> None:
    import rag.retrieval as retrieval

    docs = {i: doc(f"chl-{i}", "CHL", "2021-09") for i in (1, 2, 3, 4, 5, 6)}
    docs |= {7: doc("no-country"), 8: doc("per", "PER", "2021-09"), 9: doc("per", "PER")}
    snap = ScriptedSnapshot({None: [1, 2, 7, 3, 4, 5, 6, 9], "PER": [9, 8]}, docs)
    (channel,) = metadata_channels("What did Peru say?", None, VALUES, "country")
    p = params(1.0)
    fused = retrieval._hybrid(snap, ["peru"], np.ones(4), p, None, "en")  # type: ignore[arg-type]
    order = [
        f.chunk_id
        for f in retrieval._with_channels(snap, fused, ["peru"], np.ones(4), p, [channel], "en")  # type: ignore[arg-type]
    ]
    # the channel ranks 9 and 8 (Peru's) with 7 (no country) by their fused scores: 9, 8, 7;
    # 7 keeps its lead over Chile's chunks, 9 climbs from last, 8 (found by the channel) joins
    assert order[:3] == [7, 9, 1]
    assert order[-1] == 8


def test_weight_zero_runs_no_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.retrieval as retrieval

    calls: list[object] = []
    monkeypatch.setattr(retrieval, "_with_channels", lambda *a: calls.append(a))
    snap = ScriptedSnapshot({None: [1, 2]}, {})
    (channel,) = metadata_channels("What did Peru say?", None, VALUES, "country")
    retrieve(snap, "What did Peru say?", np.ones(4), params(0.0), channels=[channel])  # type: ignore[arg-type]
    assert calls == []
