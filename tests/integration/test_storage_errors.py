"""Issue 28, storage errors: a full disk and a catalog with damaged pages are domain errors at the
index layer (:class:`IndexFullError`, :class:`CorruptIndexError`), so the CLI exits 10 / 7 with a
hint and the service answers 507 / 503, never "unexpected OperationalError" or a 500; the index
keeps its last committed state."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index import catalog
from index.errors import CorruptIndexError, IndexFullError
from index.store import CATALOG_NAME, IndexStore
from index.vectors import VectorIndex
from rag import cli
from rag.settings import Settings
from service.app import create_app
from tests.integration.test_index_store import DEFAULTS, make_doc, manifest, put, vecs

ARTICLE_ID = "japan-sweden-security-cooperation.txt"


def disk_full(*args: object, **kwargs: object) -> None:
    raise sqlite3.OperationalError("database or disk is full")


@pytest.fixture()
def store(tmp_path: Path) -> IndexStore:
    store = IndexStore.create(tmp_path / "idx", manifest(), nprobe=DEFAULTS.ivf_nprobe)
    put(store, "kept", ["Sweden joined NATO in 2024.", "Finland joined in 2023."])
    return store


def upsert_new(store: IndexStore) -> None:
    doc, chunks, sents = make_doc("new", ["Japan and Sweden signed an accord."])
    with store.writer(policy="auto", ivf_threshold=DEFAULTS.ivf_threshold) as w:
        w.upsert(doc, chunks, vecs(len(chunks), 5), sents, vecs(len(sents), 6))


def test_disk_full_in_sqlite_is_index_full_and_nothing_changes(
    store: IndexStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog, "insert_sentences", disk_full)
    with pytest.raises(IndexFullError, match="no space") as caught:
        upsert_new(store)
    assert caught.value.hint and "free disk space" in caught.value.hint
    monkeypatch.undo()
    assert store.check_integrity() == []
    with store.snapshot() as snap:
        assert snap.document("new") is None and snap.document("kept") is not None


def test_disk_full_writing_vectors_is_index_full(
    store: IndexStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(self: VectorIndex, path: Path) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(VectorIndex, "save", no_space)
    with pytest.raises(IndexFullError):
        upsert_new(store)
    monkeypatch.undo()
    assert store.check_integrity() == []


def test_writing_into_damaged_pages_is_corrupt_index(store: IndexStore) -> None:
    path = store.folder / CATALOG_NAME
    conn = sqlite3.connect(path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'documents'").fetchone()
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(path, "r+b") as fh:
        fh.seek((root[0] - 1) * page_size)
        fh.write(b"\xa5" * page_size)
    with pytest.raises(CorruptIndexError, match="damaged"):
        upsert_new(store)


def test_cli_says_disk_full_with_a_hint(
    article_index_copy: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(catalog, "delete_document", disk_full)
    index = str(article_index_copy.index_dir)
    code = cli.main(["documents", "delete", ARTICLE_ID, "--index", index])
    err = capsys.readouterr().err
    assert code == cli.EXIT_NO_SPACE == 10, err
    assert err.startswith("error: no space left") and "hint: free disk space" in err, err
    assert "unexpected" not in err
    monkeypatch.undo()
    assert cli.main(["documents", "show", ARTICLE_ID, "--index", index, "--json"]) == 0


def test_service_says_507_when_the_disk_is_full(
    article_index_copy: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(article_index_copy.model_copy(update={"api_key": None}))
    monkeypatch.setattr(catalog, "delete_document", disk_full)
    with TestClient(
        app,
        base_url="http://127.0.0.1",
        headers={"X-Requested-With": "pytest"},
        raise_server_exceptions=False,
    ) as client:
        reply = client.delete("/documents/" + ARTICLE_ID)
    assert reply.status_code == 507, reply.text
    error = reply.json()["error"]
    assert error["code"] == "insufficient_storage" and "free disk space" in error["hint"]
