"""SIGKILL a real `rag ingest` process at random moments: the index must always open, pass its
integrity check and answer from its last committed state; a later ingest completes the job."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from index.store import IndexStore
from rag.settings import Settings
from tests.index_folders import link_encoder

ARTICLE = (
    Path(__file__).resolve().parents[2] / "rag" / "data" / "japan-sweden-security-cooperation.txt"
)
#: Documents to ingest: at a commit every 6 chunks, many commits and a run that outlasts the kills,
#: yet a short final run.
N_DOCS = 40


def _corpus(path: Path, n_docs: int) -> None:
    """Documents made of shuffled article sentences: realistic text, many commits."""
    sentences = [s.strip() for s in ARTICLE.read_text(encoding="utf-8").split(". ") if s.strip()]
    rng = random.Random(7)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n_docs):
            body = ". ".join(rng.sample(sentences, 12)) + "."
            fh.write(json.dumps({"id": f"doc-{i:03d}", "title": f"Doc {i}", "text": body}) + "\n")


def _generation(index: Path) -> int:
    db = index / "catalog.sqlite"
    if not db.exists():
        return -1
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return -1
    return int(row[0]) if row else -1


def _start(corpus: Path, index: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", RAG_COMMIT_EVERY_CHUNKS="6")
    return subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "ingest", str(corpus), "--index", str(index), "-q"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _assert_consistent(index: Path) -> int:
    store = IndexStore.open(index, nprobe=Settings().ivf_nprobe)
    try:
        assert store.check_integrity() == []
        with store.snapshot() as snap:
            counts = snap.counts()
            assert counts["chunks"] == counts["vectors"] == counts["fts_rows"]
            for info in snap.list_documents():
                assert info.n_chunks > 0, f"{info.id} has no chunks: a half-written document"
            if counts["chunks"]:
                hits = snap.search_lexical(["Sweden"], 3)
                assert hits, "a committed index must answer a lexical query"
                q = np.zeros(store.manifest.dimension, dtype=np.float32)
                q[0] = 1.0
                assert snap.search_dense(q, 3)
        return counts["documents"]
    finally:
        store.close()


def test_sigkill_during_ingest_leaves_a_consistent_index(
    tmp_path: Path, onnx_encoder_dir: Path
) -> None:
    corpus, index = tmp_path / "docs.jsonl", tmp_path / "index"
    _corpus(corpus, N_DOCS)
    # The session's ONNX export stands in for the one-time export, so the kills land in ingest.
    link_encoder(onnx_encoder_dir, index / "encoder")
    rng = random.Random(11)
    seen_docs = 0
    for _attempt in range(2):
        proc = _start(corpus, index)
        deadline = time.monotonic() + 180
        target = max(_generation(index), 0) + 1
        while _generation(index) < target:  # wait until this run has committed something
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "ingest made no commit in time"
            if IndexStore.exists(index):
                _assert_consistent(index)  # readers are not blocked and see whole states
            time.sleep(0.2)
        time.sleep(rng.uniform(0.0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        docs = _assert_consistent(index)
        assert docs >= seen_docs  # committed work is never lost
        seen_docs = docs
    assert seen_docs < N_DOCS, "the kills should have interrupted the ingest"
    proc = _start(corpus, index)  # the lock died with the killed writer; recovery is automatic
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()
    assert _assert_consistent(index) == N_DOCS
    leftovers = [p.name for p in (index / "vectors").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
