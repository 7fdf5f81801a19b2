"""BM25 over a filtered part of the collection, with that part's own statistics.

FTS5's ``bm25()`` weighs a term by its rarity in the whole table (``idf = log((N - n + 0.5) /
(n + 0.5))``, ``N`` rows, ``n`` of them holding the term) and normalises lengths by the whole
table's average. With a filter, that lets documents the filter excludes decide the order of those
it keeps: 20,000 one-line records "Record N about Sweden." made *sweden* common and *nato* rare,
so inside ``doc_id=<the article>`` the chunk saying NATO most often outranked the one saying when
Sweden joined, and the article's own answer abstained. Here the statistics (``N``, ``n``, the
average length) are those of the chunks that pass the filter, and each matching chunk's term
frequency and length are FTS5's own (its ``highlight()`` marks and ``chunks_fts_docsize``), so a
filtered search ranks its chunks as an index holding only them would.

Only a part of at most :data:`LOCAL_STATS_MAX_CHUNKS` chunks is scored here (reading every
chunk's length costs a row each); a broader filter keeps FTS5's collection-wide ``bm25()``.
Measured on the 24,026-chunk article+corpora index, four terms: one document's filter 0.6 ms
(FTS5's 4.9 ms), half the documents (12,000 chunks) 41 ms (9.6 ms), all but one document (over
the cap) 18.6 ms (16.5 ms).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence

#: FTS5's bm25() constants (fts5_aux.c), so that both paths weigh alike.
K1 = 1.2
B = 0.75
#: FTS5 floors a term's idf here (a term in more than half the rows is not negative evidence).
IDF_FLOOR = 1e-6
#: Largest filtered part scored with its own statistics.
LOCAL_STATS_MAX_CHUNKS = 20_000
#: Largest part whose matches are looked up by chunk rowid rather than by joining documents:
#: each term of a question over one speech (5 chunks) takes 0.5 ms so, 5 ms by the join.
ROWID_LIST_MAX = 500

_OPEN, _CLOSE = "\x01", "\x02"  # never in the stored (analysed) text: words and spaces only


def varint(blob: bytes) -> int:
    """The first SQLite varint of ``blob`` (FTS5's docsize record: one per column)."""
    value = 0
    for i, byte in enumerate(blob[:9]):
        if i == 8:
            return (value << 8) | byte
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value
    return value


def idf(n_rows: int, n_hits: int) -> float:
    return max(math.log((n_rows - n_hits + 0.5) / (n_hits + 0.5)), IDF_FLOOR)


def filtered_bm25(
    conn: sqlite3.Connection,
    phrases: Sequence[str],
    k: int,
    where: str,
    params: Sequence[object],
) -> list[tuple[int, float]] | None:
    """Top-``k`` (chunk id, BM25) among the chunks whose document passes ``where`` (SQL on
    ``documents d``), scored with the statistics of those chunks alone; higher is better.
    ``phrases`` are FTS5 phrases (quoted), any of which may match. ``None`` when more than
    :data:`LOCAL_STATS_MAX_CHUNKS` chunks pass (the caller then uses FTS5's ``bm25()``)."""
    # the filter is read on documents (one row each), their chunks found by index: ~2 ms where
    # joining every chunk to its document first took 10-20 ms
    passing = f"c.doc_id IN (SELECT d.id FROM documents d WHERE {where})"
    (count,) = conn.execute(  # counted in SQLite first: a broad filter costs ~2 ms, not ~20
        f"SELECT count(*) FROM (SELECT 1 FROM chunks c WHERE {passing} LIMIT ?)",
        [*params, LOCAL_STATS_MAX_CHUNKS + 1],
    ).fetchone()
    if count > LOCAL_STATS_MAX_CHUNKS:
        return None
    lengths = {
        int(cid): varint(sz)
        for cid, sz in conn.execute(
            "SELECT c.id, s.sz FROM chunks c JOIN chunks_fts_docsize s ON s.id = c.id "
            f"WHERE {passing}",
            params,
        )
    }
    if not lengths:
        return []
    n_rows = len(lengths)
    average = sum(lengths.values()) / n_rows or 1.0
    if n_rows <= ROWID_LIST_MAX:  # a small part: look its chunks up by rowid (~10x faster)
        matching = (
            "SELECT f.rowid, highlight(chunks_fts, 0, ?, ?) FROM chunks_fts f "
            f"WHERE chunks_fts MATCH ? AND f.rowid IN ({','.join('?' * n_rows)})"
        )
        part: list[object] = list(lengths)
    else:  # a broad one: let SQLite join (a list of thousands of rowids costs more)
        matching = (
            "SELECT f.rowid, highlight(chunks_fts, 0, ?, ?) FROM chunks_fts f "
            "JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.doc_id "
            f"WHERE chunks_fts MATCH ? AND {where}"
        )
        part = list(params)
    scores: dict[int, float] = {}
    for phrase in phrases:
        hits = [
            (int(cid), marked.count(_OPEN))
            for cid, marked in conn.execute(matching, [_OPEN, _CLOSE, phrase, *part])
        ]
        weight = idf(n_rows, len(hits))
        for cid, tf in hits:
            norm = K1 * (1 - B + B * lengths.get(cid, average) / average)
            scores[cid] = scores.get(cid, 0.0) + weight * tf * (K1 + 1) / (tf + norm)
    return sorted(scores.items(), key=lambda hit: (-hit[1], hit[0]))[:k]
