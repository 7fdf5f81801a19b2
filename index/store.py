"""An index is a folder: ``manifest.json``, ``catalog.sqlite`` (documents, chunks, sentences,
FTS5) and ``vectors/NNNNNNNN.faiss`` (one immutable file per committed generation).

Commit protocol (crash-safe at every instant): the writer saves the next generation's vector file
(temp file, fsync, rename), then commits the SQLite transaction that both changes the rows and
points ``meta.generation`` at the new file. A crash before the SQLite commit leaves an orphan file
that the next writer removes; a crash after it leaves only a stale older file. Readers take a
SQLite snapshot, read the generation inside it and use that generation's immutable vector file, so
they see the old state or the new one, never a mix, and are never blocked by a writer.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar, cast

import numpy as np

from index import catalog
from index.errors import (
    CorruptIndexError,
    IncompatibleIndexError,
    IndexFullError,
    IndexNotFoundError,
    IndexPathError,
    InvalidDocumentError,
)
from index.integrity import (
    CHECKSUM_KEY,
    ROWS_KEY,
    catalog_problems,
    check_catalog_file,
    checksum_record,
    corrupt_catalog,
    expected_checksum,
    file_checksum,
    full_problems,
    is_corruption,
    is_disk_full,
    quick_problems,
    recorded_rows,
    row_counts,
    rows_record,
    storage_error,
    verify_vector_file,
)
from index.lock import WriterLock
from index.manifest import MANIFEST_NAME, Manifest, read_manifest, write_manifest
from index.records import (
    Chunk,
    ChunkFilter,
    Document,
    DocumentFields,
    DocumentInfo,
    MetadataValue,
    Sentence,
)
from index.vectors import VectorIndex, VectorKind, ivf_list_count

logger = logging.getLogger(__name__)

CATALOG_NAME = "catalog.sqlite"
VECTORS_DIR = "vectors"
VectorPolicy = Literal["auto", "flat", "ivf"]
UpsertOutcome = Literal["added", "updated", "unchanged"]


def _vector_path(folder: Path, generation: int) -> Path:
    return folder / VECTORS_DIR / f"{generation:08d}.faiss"


#: Kernel file systems that can never hold an index.
_VIRTUAL_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))


def check_index_folder(folder: Path) -> None:
    """Raise :class:`IndexPathError` when ``folder`` cannot be an index folder: it is a file,
    lies under a file, or is inside /proc, /sys or /dev."""
    folder = Path(folder)
    hint = "give a folder path with --index DIR (or RAG_INDEX_DIR)"
    absolute = Path(os.path.abspath(folder))
    if any(absolute == root or root in absolute.parents for root in _VIRTUAL_ROOTS):
        raise IndexPathError(f"{folder} is inside a kernel file system, not a folder", hint=hint)
    for path in (absolute, *absolute.parents):
        try:
            if path.exists() and not path.is_dir():
                what = "is a file" if path == absolute else f"lies under the file {path}"
                raise IndexPathError(f"{folder} {what}, not a folder", hint=hint)
        except OSError as exc:
            raise IndexPathError(f"cannot use {folder}: {exc.strerror or exc}", hint=hint) from exc


class IndexStore:
    """An open index folder. Thread-safe for readers; writers go through :meth:`writer`."""

    def __init__(self, folder: Path, manifest: Manifest, *, nprobe: int) -> None:
        self.folder = folder
        self.manifest = manifest
        self.nprobe = nprobe
        self._local = threading.local()
        self._cache_lock = threading.Lock()
        self._cached: tuple[int, VectorIndex] | None = None
        self._connections: list[sqlite3.Connection] = []

    # --- opening -----------------------------------------------------------------------------
    @classmethod
    def exists(cls, folder: Path) -> bool:
        check_index_folder(folder)
        try:
            return (folder / MANIFEST_NAME).is_file()
        except OSError as exc:
            raise IndexPathError(
                f"cannot use {folder} as an index folder: {exc.strerror or exc}"
            ) from exc

    @classmethod
    def open(cls, folder: Path, *, nprobe: int, verify: bool = True) -> IndexStore:
        """Open an existing index; with ``verify`` (the default) run the cheap check
        (:meth:`quick_check`) and refuse a damaged index with :class:`CorruptIndexError`."""
        folder = Path(folder)
        if not cls.exists(folder):
            raise IndexNotFoundError(
                f"no index at {folder}",
                hint="build one with `rag ingest PATH --index DIR` (or set RAG_INDEX_DIR)",
            )
        manifest = read_manifest(folder)
        if not (folder / CATALOG_NAME).is_file():
            raise CorruptIndexError(f"{folder / CATALOG_NAME} is missing")
        check_catalog_file(folder / CATALOG_NAME)
        store = cls(folder, manifest, nprobe=nprobe)
        if not verify:
            return store
        try:
            problems = store.quick_check()
        except BaseException:
            store.close()
            raise
        if problems:
            store.close()
            raise CorruptIndexError(
                f"the index at {folder} is damaged: "
                + "; ".join(problems[:3])
                + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""),
                hint="run `rag stats --check` for every problem; restore the index folder from "
                "a backup, or re-ingest the documents into a new index",
            )
        return store

    @classmethod
    def create(cls, folder: Path, manifest: Manifest, *, nprobe: int) -> IndexStore:
        folder = Path(folder)
        if cls.exists(folder):
            raise IncompatibleIndexError(
                f"an index already exists at {folder}", hint="open it, or choose a new folder"
            )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / VECTORS_DIR).mkdir(exist_ok=True)
            conn = catalog.connect(folder / CATALOG_NAME)
            try:
                catalog.create_schema(conn)
            finally:
                conn.close()
            write_manifest(folder, manifest)  # last: an index exists only once it is complete
        except (OSError, sqlite3.OperationalError) as exc:
            if is_disk_full(exc):
                raise IndexFullError(
                    f"no space left to create an index in {folder}: {exc}"
                ) from exc
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise IndexPathError(
                f"cannot create an index in {folder}: {reason}",
                hint="choose a writable folder with --index DIR (or RAG_INDEX_DIR)",
            ) from exc
        return cls(folder, manifest, nprobe=nprobe)

    @classmethod
    def open_or_create(cls, folder: Path, manifest: Manifest, *, nprobe: int) -> IndexStore:
        """Open an existing index after checking it matches ``manifest``, or create it."""
        if cls.exists(folder):
            store = cls.open(folder, nprobe=nprobe)
            store.manifest.check_compatible(
                model_name=manifest.model_name, dimension=manifest.dimension
            )
            store.manifest.check_chunking(
                chunk_tokens=manifest.chunk_tokens,
                overlap=manifest.chunk_overlap_sentences,
                token_encoding=manifest.token_encoding,
            )
            return store
        return cls.create(folder, manifest, nprobe=nprobe)

    def close(self) -> None:
        for conn in self._connections:
            with suppress(sqlite3.Error):
                conn.close()
        self._connections.clear()
        self._local = threading.local()
        self._cached = None

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- reading -----------------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open_reader()
            self._local.conn = conn
            self._connections.append(conn)
        return conn

    def _open_reader(self) -> sqlite3.Connection:
        """A read-only connection (``mode=ro``); on read-only media, where SQLite cannot create
        its ``-shm`` file, an ``immutable`` one. Readers never open the catalog for writing."""
        path = self.folder / CATALOG_NAME
        conn: sqlite3.Connection | None = None
        try:
            conn = catalog.connect(path, readonly=True)
            conn.execute("SELECT count(*) FROM meta").fetchone()
            return conn
        except sqlite3.OperationalError as exc:
            if conn is not None:
                conn.close()
            if "no such table" in str(exc):
                raise corrupt_catalog(path, exc) from exc
            logger.info("catalog %s not openable read-only (%s); opening it immutable", path, exc)
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise corrupt_catalog(path, exc) from exc
        try:
            conn = catalog.connect(path, immutable=True)
            conn.execute("SELECT count(*) FROM meta").fetchone()
        except sqlite3.DatabaseError as exc:
            raise corrupt_catalog(path, exc) from exc
        return conn

    def vectors_for(self, generation: int, checksum: str | None = None) -> VectorIndex:
        """The (shared, read-only) vector index of a committed generation, verified against
        ``checksum`` (the ``meta`` record of :mod:`index.integrity`) when one is given."""
        with self._cache_lock:
            if self._cached is not None and self._cached[0] == generation:
                return self._cached[1]
            path = _vector_path(self.folder, generation)
            if generation == 0 and not path.exists():
                vectors = VectorIndex.empty(self.manifest.dimension)
            elif not path.exists():
                raise CorruptIndexError(f"vector file {path} of generation {generation} is missing")
            else:
                expected = expected_checksum(checksum, generation)
                if expected is None and generation > 0:
                    raise CorruptIndexError(
                        f"vector file {path} is damaged or unverifiable: no checksum is "
                        "recorded for it"
                    )
                verify_vector_file(path, expected)
                vectors = VectorIndex.load(path)
            self._cached = (generation, vectors)
            return vectors

    def _install(self, generation: int, vectors: VectorIndex) -> None:
        with self._cache_lock:
            if self._cached is None or self._cached[0] < generation:
                self._cached = (generation, vectors)

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """A consistent read view: rows and vectors of one committed generation."""
        conn = self._reader()
        path = self.folder / CATALOG_NAME
        try:
            conn.execute("BEGIN")
        except sqlite3.DatabaseError as exc:
            raise corrupt_catalog(path, exc) from exc
        try:
            try:
                generation = int(catalog.get_meta(conn, "generation") or 0)
                checksum = catalog.get_meta(conn, CHECKSUM_KEY)
            except (sqlite3.DatabaseError, ValueError) as exc:
                raise corrupt_catalog(path, exc) from exc
            try:
                yield Snapshot(self, conn, generation, self.vectors_for(generation, checksum))
            except sqlite3.DatabaseError as exc:
                mapped = storage_error(path, exc)
                if mapped is not None:
                    raise mapped from exc
                raise
        finally:
            with suppress(sqlite3.Error):
                conn.execute("COMMIT")

    def writer(self, *, policy: VectorPolicy, ivf_threshold: int) -> IndexWriter:
        return IndexWriter(self, policy=policy, ivf_threshold=ivf_threshold)

    def quick_check(self, *, count_sentences: bool = False) -> list[str]:
        """The cheap check run on every open (:func:`index.integrity.quick_problems`): meta
        records, the vector file's size, row counts against the last commit's. Empty: OK."""
        conn = self._reader()
        path = self.folder / CATALOG_NAME
        try:
            conn.execute("BEGIN")
            try:
                generation = int(catalog.get_meta(conn, "generation") or 0)
                return quick_problems(
                    conn,
                    generation,
                    _vector_path(self.folder, generation),
                    vectors_expected=generation > 0,
                    count_sentences=count_sentences,
                )
            finally:
                with suppress(sqlite3.Error):
                    conn.execute("COMMIT")
        except (sqlite3.DatabaseError, ValueError) as exc:
            if isinstance(exc, sqlite3.DatabaseError) and not is_corruption(exc):
                raise
            raise corrupt_catalog(path, exc) from exc

    def check_integrity(self) -> list[str]:
        """Problems found by SQLite's integrity check, the vector file's checksum, and every
        table checked against every other: vectors, chunks, sentences (and their vectors), the
        full-text index, spans in their documents' text, recorded row counts (empty: OK)."""
        problems = catalog_problems(self._reader())
        if problems:
            return problems
        try:
            problems = self.quick_check(count_sentences=True)
            with self.snapshot() as snap:
                vec_ids, vectors = snap.vectors.all_items()
                problems += full_problems(snap.conn, vec_ids, vectors, self.manifest.dimension)
        except CorruptIndexError as exc:
            return [*problems, exc.message]
        return list(dict.fromkeys(problems))


