"""Detecting damage: the catalog's SQLite header and pages, vector files against the checksum
recorded when their generation was committed, and every table against every other (vectors ↔
chunks ↔ sentences ↔ full-text index ↔ spans in their documents' text ↔ recorded row counts).

A vector file's checksum (BLAKE2b, about 1 GB/s) is stored in the catalog's ``meta`` table in the
same transaction that makes its generation current, as ``"<generation>:<hex digest>"``; the
generation prefix ties the sum to its file, and the file's size follows (``":<bytes>"``). Readers
verify a vector file once when they load it (the service once per generation), so flipped bytes
are reported, never searched. A committed generation without its record is damage too.

Three levels of checking:

- :func:`quick_problems` runs whenever an index is opened: meta records, the vector file's
  presence and size, and row counts against the counts the last commit recorded (``ROWS_KEY``).
  Milliseconds; it reads no row's content.
- query time: a reader that meets a short sentence vector, a span outside its document's text
  or a missing sentence raises :class:`CorruptIndexError` instead of answering from it.
- :func:`full_problems` (``rag stats --check``) cross-checks every row.
"""

from __future__ import annotations

import errno
import hashlib
import json
import sqlite3
from contextlib import suppress
from pathlib import Path

import numpy as np

from index.errors import CorruptIndexError, IndexFullError, RagError

CHECKSUM_KEY = "vector_checksum"
#: The row counts (documents, chunks, sentences) as of the last commit, as JSON.
ROWS_KEY = "row_counts"
SQLITE_MAGIC = b"SQLite format 3\x00"
_BLOCK = 1024 * 1024


def file_checksum(path: Path) -> str:
    """BLAKE2b hex digest of a file's bytes."""
    digest = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def checksum_record(generation: int, digest: str, size: int | None = None) -> str:
    return f"{generation}:{digest}" + ("" if size is None else f":{size}")


def expected_checksum(record: str | None, generation: int) -> str | None:
    """The digest recorded for ``generation``, or None when none was recorded for it."""
    if not record:
        return None
    gen, _, rest = record.partition(":")
    digest = rest.partition(":")[0]
    return digest if gen == str(generation) and digest else None


def expected_size(record: str | None, generation: int) -> int | None:
    """The vector file size recorded for ``generation`` (None: none recorded)."""
    if not record or expected_checksum(record, generation) is None:
        return None
    size = record.split(":")[2] if record.count(":") >= 2 else ""
    return int(size) if size.isdigit() else None


def verify_vector_file(path: Path, expected: str | None) -> None:
    """Raise :class:`CorruptIndexError` when ``path`` does not match its recorded checksum."""
    if expected is None:
        return
    actual = file_checksum(path)
    if actual != expected:
        raise CorruptIndexError(
            f"vector file {path} is damaged: its checksum does not match the one recorded when "
            "it was written"
        )


def corrupt_catalog(path: Path, reason: object) -> CorruptIndexError:
    return CorruptIndexError(f"the index catalog {path} is damaged: {reason}")


def check_catalog_file(path: Path) -> None:
    """Cheap checks of the catalog file's header: empty, not SQLite, or cut short."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise corrupt_catalog(path, exc.strerror or exc) from exc
    if size == 0:
        raise corrupt_catalog(path, "the file is empty")
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise corrupt_catalog(path, "the file is not an SQLite database")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    change_counter = header[24:28]
    valid_for = header[92:96]
    pages = int.from_bytes(header[28:32], "big")
    if change_counter == valid_for and pages and size < pages * page_size:
        raise corrupt_catalog(
            path, f"the file has {size} bytes but its header says {pages * page_size}"
        )


def catalog_problems(conn: sqlite3.Connection, *, limit: int = 20) -> list[str]:
    """What ``PRAGMA integrity_check`` finds (empty: none)."""
    try:
        rows = conn.execute(f"PRAGMA integrity_check({int(limit)})").fetchall()
    except sqlite3.DatabaseError as exc:
        return [f"catalog: {exc}"]
    found = [str(r[0]) for r in rows]
    return [] if found == ["ok"] else [f"catalog: {p}" for p in found]


def is_corruption(exc: BaseException) -> bool:
    """Whether an sqlite3 error means a damaged (not merely busy) database."""
    if type(exc) not in (sqlite3.DatabaseError, sqlite3.OperationalError):
        return False
    text = str(exc).lower()
    return not ("locked" in text or "busy" in text)


def is_disk_full(exc: BaseException) -> bool:
    """Whether an error means the disk (or quota) is full."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return "disk is full" in text or "database or disk is full" in text
    return False


