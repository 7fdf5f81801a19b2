"""Detecting damage: the catalog's SQLite header and pages, and vector files against the checksum
recorded when their generation was committed.

A vector file's checksum (BLAKE2b, about 1 GB/s) is stored in the catalog's ``meta`` table in the
same transaction that makes its generation current, as ``"<generation>:<hex digest>"``; the
generation prefix ties the sum to its file. Readers verify a vector file once when they load it
(the service once per generation), so flipped bytes are reported, never searched. An index
written before checksums existed has none and is not verified.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from index.errors import CorruptIndexError

CHECKSUM_KEY = "vector_checksum"
SQLITE_MAGIC = b"SQLite format 3\x00"
_BLOCK = 1024 * 1024


def file_checksum(path: Path) -> str:
    """BLAKE2b hex digest of a file's bytes."""
    digest = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def checksum_record(generation: int, digest: str) -> str:
    return f"{generation}:{digest}"


def expected_checksum(record: str | None, generation: int) -> str | None:
    """The digest recorded for ``generation``, or None when none was recorded for it."""
    if not record:
        return None
    gen, _, digest = record.partition(":")
    return digest if gen == str(generation) and digest else None


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
