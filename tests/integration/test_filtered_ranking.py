"""A filter shields the documents it keeps from those it excludes (issue 28: 20,000 one-line
"Record N about Sweden." records made the article's own answer abstain even with a doc_id filter).

FTS5's ``bm25()`` weighs terms by their rarity in the whole table: the records made *sweden*
common and *nato* rare, so inside the article the chunk saying NATO most often outranked the
one that answers. 100 records already reproduce it (checked against FTS5's collection-wide
scoring below); a filtered search now ranks with the statistics of the chunks it keeps.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import index.lexical
from rag.loaders import iter_documents
from rag.settings import Settings
from rag.system import QASystem

QUESTION = "When did Sweden join NATO?"
ARTICLE = {"doc_id": "japan-sweden-security-cooperation.txt"}
RECORDS = 100


@pytest.fixture(scope="module")
def flooded(
    article_index: Settings,
    index_copier: Callable[[Path, Path], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[QASystem]:
    """The article index plus ``RECORDS`` one-line records about Sweden."""
    base = tmp_path_factory.mktemp("flooded")
    folder = index_copier(article_index.index_dir, base / "index")
    records = base / "records.jsonl"
    records.write_text(
        "".join(
            json.dumps({"id": f"record-{i}", "text": f"Record {i} about Sweden."}) + "\n"
            for i in range(RECORDS)
        ),
        encoding="utf-8",
    )
    settings = article_index.model_copy(update={"index_dir": folder})
    report = QASystem.build(settings, iter_documents([records]))
    assert (report.added, report.failed) == (RECORDS, 0)
    with QASystem.open(settings) as qa:
        yield qa


@pytest.fixture(scope="module")
def article_only(article_index: Settings) -> Iterator[QASystem]:
    with QASystem.open(article_index) as qa:
        yield qa


def test_a_doc_id_filter_keeps_the_articles_answer(flooded: QASystem) -> None:
    answer = flooded.ask(QUESTION, filters=ARTICLE)
    assert not answer.abstained, answer.warnings
    assert "March 2024" in answer.answer


def test_filtered_passages_rank_as_in_an_index_of_the_article_alone(
    flooded: QASystem, article_only: QASystem
) -> None:
    for mode in ("hybrid", "lexical"):
        kept = flooded.search(QUESTION, filters=ARTICLE, mode=mode, k=10)
        alone = article_only.search(QUESTION, mode=mode, k=10)
        assert [p.chunk_id for p in kept] == [p.chunk_id for p in alone], mode
        for a, b in zip(kept, alone, strict=True):
            if a.debug.lexical is not None and b.debug.lexical is not None:
                assert a.debug.lexical.score == pytest.approx(b.debug.lexical.score, rel=1e-9)


def test_collection_wide_bm25_reproduces_the_abstention(
    flooded: QASystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The records are enough to reproduce the issue when the filtered part is scored with the
    whole table's statistics (FTS5's bm25(), what a filter larger than the cap still gets)."""
    monkeypatch.setattr(index.lexical, "LOCAL_STATS_MAX_CHUNKS", 0)
    assert flooded.ask(QUESTION, filters=ARTICLE).abstained


def test_unfiltered_search_is_fts5s_own(flooded: QASystem, article_only: QASystem) -> None:
    """Without a filter nothing changes: the records outrank nothing they did not before."""
    hits = flooded.search("Record 7 about Sweden", mode="lexical", k=3)
    assert hits[0].doc_id == "record-7"


def test_sqlite_varint() -> None:
    assert index.lexical.varint(b"k") == 107
    assert index.lexical.varint(b"\x81\x13") == 147
    assert index.lexical.varint(b"\x82\x80\x00") == 2 << 14


def test_a_small_part_read_by_rowid_scores_as_the_join_does(
    flooded: QASystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A part of a few chunks is looked up by rowid (faster); a broad one through the join:
    both give the same hits and scores."""
    by_rowid = flooded.search(QUESTION, filters=ARTICLE, mode="lexical", k=10)
    monkeypatch.setattr(index.lexical, "ROWID_LIST_MAX", 0)
    by_join = flooded.search(QUESTION, filters=ARTICLE, mode="lexical", k=10)
    assert [p.chunk_id for p in by_rowid] == [p.chunk_id for p in by_join]
    assert [p.debug.lexical.score for p in by_rowid if p.debug.lexical] == pytest.approx(
        [p.debug.lexical.score for p in by_join if p.debug.lexical], rel=1e-12
    )
    assert len(by_rowid) > 3