def storage_error(path: Path, exc: BaseException) -> RagError | None:
    """The domain error an sqlite3 or OS error during a read or write stands for: the disk is
    full, or the catalog is damaged; None for anything else (a busy database, a bug)."""
    if is_disk_full(exc):
        return IndexFullError(f"no space left to write the index at {path.parent}: {exc}")
    if isinstance(exc, sqlite3.DatabaseError) and is_corruption(exc):
        return corrupt_catalog(path, exc)
    return None


# --- cheap checks, on open ---------------------------------------------------------------------
def row_counts(conn: sqlite3.Connection, *, sentences: bool = True) -> dict[str, int]:
    """Rows of documents, chunks, full-text entries and (with ``sentences``) sentences.

    Documents and chunks are counted on their small indexes and full-text entries on the
    ``docsize`` table: milliseconds even for large indexes. Sentences hold their vectors, so
    counting them reads the whole table (seconds on a cold cache for 10⁵ of them): only the
    full check and a writer that lacks a record do."""

    def one(sql: str) -> int:
        return int(conn.execute(sql).fetchone()[0])

    counts = {
        "documents": one("SELECT count(*) FROM documents"),
        "chunks": one("SELECT count(*) FROM chunks"),
        "fts_rows": one("SELECT count(*) FROM chunks_fts_docsize"),
    }
    if sentences:
        counts["sentences"] = one("SELECT count(*) FROM sentences")
    return counts


def rows_record(counts: dict[str, int]) -> str:
    return json.dumps({k: counts[k] for k in ("documents", "chunks", "sentences")})


def recorded_rows(record: str | None) -> dict[str, int] | None:
    if not record:
        return None
    try:
        raw = json.loads(record)
    except ValueError:
        return {}
    if not isinstance(raw, dict):
        return {}
    return {str(k): int(v) for k, v in raw.items() if isinstance(v, int)}


def quick_problems(
    conn: sqlite3.Connection,
    generation: int,
    vector_file: Path,
    *,
    vectors_expected: bool,
    count_sentences: bool = False,
) -> list[str]:
    """What can be seen without reading content: the checksum record, the vector file's size and
    the row counts against those the last commit recorded (sentences only with
    ``count_sentences``: see :func:`row_counts`; a missing sentence is found at query time).
    ``conn`` must be inside a read transaction (one snapshot)."""
    problems: list[str] = []
    record = conn.execute("SELECT value FROM meta WHERE key = ?", (CHECKSUM_KEY,)).fetchone()
    checksum = None if record is None else str(record[0])
    if generation > 0:
        if expected_checksum(checksum, generation) is None:
            problems.append(
                f"no checksum is recorded for the vector file of generation {generation}"
            )
        if vectors_expected:
            try:
                size = vector_file.stat().st_size
            except OSError:
                problems.append(f"vector file {vector_file} is missing")
            else:
                want = expected_size(checksum, generation)
                if want is not None and want != size:
                    problems.append(
                        f"vector file {vector_file} has {size} bytes; {want} were written"
                    )
    counts = row_counts(conn, sentences=count_sentences)
    if counts["fts_rows"] != counts["chunks"]:
        problems.append(f"{counts['fts_rows']} full-text rows for {counts['chunks']} chunks")
    rows = conn.execute("SELECT value FROM meta WHERE key = ?", (ROWS_KEY,)).fetchone()
    recorded = recorded_rows(None if rows is None else str(rows[0]))
    if recorded is not None:
        if not recorded:
            problems.append("the recorded row counts are unreadable")
        for table, want in recorded.items():
            have = counts.get(table)
            if have is not None and have != want:
                problems.append(f"{have} {table} rows; the last commit left {want}")
    return problems


