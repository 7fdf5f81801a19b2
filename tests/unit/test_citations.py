"""Citations are exact document slices; verification refuses anything else."""

from __future__ import annotations

import pytest

from index.records import Document
from rag.answering.citations import CitationError, make_citation, verify_citations
from rag.models import Answer, AnswerSentence

DOC = Document(id="recipe", title="Bread", source="kitchen", text="Mix flour. Add water. Bake.")


def answer_with(citation_start: int, citation_end: int, *, markers: list[int] | None = None):
    c = make_citation(1, DOC, citation_start, citation_end)
    return Answer(
        question="How is bread made?",
        answer=f"{c.quote} [1]",
        sentences=[AnswerSentence(text=c.quote, markers=markers or [1])],
        citations=[c],
        abstained=False,
        confidence=0.9,
        answerer="extractive",
        mode="hybrid",
    )


def test_make_citation_quotes_the_slice() -> None:
    c = make_citation(2, DOC, 11, 21)
    assert c.quote == "Add water." == DOC.text[c.char_start : c.char_end]
    assert (c.marker, c.doc_id, c.title, c.source) == (2, "recipe", "Bread", "kitchen")


def test_a_correct_answer_verifies() -> None:
    verify_citations(answer_with(0, 10), {"recipe": DOC})


def test_a_quote_that_differs_from_the_document_is_refused() -> None:
    a = answer_with(0, 10)
    a.citations[0] = a.citations[0].model_copy(update={"quote": "Mix sugar."})
    with pytest.raises(CitationError):
        verify_citations(a, {"recipe": DOC})


def test_a_citation_of_an_unknown_document_is_refused() -> None:
    with pytest.raises(CitationError):
        verify_citations(answer_with(0, 10), {})


def test_a_marker_without_a_citation_is_refused() -> None:
    with pytest.raises(CitationError, match="markers"):
        verify_citations(answer_with(0, 10, markers=[1, 2]), {"recipe": DOC})


def test_citations_carry_the_page_of_paged_documents() -> None:
    doc = Document(
        id="p", title="P", source="s", text="Page one.\n\nPage two.", page_starts=[0, 11]
    )
    assert make_citation(1, doc, 11, 20).page == 2