class Snapshot:
    """Reads against one committed generation. Valid only inside ``IndexStore.snapshot()``."""

    def __init__(
        self, store: IndexStore, conn: sqlite3.Connection, generation: int, vectors: VectorIndex
    ) -> None:
        self.store = store
        self.conn = conn
        self.generation = generation
        self.vectors = vectors
        # Rows never change within a snapshot: each is read once (retrieval and answering
        # both look at the same chunks and documents).
        self._documents: dict[str, Document | None] = {}
        self._chunks: dict[int, Chunk] = {}

    def search_dense(
        self, query: np.ndarray, k: int, flt: ChunkFilter | None = None
    ) -> list[tuple[int, float]]:
        allowed = None
        if flt is not None and not flt.is_empty():
            allowed = catalog.allowed_chunk_ids(self.conn, flt)
        scores, ids = self.vectors.search(query, k, allowed=allowed, nprobe=self.store.nprobe)
        return [(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]

    def best_sentence_scores(self, query: np.ndarray, chunk_ids: Sequence[int]) -> dict[int, float]:
        """Each chunk's best inner product of ``query`` with one of its sentences' vectors."""
        return catalog.best_sentence_scores(
            self.conn, query, chunk_ids, dimension=self.store.manifest.dimension
        )

    def search_lexical(
        self,
        terms: Sequence[str],
        k: int,
        flt: ChunkFilter | None = None,
        languages: Sequence[str | None] = ("en",),
    ) -> list[tuple[int, float]]:
        return catalog.search_lexical(self.conn, terms, k, flt, languages)

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, Chunk]:
        missing = [i for i in chunk_ids if i not in self._chunks]
        if missing:
            found = catalog.get_chunks(self.conn, missing)
            for chunk in found.values():
                self._check_span(chunk.doc_id, chunk.char_start, chunk.char_end, chunk.text)
            self._chunks.update(found)
        return {i: self._chunks[i] for i in chunk_ids if i in self._chunks}

    def _check_span(self, doc_id: str, start: int, end: int, text: str) -> None:
        """A stored chunk or sentence must be its document's text at its span: anything else is
        damage, never something to cite."""
        doc = self.document(doc_id)
        if doc is None or not 0 <= start < end <= len(doc.text) or doc.text[start:end] != text:
            raise CorruptIndexError(
                f"the index catalog {self.store.folder / CATALOG_NAME} is damaged: the span "
                f"{start}-{end} of document {doc_id!r} does not match its stored text"
            )

    def document(self, doc_id: str) -> Document | None:
        if doc_id not in self._documents:
            self._documents[doc_id] = catalog.get_document(self.conn, doc_id)
        return self._documents[doc_id]

    def document_fields(self, chunk_ids: Sequence[int]) -> dict[int, DocumentFields]:
        """Each chunk's document id, date and metadata (cheap: no text, no span check)."""
        return catalog.chunk_document_fields(self.conn, chunk_ids)

    def documents(self, doc_ids: Sequence[str]) -> dict[str, Document]:
        found = {doc_id: self.document(doc_id) for doc_id in set(doc_ids)}
        return {doc_id: doc for doc_id, doc in found.items() if doc is not None}

    def sentences(
        self, doc_id: str, start: int, end: int
    ) -> tuple[list[Sentence], np.ndarray | None]:
        found, vectors = catalog.get_sentences(
            self.conn, doc_id, start, end, dimension=self.store.manifest.dimension
        )
        for s in found:
            self._check_span(doc_id, s.char_start, s.char_end, s.text)
        return found, vectors

    def list_documents(self, *, limit: int | None = None, offset: int = 0) -> list[DocumentInfo]:
        return catalog.list_documents(self.conn, limit=limit, offset=offset)

    def metadata_values(self, *, per_key: int = 50) -> dict[str, list[str]]:
        """Metadata keys present in the index, each with its most frequent values (as text)."""
        return catalog.metadata_values(self.conn, per_key=per_key)

    def source_values(self) -> list[str]:
        return catalog.source_values(self.conn)

    def date_range(self) -> tuple[str | None, str | None]:
        return catalog.date_range(self.conn)

    def any_document(self, flt: ChunkFilter) -> bool:
        """Whether some document passes ``flt``."""
        return catalog.any_document(self.conn, flt)

    def group_documents(
        self, field: str, flt: ChunkFilter, *, key: str | None = None
    ) -> list[tuple[MetadataValue, str, str | None]]:
        """(value, document id, date) of the documents passing ``flt`` that have a value of
        ``year``, ``source`` or metadata ``key`` (:func:`catalog.group_documents`)."""
        return catalog.group_documents(self.conn, field, flt, key=key)

    def existing_ids(self, doc_ids: Sequence[str]) -> set[str]:
        """Those of ``doc_ids`` that are documents of the index."""
        return catalog.existing_ids(self.conn, doc_ids)

    def values_containing(self, field: str, text: str, *, key: str | None = None) -> list[str]:
        """A few values of ``id``, ``source`` or metadata ``key`` holding ``text`` (any case)."""
        return catalog.values_containing(self.conn, field, text, key=key)

    def texts(self) -> tuple[list[str], list[str]]:
        """Every chunk's and every sentence's text, in storage order (:func:`catalog.all_texts`)."""
        return catalog.all_texts(self.conn)

    def counts(self) -> dict[str, int]:
        out = catalog.counts(self.conn)
        out["vectors"] = self.vectors.ntotal
        out["generation"] = self.generation
        return out

    @property
    def vector_kind(self) -> VectorKind:
        return self.vectors.kind


