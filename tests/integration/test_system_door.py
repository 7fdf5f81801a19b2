"""QASystem, the one door, over a real index (SQLite, FTS5, FAISS) with a tiny hashing encoder:
every front-end operation in seconds, without the model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from index.manifest import Manifest
from index.records import Document
from index.store import IndexStore
from rag.answering.question import QuestionAnalysis
from rag.filters import Filters
from rag.settings import Settings
from rag.system import QASystem
from rag.tokens import DEFAULT_ENCODING, TiktokenCounter

DIM = 64


class HashEncoder:
    """Bag of hashed words, L2-normalised: texts sharing words get close vectors."""

    model_name = "hash-test"
    dimension = DIM

    def encode(self, texts: Sequence[str], *, batch_size: int) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)

    def encode_query(self, text: str) -> np.ndarray:
        vectors: np.ndarray = self.encode([text], batch_size=1)
        return vectors[0]


DOCS = [
    Document(
        id="bakery",
        title="The bakery",
        source="town-news",
        date="2019-05-02",
        text="The bakery on Mill Street opened in May 2019. It sells rye bread and cinnamon "
        "buns. The owner, Greta Holm, trained in Uppsala.",
        metadata={"topic": "food"},
    ),
    Document(
        id="ferry",
        title="The ferry",
        source="harbour-notes",
        date="2021-08-10",
        text="The ferry to the island leaves at noon. It carries forty cars. "
        "The harbour master said the timetable would change in winter.",
        metadata={"topic": "transport"},
    ),
]


@pytest.fixture
def system(tmp_path: Path) -> Iterator[QASystem]:
    settings = Settings(index_dir=tmp_path / "index", embed_threads=1)
    manifest = Manifest(
        model_name=HashEncoder.model_name,
        dimension=DIM,
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap_sentences=settings.chunk_overlap_sentences,
        token_encoding=DEFAULT_ENCODING,
    )
    store = IndexStore.create(settings.index_dir, manifest, nprobe=settings.ivf_nprobe)
    qa = QASystem(store, HashEncoder(), settings)
    report = qa.ingest(DOCS, TiktokenCounter())
    assert report.added == 2
    yield qa
    qa.close()


def test_stats_count_what_was_ingested(system: QASystem) -> None:
    stats = system.stats()
    assert (stats.documents, stats.vector_index, stats.model) == (2, "flat", "hash-test")
    assert stats.chunks >= 2 and stats.sentences == 6
    assert stats.problems is None
    assert system.stats(check=True).problems == []


def test_list_and_get_documents(system: QASystem) -> None:
    docs, total = system.list_documents(limit=1)
    assert total == 2 and len(docs) == 1
    doc = system.get_document("ferry")
    assert doc is not None and doc.text.startswith("The ferry")
    assert system.get_document("nothing") is None
    assert set(system.get_documents(["bakery", "x"])) == {"bakery", "x"}


def test_search_returns_passages_with_their_sentence_ranges(system: QASystem) -> None:
    passages = system.search("When does the ferry leave?", k=2)
    assert passages[0].doc_id == "ferry"
    top = passages[0]
    assert top.sentence_end > top.sentence_start >= 0
    assert top.document is not None and top.document.id == "ferry"
    assert top.metadata["topic"] == "transport"


def test_search_filters_inside_the_retrievers(system: QASystem) -> None:
    passages = system.search("ferry", filters=Filters(source="town-news"))
    assert {p.doc_id for p in passages} <= {"bakery"}


def test_ask_returns_a_complete_answer(system: QASystem) -> None:
    answer = system.ask("When did the bakery open?", mode="lexical")
    assert answer.mode == "lexical"
    assert set(answer.timings_ms) == {"encode", "retrieve", "answer", "total"}
    for c in answer.citations:
        doc = system.get_document(c.doc_id)
        assert doc is not None and doc.text[c.char_start : c.char_end] == c.quote


def test_the_question_is_analysed_once_per_ask(
    system: QASystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``evidence()`` analyses the question once; retrieval takes its lexical terms from that
    analysis and the answerer reads it from the evidence, so neither derives them again."""
    import rag.answering.extractive as extractive
    import rag.retrieval as retrieval
    import rag.system as door

    real = door.analyse_question
    expected = system.ask("When did the bakery open?")
    calls: list[str] = []

    def counted(text: str) -> QuestionAnalysis:
        calls.append(text)
        return real(text)

    def again(*args: object) -> None:
        raise AssertionError("the question was analysed again")

    monkeypatch.setattr(door, "analyse_question", counted)
    monkeypatch.setattr(extractive, "analyse_question", again)
    monkeypatch.setattr(retrieval, "content_terms", again)
    answer = system.ask("When did the bakery open?")
    assert calls == ["When did the bakery open?"]
    assert answer.answer == expected.answer and answer.citations == expected.citations
    assert [p.chunk_id for p in answer.passages] == [p.chunk_id for p in expected.passages]
    evidence = system.evidence("When did the bakery open?")
    assert evidence.analysis == real(evidence.question)


def test_reingest_is_a_no_op_and_delete_removes(system: QASystem) -> None:
    assert system.ingest(DOCS[:1]).unchanged == 1
    assert system.delete_documents(["bakery", "ghost"]) == ["ghost"]
    assert system.get_document("bakery") is None
    assert not system.delete_document("bakery")
    assert system.stats().documents == 1


def test_with_settings_shares_the_index(system: QASystem) -> None:
    other = system.with_settings(system.settings.model_copy(update={"top_k": 1}))
    assert len(other.search("ferry bread")) == 1
    assert other.stats().documents == 2


def test_texts_in_storage_order(system: QASystem) -> None:
    chunks, sentences = system.texts()
    assert len(sentences) == 6 and any("cinnamon" in c for c in chunks)


def test_the_index_exists_only_after_a_build(tmp_path: Path, system: QASystem) -> None:
    assert QASystem.exists(system.settings.index_dir)
    assert not QASystem.exists(tmp_path / "elsewhere")
