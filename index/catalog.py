"""SQLite side of the index: documents, chunks, sentences (with vectors) and the FTS5 table.

The FTS5 table holds the searchable form of each chunk (:mod:`index.analysis`: stems in the
document's language, ``metadata["language"]``, and CJK bigrams), not its raw text.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import numpy as np

from index.analysis import analyse, query_tokens
from index.errors import CorruptIndexError, InvalidFilterError
from index.lexical import filtered_bm25
from index.records import (
    Chunk,
    ChunkFilter,
    Document,
    DocumentFields,
    DocumentInfo,
    MetadataValue,
    Sentence,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    date TEXT,
    metadata TEXT NOT NULL,
    page_starts TEXT,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source);
CREATE INDEX IF NOT EXISTS documents_date ON documents(date);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents(id),
    ordinal INTEGER NOT NULL,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    text TEXT NOT NULL,
    n_tokens INTEGER NOT NULL,
    page INTEGER,
    sentence_start INTEGER NOT NULL,
    sentence_end INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, ordinal);
CREATE TABLE IF NOT EXISTS sentences (
    doc_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BLOB,
    PRIMARY KEY (doc_id, ordinal)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, tokenize = 'unicode61 remove_diacritics 2'
);
"""

_META_KEY_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_FTS_TERM_RE = re.compile(r"[^\w]+", re.UNICODE)


def connect(path: Path, *, readonly: bool = False, immutable: bool = False) -> sqlite3.Connection:
    """Open the catalog in WAL mode: readers never block the writer nor see partial writes.

    ``readonly`` opens it with ``mode=ro`` (readers never need to write); ``immutable`` also tells
    SQLite the file cannot change (read-only media), so it takes no locks and needs no ``-shm``.
    """
    quoted = quote(str(path), safe="/")
    uri = f"file:{quoted}?mode={'ro' if readonly or immutable else 'rwc'}"
    if immutable:
        uri += "&immutable=1"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    if not (readonly or immutable):
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def create_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)
    conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0')")
    conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('vector_kind', 'flat')")


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))


# --- writes --------------------------------------------------------------------------------------
def insert_document(conn: sqlite3.Connection, doc: Document) -> None:
    conn.execute(
        "INSERT INTO documents(id, title, source, date, metadata, page_starts, text, content_hash,"
        " ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            doc.id,
            doc.title,
            doc.source,
            doc.date,
            json.dumps(doc.metadata, ensure_ascii=False, sort_keys=True),
            json.dumps(doc.page_starts) if doc.page_starts is not None else None,
            doc.text,
            doc.content_hash,
            datetime.now(UTC).isoformat(timespec="seconds"),
        ),
    )


def insert_chunks(
    conn: sqlite3.Connection, chunks: Sequence[Chunk], *, language: str | None = None
) -> list[int]:
    """Insert chunks and their searchable form (analysed for ``language``); returns their ids."""
    ids: list[int] = []
    for c in chunks:
        cur = conn.execute(
            "INSERT INTO chunks(doc_id, ordinal, char_start, char_end, text, n_tokens, page,"
            " sentence_start, sentence_end) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                c.doc_id,
                c.ordinal,
                c.char_start,
                c.char_end,
                c.text,
                c.n_tokens,
                c.page,
                c.sentence_start,
                c.sentence_end,
            ),
        )
        chunk_id = int(cur.lastrowid or 0)
        ids.append(chunk_id)
    conn.executemany(
        "INSERT INTO chunks_fts(rowid, text) VALUES (?, ?)",
        [(cid, analyse(c.text, language)) for cid, c in zip(ids, chunks, strict=True)],
    )
    return ids


def insert_sentences(
    conn: sqlite3.Connection, sentences: Sequence[Sentence], vectors: np.ndarray | None
) -> None:
    rows = []
    for i, s in enumerate(sentences):
        blob = None if vectors is None else np.asarray(vectors[i], dtype=np.float32).tobytes()
        rows.append((s.doc_id, s.ordinal, s.char_start, s.char_end, s.text, blob))
    conn.executemany(
        "INSERT INTO sentences(doc_id, ordinal, char_start, char_end, text, vector)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )


def delete_document(conn: sqlite3.Connection, doc_id: str) -> list[int]:
    """Delete a document's rows everywhere; returns the chunk ids whose vectors must go too."""
    rows = conn.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))
    chunk_ids = [int(r[0]) for r in rows]
    conn.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(i,) for i in chunk_ids])
    conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
    conn.execute("DELETE FROM sentences WHERE doc_id = ?", (doc_id,))
    conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
    return chunk_ids