_F = TypeVar("_F", bound=Callable[..., Any])


def _storage_errors(method: _F) -> _F:
    """Writer methods raise domain errors for a full disk (:class:`IndexFullError`) and a
    damaged catalog (:class:`CorruptIndexError`) instead of raw sqlite3 / OS errors."""

    @functools.wraps(method)
    def wrapped(self: IndexWriter, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.DatabaseError, OSError) as exc:
            mapped = storage_error(self.store.folder / CATALOG_NAME, exc)
            if mapped is None:
                raise
            raise mapped from exc

    return cast(_F, wrapped)


class IndexWriter:
    """The single writer. Changes become visible and durable together at :meth:`commit`."""

    def __init__(self, store: IndexStore, *, policy: VectorPolicy, ivf_threshold: int) -> None:
        self.store = store
        self.policy = policy
        self.ivf_threshold = ivf_threshold
        self._lock = WriterLock(store.folder)
        self._conn: sqlite3.Connection | None = None
        self._generation = 0
        self._vectors: VectorIndex | None = None
        self._in_txn = False
        self._rows: dict[str, int] | None = None  # row counts inside the open transaction

    # --- lifecycle ---------------------------------------------------------------------------
    @_storage_errors
    def __enter__(self) -> IndexWriter:
        self._lock.acquire()
        try:
            path = self.store.folder / CATALOG_NAME
            try:
                self._conn = catalog.connect(path)
                self._generation = int(catalog.get_meta(self._conn, "generation") or 0)
            except (sqlite3.DatabaseError, ValueError) as exc:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
                if isinstance(exc, sqlite3.DatabaseError) and not is_corruption(exc):
                    raise
                raise corrupt_catalog(path, exc) from exc
            self._remove_stale_files(keep_from=self._generation - 1)
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if et is None:
                self.commit()
            else:
                self.rollback()
        finally:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._lock.release()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("IndexWriter used outside its `with` block")
        return self._conn

    def _begin(self) -> VectorIndex:
        if not self._in_txn:
            self.conn.execute("BEGIN IMMEDIATE")
            self._in_txn = True
            recorded = recorded_rows(catalog.get_meta(self.conn, ROWS_KEY))
            self._rows = dict(recorded) if recorded else row_counts(self.conn)
        if self._vectors is None:
            checksum = catalog.get_meta(self.conn, CHECKSUM_KEY)
            self._vectors = self.store.vectors_for(self._generation, checksum).clone()
        return self._vectors

    def _count(self, table: str, delta: int) -> None:
        if self._rows is not None:
            self._rows[table] = self._rows.get(table, 0) + delta

    def _forget(self, doc_id: str) -> np.ndarray:
        """Delete a document's rows (inside the transaction); the chunk ids whose vectors go."""
        sentences = int(
            self.conn.execute(
                "SELECT count(*) FROM sentences WHERE doc_id = ?", (doc_id,)
            ).fetchone()[0]
        )
        ids = np.asarray(catalog.delete_document(self.conn, doc_id), dtype=np.int64)
        self._count("documents", -1)
        self._count("chunks", -len(ids))
        self._count("sentences", -sentences)
        return ids

    # --- reads a writer needs ----------------------------------------------------------------
    @_storage_errors
    def content_hashes(self, doc_ids: Sequence[str]) -> dict[str, str]:
        return catalog.document_hashes(self.conn, doc_ids)

    @_storage_errors
    def has_document(self, doc_id: str) -> bool:
        return bool(catalog.document_hashes(self.conn, [doc_id]))

    @_storage_errors
    def metadata(self, doc_id: str) -> dict[str, MetadataValue] | None:
        """The stored metadata of a document, or None when it is not in the index."""
        return catalog.document_metadata(self.conn, doc_id)

    # --- mutations ---------------------------------------------------------------------------
    @_storage_errors
    def upsert(
        self,
        document: Document,
        chunks: Sequence[Chunk],
        chunk_vectors: np.ndarray,
        sentences: Sequence[Sentence] = (),
        sentence_vectors: np.ndarray | None = None,
    ) -> UpsertOutcome:
        """Add or replace a document with its chunks and vectors; unchanged content is a no-op."""
        self._validate(document, chunks, chunk_vectors, sentences, sentence_vectors)
        old = catalog.document_hashes(self.conn, [document.id]).get(document.id)
        if old == document.content_hash:
            return "unchanged"
        vectors = self._begin()
        if old is not None:
            vectors.remove(self._forget(document.id))
        catalog.insert_document(self.conn, document)
        language = document.metadata.get("language")
        ids = catalog.insert_chunks(
            self.conn, chunks, language=language if isinstance(language, str) else None
        )
        vectors.add(np.asarray(ids, dtype=np.int64), chunk_vectors)
        catalog.insert_sentences(self.conn, sentences, sentence_vectors)
        self._count("documents", 1)
        self._count("chunks", len(ids))
        self._count("sentences", len(sentences))
        return "updated" if old is not None else "added"

    @_storage_errors
    def delete(self, doc_id: str) -> bool:
        if not self.has_document(doc_id):
            return False
        vectors = self._begin()
        vectors.remove(self._forget(doc_id))
        return True

    def _validate(
        self,
        document: Document,
        chunks: Sequence[Chunk],
        chunk_vectors: np.ndarray,
        sentences: Sequence[Sentence],
        sentence_vectors: np.ndarray | None,
    ) -> None:
        dim = self.store.manifest.dimension
        if chunk_vectors.shape != (len(chunks), dim):
            raise InvalidDocumentError(
                f"{document.id}: {chunk_vectors.shape} chunk vectors for {len(chunks)} chunks"
            )
        if sentence_vectors is not None and sentence_vectors.shape != (len(sentences), dim):
            raise InvalidDocumentError(f"{document.id}: sentence vectors do not match sentences")
        for c in chunks:
            if c.doc_id != document.id or document.text[c.char_start : c.char_end] != c.text:
                raise InvalidDocumentError(
                    f"{document.id}: chunk {c.ordinal} does not match the document text"
                )
        for s in sentences:
            if s.doc_id != document.id or document.text[s.char_start : s.char_end] != s.text:
                raise InvalidDocumentError(
                    f"{document.id}: sentence {s.ordinal} does not match the document text"
                )

    # --- durability --------------------------------------------------------------------------
    @_storage_errors
    def commit(self) -> None:
        """Make every change so far durable and visible, atomically."""
        if not self._in_txn:
            return
        vectors = self._apply_policy(self._begin())
        new_generation = self._generation + 1
        path = _vector_path(self.store.folder, new_generation)
        try:
            vectors.save(path)
            digest = file_checksum(path)
            size = path.stat().st_size
            catalog.set_meta(self.conn, CHECKSUM_KEY, checksum_record(new_generation, digest, size))
            if self._rows is not None:
                catalog.set_meta(self.conn, ROWS_KEY, rows_record(self._rows))
            catalog.set_meta(self.conn, "generation", str(new_generation))
            catalog.set_meta(self.conn, "vector_kind", vectors.kind)
            self.conn.execute("COMMIT")
        except BaseException:
            with suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            path.unlink(missing_ok=True)
            path.with_name(path.name + ".tmp").unlink(missing_ok=True)
            self._in_txn = False
            self._vectors = None
            self._rows = None
            raise
        self._in_txn = False
        self._rows = None
        self._generation = new_generation
        self.store._install(new_generation, vectors)
        self._vectors = None  # the next change clones the installed copy
        self._remove_stale_files(keep_from=new_generation - 1)

    def rollback(self) -> None:
        if self._in_txn:
            with suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
        self._in_txn = False
        self._vectors = None
        self._rows = None

    def _apply_policy(self, vectors: VectorIndex) -> VectorIndex:
        want: VectorKind = vectors.kind
        if self.policy == "flat":
            want = "flat"
        elif self.policy == "ivf" or (
            self.policy == "auto" and vectors.ntotal >= self.ivf_threshold
        ):
            want = "ivf" if vectors.ntotal >= 1000 else "flat"
        if want == vectors.kind and not (
            want == "ivf" and vectors.nlist * 2 < ivf_list_count(vectors.ntotal)
        ):
            return vectors  # (an IVF index that outgrew its lists is retrained below)
        ids, data = vectors.all_items()
        logger.info("rebuilding %d vectors as a %s index", len(ids), want)
        if want == "ivf":
            return VectorIndex.build_ivf(ids, data)
        flat = VectorIndex.empty(self.store.manifest.dimension)
        flat.add(ids, data)
        return flat

    def _remove_stale_files(self, *, keep_from: int) -> None:
        """Delete vector files of generations before ``keep_from`` and uncommitted orphans."""
        vec_dir = self.store.folder / VECTORS_DIR
        vec_dir.mkdir(exist_ok=True)
        for path in vec_dir.iterdir():
            stem = path.name.split(".", 1)[0]
            if not stem.isdigit():
                continue
            gen = int(stem)
            is_tmp = path.name.endswith(".tmp")
            if gen < keep_from or gen > self._generation or is_tmp:
                with suppress(FileNotFoundError):
                    if path.is_dir():
                        shutil.rmtree(path)
                    else:
                        path.unlink()
