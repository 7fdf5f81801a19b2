"""Token-budget chunking of documents into consecutive whole sentences.

Two steps:

* :func:`segment` turns a text into *units*: its sentences (:func:`rag.sentences.split_sentences`),
  where a sentence over the token budget is cut into pieces at whitespace, each within the budget.
* :func:`chunk_document` packs consecutive units greedily into chunks within the budget, the
  next chunk repeating the last ``overlap_sentences`` units of the previous one.

Every span is exact: ``doc.text[char_start:char_end] == text`` for each chunk and sentence, and
spans never start or end on whitespace.

Edge case, by design: a single "word" (run of non-whitespace, e.g. a long URL or a base64 blob)
whose own token count exceeds the budget cannot be cut at whitespace. It is cut inside the word
instead, each piece being the longest prefix of the rest whose token count fits the budget, found
by exponential then binary search on token counts. That is the only case where a unit, and so a
chunk boundary, falls mid-word. Token counts stay within the budget, except for a single
character that alone exceeds it (only possible with a budget under 4 tokens) and for
caller-supplied ``units`` larger than the budget, which become chunks of their own.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from itertools import accumulate

from index.errors import InvalidDocumentError
from index.records import Chunk, Document, Sentence
from rag.errors import ConfigurationError
from rag.sentences import split_sentences
from rag.tokens import TokenCounter, count_many

__all__ = ["chunk_document", "segment"]

logger = logging.getLogger(__name__)

Span = tuple[int, int]
_WORD_RE = re.compile(r"\S+")


def segment(text: str, counter: TokenCounter, max_tokens: int) -> list[Span]:
    """Sentence spans of ``text``, with sentences over ``max_tokens`` cut at whitespace.

    The spans are stripped, ordered, non-overlapping and cover every non-whitespace character of
    ``text`` exactly once. Each span's own token count is at most ``max_tokens``; see the module
    docstring for the single-giant-word case.
    """
    spans, _ = _segment_counted(text, counter, max_tokens)
    return spans


def chunk_document(
    doc: Document,
    counter: TokenCounter,
    *,
    max_tokens: int,
    overlap_sentences: int,
    units: Sequence[Span] | None = None,
) -> tuple[list[Sentence], list[Chunk]]:
    """Split ``doc`` into its sentences and its chunks.

    ``units`` are the sentence spans to pack; by default ``segment(doc.text, counter,
    max_tokens)``. Each chunk holds consecutive whole units and its exact text counts at most
    ``max_tokens`` tokens. A chunk repeats the last ``overlap_sentences`` units of the previous
    one, fewer when the budget does not leave room for them plus one new unit; every chunk adds
    at least one new unit. ``Chunk.id`` is left unset (the index assigns it).
    """
    _check_budget(max_tokens)
    if overlap_sentences < 0:
        raise ConfigurationError(
            f"overlap_sentences must be 0 or more, got {overlap_sentences}",
            hint="set chunk_overlap_sentences to 0 or a small positive number",
        )
    text = doc.text
    if units is None:
        spans, counts = _segment_counted(text, counter, max_tokens)
    else:
        spans = list(units)
        _check_units(doc, spans)
        counts = count_many(counter, [text[s:e] for s, e in spans])

    sentences = [
        Sentence(doc_id=doc.id, ordinal=i, char_start=s, char_end=e, text=text[s:e])
        for i, (s, e) in enumerate(spans)
    ]
    chunks: list[Chunk] = []
    for ordinal, (first, last, n_tokens) in enumerate(
        _pack(text, spans, counts, counter, max_tokens, overlap_sentences)
    ):
        start, end = spans[first][0], spans[last - 1][1]
        if n_tokens > max_tokens:
            logger.warning(
                "document %r: chunk %d has %d tokens, over the budget of %d (one oversized unit)",
                doc.id,
                ordinal,
                n_tokens,
                max_tokens,
            )
        chunks.append(
            Chunk(
                id=None,
                doc_id=doc.id,
                ordinal=ordinal,
                char_start=start,
                char_end=end,
                text=text[start:end],
                n_tokens=n_tokens,
                page=doc.page_of(start),
                sentence_start=first,
                sentence_end=last,
            )
        )
    return sentences, chunks


# --- internals -----------------------------------------------------------------------------------


def _check_budget(max_tokens: int) -> None:
    if max_tokens < 1:
        raise ConfigurationError(
            f"max_tokens must be at least 1, got {max_tokens}",
            hint="set chunk_tokens to a positive budget such as 200",
        )


def _check_units(doc: Document, spans: list[Span]) -> None:
    previous_end = 0
    for s, e in spans:
        if not previous_end <= s < e <= len(doc.text):
            raise InvalidDocumentError(
                f"document {doc.id!r}: unit span ({s}, {e}) is empty, out of order or past the "
                f"end of the text ({len(doc.text)} characters)",
                hint="pass the spans returned by segment(doc.text, counter, max_tokens)",
            )
        previous_end = e


def _segment_counted(
    text: str, counter: TokenCounter, max_tokens: int
) -> tuple[list[Span], list[int]]:
    """:func:`segment`, also returning each span's own token count."""
    _check_budget(max_tokens)
    sentences = split_sentences(text)
    counts = count_many(counter, [text[s:e] for s, e in sentences])
    if all(n <= max_tokens for n in counts):
        return sentences, counts
    spans: list[Span] = []
    span_counts: list[int] = []
    for span, n in zip(sentences, counts, strict=True):
        if n <= max_tokens:
            spans.append(span)
            span_counts.append(n)
        else:
            pieces, piece_counts = _split_sentence(text, span, counter, max_tokens)
            spans.extend(pieces)
            span_counts.extend(piece_counts)
    return spans, span_counts


