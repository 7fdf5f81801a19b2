"""Is a cluster-built index the index a local ingest builds? Row-by-row and vector-by-vector.

Chunk ids are assigned by the writer in write order, so two ingests of the same inputs in the same
order give the same ids; vectors are compared by chunk id (and sentence vectors by document and
ordinal) with an absolute tolerance, since ONNX Runtime may differ in the last bits between
processes and thread counts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from index.store import CATALOG_NAME, IndexStore

K = TypeVar("K", bound=Hashable)


@dataclass
class IndexContents:
    documents: list[tuple[str, ...]]
    chunks: list[tuple[object, ...]]
    sentences: list[tuple[object, ...]]
    chunk_vectors: dict[int, np.ndarray]
    sentence_vectors: dict[tuple[str, int], np.ndarray]


def read_contents(folder: Path) -> IndexContents:
    """Everything an answer depends on, from one consistent snapshot of ``folder``."""
    store = IndexStore.open(folder, nprobe=1)  # every vector is read; no search
    try:
        with store.snapshot() as snap:
            ids, vectors = snap.vectors.all_items()
    finally:
        store.close()
    conn = sqlite3.connect(f"file:{folder / CATALOG_NAME}?mode=ro", uri=True)
    try:
        documents = conn.execute(
            "SELECT id, title, source, date, metadata, text, content_hash FROM documents "
            "ORDER BY id"
        ).fetchall()
        chunks = conn.execute(
            "SELECT id, doc_id, ordinal, char_start, char_end, text, n_tokens, page, "
            "sentence_start, sentence_end FROM chunks ORDER BY id"
        ).fetchall()
        rows = conn.execute(
            "SELECT doc_id, ordinal, char_start, char_end, text, vector FROM sentences "
            "ORDER BY doc_id, ordinal"
        ).fetchall()
    finally:
        conn.close()
    sentence_vectors = {
        (r[0], r[1]): np.frombuffer(r[5], dtype=np.float32) for r in rows if r[5] is not None
    }
    return IndexContents(
        documents=[tuple(d) for d in documents],
        chunks=[tuple(c) for c in chunks],
        sentences=[tuple(r[:5]) for r in rows],
        chunk_vectors={int(i): v for i, v in zip(ids, vectors, strict=True)},
        sentence_vectors=sentence_vectors,
    )


def differences(a: Path, b: Path, *, atol: float = 1e-5) -> list[str]:
    """What differs between two indexes (empty when they hold the same documents, chunks with the
    same texts and offsets, sentences, and vectors equal within ``atol``)."""
    x, y = read_contents(a), read_contents(b)
    out: list[str] = []
    if x.documents != y.documents:
        out.append(f"documents differ ({len(x.documents)} vs {len(y.documents)})")
    if x.chunks != y.chunks:
        out.append(f"chunks differ ({len(x.chunks)} vs {len(y.chunks)})")
    if x.sentences != y.sentences:
        out.append(f"sentences differ ({len(x.sentences)} vs {len(y.sentences)})")
    out += _vector_differences("chunk", x.chunk_vectors, y.chunk_vectors, atol)
    out += _vector_differences("sentence", x.sentence_vectors, y.sentence_vectors, atol)
    return out


def max_vector_difference(a: Path, b: Path) -> float:
    """The largest absolute difference between corresponding chunk or sentence vectors."""
    x, y = read_contents(a), read_contents(b)
    diffs = [float(np.abs(v - y.chunk_vectors[k]).max()) for k, v in x.chunk_vectors.items()]
    diffs += [float(np.abs(v - y.sentence_vectors[k]).max()) for k, v in x.sentence_vectors.items()]
    return max(diffs, default=0.0)


def _vector_differences(
    name: str, vx: Mapping[K, np.ndarray], vy: Mapping[K, np.ndarray], atol: float
) -> list[str]:
    if vx.keys() != vy.keys():
        return [f"{name} vector ids differ ({len(vx)} vs {len(vy)})"]
    worst = max((float(np.abs(vx[k] - vy[k]).max()) for k in vx), default=0.0)
    return [f"{name} vectors differ by up to {worst:.2e} (> {atol:g})"] if worst > atol else []