# --- reads ---------------------------------------------------------------------------------------
def document_hashes(conn: sqlite3.Connection, doc_ids: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for doc_id in doc_ids:
        row = conn.execute("SELECT content_hash FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is not None:
            out[doc_id] = str(row[0])
    return out


def document_metadata(conn: sqlite3.Connection, doc_id: str) -> dict[str, MetadataValue] | None:
    row = conn.execute("SELECT metadata FROM documents WHERE id = ?", (doc_id,)).fetchone()
    return None if row is None else dict(json.loads(str(row[0])))


def metadata_values(conn: sqlite3.Connection, *, per_key: int = 50) -> dict[str, list[str]]:
    """Each metadata key present in the index, with up to ``per_key`` of its values (as text,
    most frequent first)."""
    rows = conn.execute(
        "SELECT j.key, j.value, count(*) AS n FROM documents d, json_each(d.metadata) j "
        "WHERE j.type NOT IN ('object', 'array') GROUP BY j.key, j.value "
        "ORDER BY j.key, n DESC, j.value"
    ).fetchall()
    out: dict[str, list[str]] = {}
    for key, value, _ in rows:
        values = out.setdefault(str(key), [])
        if len(values) < per_key:
            values.append(json.dumps(value) if isinstance(value, bool) else str(value))
    return out


def source_values(conn: sqlite3.Connection, *, limit: int = 200) -> list[str]:
    """Document sources in the index, most frequent first."""
    rows = conn.execute(
        "SELECT source, count(*) AS n FROM documents WHERE source != '' "
        "GROUP BY source ORDER BY n DESC, source LIMIT ?",
        (limit,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def date_range(conn: sqlite3.Connection) -> tuple[str | None, str | None]:
    row = conn.execute("SELECT min(date), max(date) FROM documents").fetchone()
    return (row[0], row[1]) if row else (None, None)


def _document_from_row(row: sqlite3.Row | tuple[object, ...]) -> Document:
    (doc_id, title, source, date, metadata, page_starts, text) = row
    return Document(
        id=str(doc_id),
        title=str(title),
        source=str(source),
        date=None if date is None else str(date),
        metadata=json.loads(str(metadata)),
        page_starts=None if page_starts is None else json.loads(str(page_starts)),
        text=str(text),
    )


def get_document(conn: sqlite3.Connection, doc_id: str) -> Document | None:
    row = conn.execute(
        "SELECT id, title, source, date, metadata, page_starts, text FROM documents WHERE id = ?",
        (doc_id,),
    ).fetchone()
    return None if row is None else _document_from_row(row)


def list_documents(
    conn: sqlite3.Connection, *, limit: int | None = None, offset: int = 0
) -> list[DocumentInfo]:
    sql = (
        "SELECT d.id, d.title, d.source, d.date, d.metadata, length(d.text), "
        "(SELECT count(*) FROM chunks c WHERE c.doc_id = d.id), d.content_hash, d.ingested_at "
        "FROM documents d ORDER BY d.id LIMIT ? OFFSET ?"
    )
    rows = conn.execute(sql, (-1 if limit is None else limit, offset)).fetchall()
    return [
        DocumentInfo(
            id=r[0],
            title=r[1],
            source=r[2],
            date=r[3],
            metadata=json.loads(r[4]),
            n_chars=r[5],
            n_chunks=r[6],
            content_hash=r[7],
            ingested_at=r[8],
        )
        for r in rows
    ]


def chunk_document_fields(
    conn: sqlite3.Connection, chunk_ids: Sequence[int]
) -> dict[int, DocumentFields]:
    """For each chunk, its document's id, date and metadata (no text is read)."""
    if not chunk_ids:
        return {}
    rows = conn.execute(
        "SELECT c.id, d.id, d.date, d.metadata FROM chunks c JOIN documents d ON d.id = c.doc_id "
        f"WHERE c.id IN ({','.join('?' * len(chunk_ids))})",
        [int(i) for i in chunk_ids],
    ).fetchall()
    return {int(r[0]): DocumentFields(r[1], r[2], json.loads(r[3])) for r in rows}


def get_chunks(conn: sqlite3.Connection, chunk_ids: Sequence[int]) -> dict[int, Chunk]:
    if not chunk_ids:
        return {}
    marks = ",".join("?" * len(chunk_ids))
    rows = conn.execute(
        "SELECT id, doc_id, ordinal, char_start, char_end, text, n_tokens, page, sentence_start,"
        f" sentence_end FROM chunks WHERE id IN ({marks})",
        [int(i) for i in chunk_ids],
    ).fetchall()
    return {
        int(r[0]): Chunk(
            id=r[0],
            doc_id=r[1],
            ordinal=r[2],
            char_start=r[3],
            char_end=r[4],
            text=r[5],
            n_tokens=r[6],
            page=r[7],
            sentence_start=r[8],
            sentence_end=r[9],
        )
        for r in rows
    }


def _check_vectors(blobs: Sequence[bytes], dimension: int | None) -> None:
    """Stored sentence vectors must each hold ``dimension`` float32 values (when given; else all
    the same length): a cut or padded one is damage, not something to score with."""
    want = 4 * dimension if dimension is not None else (len(blobs[0]) if blobs else 0)
    bad = sum(1 for b in blobs if len(b) != want or not want)
    if bad:
        raise CorruptIndexError(
            f"the index catalog is damaged: {bad} stored sentence vectors are not "
            f"{want // 4} float32 values long"
        )


def best_sentence_scores(
    conn: sqlite3.Connection,
    query: np.ndarray,
    chunk_ids: Sequence[int],
    *,
    dimension: int | None = None,
) -> dict[int, float]:
    """For each chunk, the largest inner product of ``query`` with one of its sentences' stored
    vectors. Chunks without sentence vectors are left out."""
    if not chunk_ids:
        return {}
    marks = ",".join("?" * len(chunk_ids))
    rows = conn.execute(
        "SELECT c.id, s.vector FROM chunks c JOIN sentences s ON s.doc_id = c.doc_id"
        " AND s.ordinal >= c.sentence_start AND s.ordinal < c.sentence_end"
        f" WHERE c.id IN ({marks}) AND s.vector IS NOT NULL",
        [int(i) for i in chunk_ids],
    ).fetchall()
    if not rows:
        return {}
    _check_vectors([r[1] for r in rows], dimension)
    vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
    scores = vectors.reshape(len(rows), -1) @ np.asarray(query, dtype=np.float32).reshape(-1)
    best: dict[int, float] = {}
    for (chunk_id, _), score in zip(rows, scores.tolist(), strict=True):
        if score > best.get(chunk_id, -np.inf):
            best[chunk_id] = score
    return best


def get_sentences(
    conn: sqlite3.Connection, doc_id: str, start: int, end: int, *, dimension: int | None = None
) -> tuple[list[Sentence], np.ndarray | None]:
    """Sentences ``start <= ordinal < end`` of a document, with their vectors when stored."""
    rows = conn.execute(
        "SELECT ordinal, char_start, char_end, text, vector FROM sentences "
        "WHERE doc_id = ? AND ordinal >= ? AND ordinal < ? ORDER BY ordinal",
        (doc_id, start, end),
    ).fetchall()
    sentences = [
        Sentence(doc_id=doc_id, ordinal=r[0], char_start=r[1], char_end=r[2], text=r[3])
        for r in rows
    ]
    if not rows or any(r[4] is None for r in rows):
        return sentences, None
    _check_vectors([r[4] for r in rows], dimension)
    vectors = np.vstack([np.frombuffer(r[4], dtype=np.float32) for r in rows])
    return sentences, vectors


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    def one(sql: str) -> int:
        return int(conn.execute(sql).fetchone()[0])

    return {
        "documents": one("SELECT count(*) FROM documents"),
        "chunks": one("SELECT count(*) FROM chunks"),
        "sentences": one("SELECT count(*) FROM sentences"),
        "fts_rows": one("SELECT count(*) FROM chunks_fts"),
        "characters": one("SELECT coalesce(sum(length(text)), 0) FROM documents"),
    }


def all_texts(conn: sqlite3.Connection) -> tuple[list[str], list[str]]:
    """Every chunk's text in id order and every sentence's in document and sentence order."""
    chunks = [str(r[0]) for r in conn.execute("SELECT text FROM chunks ORDER BY id")]
    sentences = [
        str(r[0]) for r in conn.execute("SELECT text FROM sentences ORDER BY doc_id, ordinal")
    ]
    return chunks, sentences


def all_chunk_ids(conn: sqlite3.Connection) -> np.ndarray:
    return np.fromiter((int(r[0]) for r in conn.execute("SELECT id FROM chunks")), dtype=np.int64)


# --- filters -------------------------------------------------------------------------------------
def filter_clause(flt: ChunkFilter, alias: str = "d") -> tuple[str, list[object]]:
    """SQL condition on documents (``alias``) implementing a filter, with its parameters."""
    parts: list[str] = []
    params: list[object] = []
    if flt.doc_ids is not None:
        ids = sorted(flt.doc_ids)
        if not ids:
            return "0", []
        parts.append(f"{alias}.id IN ({','.join('?' * len(ids))})")
        params.extend(ids)
    if flt.source is not None:
        parts.append(f"{alias}.source = ?")
        params.append(flt.source)
    if flt.date_from is not None:
        parts.append(f"{alias}.date IS NOT NULL AND ({alias}.date || '~') >= ?")
        params.append(flt.date_from)
    if flt.date_to is not None:
        parts.append(f"{alias}.date IS NOT NULL AND {alias}.date <= (? || '~')")
        params.append(flt.date_to)
    for key, value in sorted(flt.metadata.items()):
        if not _META_KEY_RE.match(key):
            raise InvalidFilterError(
                f"metadata filter key {key!r} is not valid",
                hint="keys are 1-64 letters, digits, '_', '.', or '-'",
            )
        parts.append(f"json_extract({alias}.metadata, ?) = ?")
        params.append(f'$."{key}"')
        params.append(_sql_value(value))
    return (" AND ".join(parts) or "1"), params


def any_document(conn: sqlite3.Connection, flt: ChunkFilter) -> bool:
    """Whether some document passes ``flt``."""
    where, params = filter_clause(flt)
    row = conn.execute(f"SELECT 1 FROM documents d WHERE {where} LIMIT 1", params).fetchone()
    return row is not None


def existing_ids(conn: sqlite3.Connection, doc_ids: Iterable[str]) -> set[str]:
    """Those of ``doc_ids`` that are documents of the index."""
    wanted = sorted(set(doc_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        rows = conn.execute(
            f"SELECT id FROM documents WHERE id IN ({','.join('?' * len(part))})", part
        )
        found.update(str(r[0]) for r in rows)
    return found


def values_containing(
    conn: sqlite3.Connection, field: str, text: str, *, key: str | None = None, limit: int = 5
) -> list[str]:
    """Up to ``limit`` distinct values of a document field (``id``, ``source``) or, with
    ``field="metadata"``, of metadata ``key``, that contain ``text`` ignoring case (as text)."""
    if field == "metadata":
        if key is None or not _META_KEY_RE.match(key):
            return []
        column, params = "CAST(json_extract(metadata, ?) AS TEXT)", [f'$."{key}"']
    elif field in ("id", "source"):
        column, params = field, []
    else:
        raise ValueError(f"not a searchable field: {field}")
    rows = conn.execute(
        f"SELECT DISTINCT {column} AS v FROM documents WHERE v IS NOT NULL "
        f"AND instr(lower(v), lower(?)) > 0 ORDER BY length(v), v LIMIT ?",
        [*params, text, limit],
    )
    return [str(r[0]) for r in rows]


def _sql_value(value: MetadataValue) -> object:
    if isinstance(value, bool):
        return 1 if value else 0
    return value


def group_documents(
    conn: sqlite3.Connection, field: str, flt: ChunkFilter, *, key: str | None = None
) -> list[tuple[MetadataValue, str, str | None]]:
    """The documents passing ``flt`` that have a value of a field, as (value, id, date) in
    value then id order: ``field`` is ``year`` (of the date), ``source``, or ``metadata`` with
    ``key`` (values as stored: ``session`` 78 stays a number, a boolean stays one)."""
    where, params = filter_clause(flt)
    pre: list[object]
    if field == "year":
        column, pre = "substr(d.date, 1, 4)", []
    elif field == "source":
        column, pre = "nullif(d.source, '')", []
    elif field == "metadata" and key is not None and _META_KEY_RE.match(key):
        column, pre = "json_extract(d.metadata, ?)", [f'$."{key}"']
    else:
        raise ValueError(f"not a groupable field: {field} {key or ''}".strip())
    typed = "json_type(d.metadata, ?)" if field == "metadata" else "NULL"
    rows = conn.execute(
        f"SELECT {column} AS v, {typed} AS t, d.id, d.date FROM documents d "
        f"WHERE v IS NOT NULL AND {where} ORDER BY v, t, d.id",
        [*pre, *(pre if field == "metadata" else []), *params],
    ).fetchall()
    out: list[tuple[MetadataValue, str, str | None]] = []
    for value, kind, doc_id, date in rows:
        if kind in ("object", "array"):
            continue
        if kind in ("true", "false"):
            value = kind == "true"
        out.append((value, str(doc_id), None if date is None else str(date)))
    return out


def allowed_chunk_ids(conn: sqlite3.Connection, flt: ChunkFilter) -> np.ndarray:
    where, params = filter_clause(flt)
    rows = conn.execute(  # the documents first (one row each), then their chunks by index
        f"SELECT c.id FROM chunks c WHERE c.doc_id IN (SELECT d.id FROM documents d WHERE {where})",
        params,
    )
    return np.fromiter((int(r[0]) for r in rows), dtype=np.int64)


def fts_phrases(terms: Sequence[str]) -> list[str]:
    """FTS5 phrases from plain terms, each quoted so that no syntax can be injected."""
    cleaned: list[str] = []
    for term in terms:
        for piece in _FTS_TERM_RE.split(term):
            if piece and piece not in cleaned:
                cleaned.append(piece)
    return [f'"{p}"' for p in cleaned]


def fts_query(terms: Sequence[str]) -> str | None:
    """An FTS5 OR-query from plain terms; every term quoted so no syntax can be injected."""
    return " OR ".join(fts_phrases(terms)) or None


def search_lexical(
    conn: sqlite3.Connection,
    terms: Sequence[str],
    k: int,
    flt: ChunkFilter | None,
    languages: Sequence[str | None] = ("en",),
) -> list[tuple[int, float]]:
    """BM25 search (higher score is better) with the filter applied inside the query.

    ``terms`` are analysed like chunk text, once for each of ``languages`` (the question's
    language and English, say); any resulting token may match. A filtered search weighs terms
    by the statistics of the chunks that pass the filter (:func:`index.lexical.filtered_bm25`),
    so documents the filter excludes never reorder those it keeps.
    """
    phrases = fts_phrases(query_tokens(terms, languages))
    if not phrases:
        return []
    query = " OR ".join(phrases)
    if flt is not None and not flt.is_empty():
        where, params = filter_clause(flt)
        local = filtered_bm25(conn, phrases, k, where, params)
        if local is not None:
            return local
    if flt is None or flt.is_empty():
        rows = conn.execute(
            "SELECT rowid, bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ? "
            "ORDER BY s LIMIT ?",
            (query, k),
        ).fetchall()
    else:
        where, params = filter_clause(flt)
        rows = conn.execute(
            "SELECT f.rowid, bm25(chunks_fts) AS s FROM chunks_fts f "
            "JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.doc_id "
            f"WHERE chunks_fts MATCH ? AND {where} ORDER BY s LIMIT ?",
            [query, *params, k],
        ).fetchall()
    return [(int(r[0]), -float(r[1])) for r in rows]