def _split_sentence(
    text: str, span: Span, counter: TokenCounter, budget: int
) -> tuple[list[Span], list[int]]:
    """Cut one overlong sentence into pieces at whitespace, each within ``budget``."""
    words = [m.span() for m in _WORD_RE.finditer(text, span[0], span[1])]
    word_counts = count_many(counter, [text[s:e] for s, e in words])
    units: list[Span] = []
    unit_counts: list[int] = []
    for word, n in zip(words, word_counts, strict=True):
        if n <= budget:
            units.append(word)
            unit_counts.append(n)
        else:
            pieces, piece_counts = _split_giant_word(text, word, counter, budget)
            units.extend(pieces)
            unit_counts.extend(piece_counts)
    packs = _pack(text, units, unit_counts, counter, budget, overlap=0)
    return (
        [(units[first][0], units[last - 1][1]) for first, last, _ in packs],
        [n for _, _, n in packs],
    )


def _split_giant_word(
    text: str, word: Span, counter: TokenCounter, budget: int
) -> tuple[list[Span], list[int]]:
    """Cut a word over ``budget`` into longest-prefix pieces that fit (see module docstring)."""
    spans: list[Span] = []
    counts: list[int] = []
    pos, end = word
    while pos < end:
        good, good_n = pos + 1, -1  # a single character is taken even when it does not fit
        bad = end + 1  # sentinel: no known too-long prefix yet
        probe = pos + 2 * budget
        while True:  # exponential search for a prefix that does not fit
            probe = min(probe, end)
            n = counter.count(text[pos:probe])
            if n > budget:
                bad = probe
                break
            good, good_n = probe, n
            if probe == end:
                break
            probe = pos + 2 * (probe - pos)
        if bad <= end:  # binary search between a fitting and a non-fitting prefix
            lo, hi = good, bad
            while hi - lo > 1:
                mid = (lo + hi) // 2
                n = counter.count(text[pos:mid])
                if n <= budget:
                    lo, good_n = mid, n
                else:
                    hi = mid
            good = lo
        if good_n < 0:
            good_n = counter.count(text[pos:good])
        spans.append((pos, good))
        counts.append(good_n)
        pos = good
    return spans, counts


def _pack(
    text: str,
    spans: Sequence[Span],
    counts: Sequence[int],
    counter: TokenCounter,
    budget: int,
    overlap: int,
) -> list[tuple[int, int, int]]:
    """Greedily group consecutive spans; return ``(first, last_exclusive, exact_tokens)`` each.

    The size of a candidate group is estimated from the spans' own counts (plus one token per
    separator other than a single space), then the exact text of the group is counted and the
    group shrunk while it is over the budget. A group that cannot fit its overlap plus one new
    span drops overlap spans; a single span is always accepted.
    """
    n = len(spans)
    if n == 0:
        return []
    gap_costs = [0] + [
        0 if text[spans[i - 1][1] : spans[i][0]] in ("", " ") else 1 for i in range(1, n)
    ]
    count_sums = [0, *accumulate(counts)]
    gap_sums = [0, *accumulate(gap_costs)]

    def estimate(first: int, last: int) -> int:
        return count_sums[last] - count_sums[first] + gap_sums[last] - gap_sums[first + 1]

    def exact(first: int, last: int) -> int:
        if last - first == 1:
            return counts[first]
        return counter.count(text[spans[first][0] : spans[last - 1][1]])

    packs: list[tuple[int, int, int]] = []
    first, need = 0, 1  # the group must reach at least span need - 1 (the first new one)
    while True:
        while True:
            last = need
            while last < n and estimate(first, last + 1) <= budget:
                last += 1
            tokens = exact(first, last)
            while tokens > budget and last > need:
                last -= 1
                tokens = exact(first, last)
            if tokens <= budget or first == need - 1:
                break
            first += 1  # no room for all the overlap: repeat one span fewer
        packs.append((first, last, tokens))
        if last >= n:
            return packs
        first, need = max(first + 1, last - overlap), last + 1