# --- the full cross-check (rag stats --check) ---------------------------------------------------
def _sqlite_problems(conn: sqlite3.Connection, dimension: int) -> list[str]:
    problems: list[str] = []

    def one(sql: str, *params: object) -> int:
        return int(conn.execute(sql, params).fetchone()[0])

    n = one(
        "SELECT count(*) FROM sentences WHERE vector IS NOT NULL AND length(vector) != ?",
        4 * dimension,
    )
    if n:
        problems.append(f"{n} sentence vectors are not {dimension} float32 values long")
    n = one(
        "SELECT count(*) FROM chunks c WHERE (SELECT count(*) FROM sentences s "
        "WHERE s.doc_id = c.doc_id AND s.ordinal >= c.sentence_start "
        "AND s.ordinal < c.sentence_end) != c.sentence_end - c.sentence_start"
    )
    if n:
        problems.append(f"{n} chunks miss some of their sentence rows")
    n = one(
        "SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM documents d "
        "WHERE d.id = c.doc_id)"
    )
    if n:
        problems.append(f"{n} chunks belong to no document")
    n = one(
        "SELECT count(*) FROM sentences s WHERE NOT EXISTS (SELECT 1 FROM documents d "
        "WHERE d.id = s.doc_id)"
    )
    if n:
        problems.append(f"{n} sentences belong to no document")
    n = one(
        "SELECT count(*) FROM documents d WHERE NOT EXISTS (SELECT 1 FROM chunks c "
        "WHERE c.doc_id = d.id)"
    )
    if n:
        problems.append(f"{n} documents have no chunks")
    n = one(
        "SELECT count(*) FROM chunks_fts_content f WHERE NOT EXISTS (SELECT 1 FROM chunks c "
        "WHERE c.id = f.id)"
    )
    if n:
        problems.append(f"{n} full-text rows belong to no chunk")
    return problems


def _fts_problems(conn: sqlite3.Connection) -> list[str]:
    """Read the whole full-text index (every segment) through an ``fts5vocab`` table: missing or
    damaged segments fail the read."""
    try:
        conn.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.rag_fts_check "
            "USING fts5vocab(main, chunks_fts, 'instance')"
        )
        indexed = int(
            conn.execute("SELECT count(DISTINCT doc) FROM temp.rag_fts_check").fetchone()[0]
        )
        stored = int(
            conn.execute("SELECT count(*) FROM chunks_fts_content WHERE c0 != ''").fetchone()[0]
        )
    except sqlite3.DatabaseError as exc:
        return [f"the full-text index is damaged: {exc}"]
    finally:
        with suppress(sqlite3.Error):
            conn.execute("DROP TABLE IF EXISTS temp.rag_fts_check")
    if indexed != stored:
        return [f"the full-text index holds {indexed} chunks; {stored} have searchable text"]
    return []


def _span_problems(conn: sqlite3.Connection) -> list[str]:
    """Every chunk and sentence span lies inside its document and holds its stored text."""
    bad_chunks = bad_sentences = 0
    for doc_id, text in conn.execute("SELECT id, text FROM documents"):
        for table in ("chunks", "sentences"):
            rows = conn.execute(
                f"SELECT char_start, char_end, text FROM {table} WHERE doc_id = ?", (doc_id,)
            )
            bad = sum(
                1
                for start, end, stored in rows
                if not (0 <= start < end <= len(text)) or text[start:end] != stored
            )
            if table == "chunks":
                bad_chunks += bad
            else:
                bad_sentences += bad
    problems = []
    if bad_chunks:
        problems.append(f"{bad_chunks} chunk spans lie outside their document or do not match it")
    if bad_sentences:
        problems.append(
            f"{bad_sentences} sentence spans lie outside their document or do not match it"
        )
    return problems


def full_problems(
    conn: sqlite3.Connection, vector_ids: np.ndarray, vectors: np.ndarray, dimension: int
) -> list[str]:
    """Every table against every other, inside one read transaction of ``conn``: row counts,
    sentence vectors, sentences of each chunk, orphans, the full-text index, spans, and the
    chunk vectors (``vector_ids``, ``vectors``) against the chunk rows."""
    problems = _sqlite_problems(conn, dimension)
    problems += _fts_problems(conn)
    problems += _span_problems(conn)
    chunk_ids = {int(r[0]) for r in conn.execute("SELECT id FROM chunks")}
    ids = set(vector_ids.tolist())
    if ids != chunk_ids or len(ids) != len(vector_ids):
        problems.append(f"{len(vector_ids)} vectors do not match {len(chunk_ids)} chunk ids")
    if len(vectors) and not np.isfinite(vectors).all():
        problems.append("some chunk vectors hold values that are not finite numbers")
    return problems
