"""The storage engine on its own: real SQLite, real FAISS, vectors made up for the purpose."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from index.errors import IncompatibleIndexError, IndexLockedError, IndexNotFoundError
from index.manifest import FORMAT_VERSION, Manifest
from index.records import Chunk, ChunkFilter, Document, Sentence
from index.store import IndexStore
from rag.settings import Settings

DEFAULTS = Settings(index_dir="unused")

DIM = 8


def manifest(model: str = "test-model", dim: int = DIM) -> Manifest:
    return Manifest(
        model_name=model,
        dimension=dim,
        chunk_tokens=50,
        chunk_overlap_sentences=0,
        token_encoding="x",
    )


def make_doc(
    doc_id: str, sentences: list[str], **kw: object
) -> tuple[Document, list[Chunk], list[Sentence]]:
    text = " ".join(sentences)
    doc = Document(id=doc_id, text=text, title=f"Title {doc_id}", **kw)  # type: ignore[arg-type]
    sents, chunks, pos = [], [], 0
    for i, s in enumerate(sentences):
        start = text.index(s, pos)
        pos = start + len(s)
        sents.append(Sentence(doc_id=doc_id, ordinal=i, char_start=start, char_end=pos, text=s))
        chunks.append(
            Chunk(
                doc_id=doc_id,
                ordinal=i,
                char_start=start,
                char_end=pos,
                text=s,
                n_tokens=len(s.split()),
                sentence_start=i,
                sentence_end=i + 1,
            )
        )
    return doc, chunks, sents


def vecs(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def put(store: IndexStore, doc_id: str, sentences: list[str], seed: int = 0, **kw: object) -> str:
    doc, chunks, sents = make_doc(doc_id, sentences, **kw)
    with store.writer(policy="auto", ivf_threshold=DEFAULTS.ivf_threshold) as w:
        return w.upsert(doc, chunks, vecs(len(chunks), seed), sents, vecs(len(sents), seed + 1))


@pytest.fixture()
def store(tmp_path: Path) -> IndexStore:
    return IndexStore.create(tmp_path / "idx", manifest(), nprobe=DEFAULTS.ivf_nprobe)


def test_open_missing_index_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="rag ingest"):
        IndexStore.open(tmp_path / "nothing", nprobe=DEFAULTS.ivf_nprobe)


def test_model_mismatch_is_refused(store: IndexStore) -> None:
    with pytest.raises(IncompatibleIndexError, match="test-model"):
        IndexStore.open_or_create(
            store.folder, manifest(model="other-model"), nprobe=DEFAULTS.ivf_nprobe
        )


def test_upsert_is_idempotent_and_update_replaces(store: IndexStore) -> None:
    assert put(store, "a", ["Alpha one.", "Alpha two."]) == "added"
    assert put(store, "a", ["Alpha one.", "Alpha two."]) == "unchanged"
    with store.snapshot() as snap:
        gen = snap.generation
        assert snap.counts()["chunks"] == 2
    assert put(store, "a", ["Alpha one.", "Alpha two.", "Alpha three."], seed=5) == "updated"
    with store.snapshot() as snap:
        counts = snap.counts()
        assert snap.generation == gen + 1
    assert counts["chunks"] == counts["vectors"] == counts["fts_rows"] == counts["sentences"] == 3
    assert store.check_integrity() == []


def test_delete_removes_rows_vectors_and_fulltext(store: IndexStore) -> None:
    put(store, "a", ["Sweden joined NATO."])
    put(store, "b", ["Japan signed an agreement."], seed=3)
    with store.writer(policy="auto", ivf_threshold=DEFAULTS.ivf_threshold) as w:
        assert w.delete("a") is True
        assert w.delete("a") is False
    with store.snapshot() as snap:
        assert snap.counts()["vectors"] == 1
        assert snap.search_lexical(["Sweden"], 5) == []
        assert snap.document("a") is None
    assert store.check_integrity() == []


def test_filters_apply_inside_both_retrievers(store: IndexStore) -> None:
    put(store, "a", ["Sweden joined NATO in 2024."], source="s1", date="2024-03")
    put(store, "b", ["Sweden was neutral for long."], seed=2, source="s2", date="2019")
    put(store, "c", ["Sweden and Japan agree."], seed=4, source="s2", metadata={"country": "SWE"})
    q = vecs(1, 9)[0]
    with store.snapshot() as snap:
        assert {
            snap.chunks([i])[i].doc_id for i, _ in snap.search_dense(q, 1, ChunkFilter(source="s1"))
        } == {"a"}
        hits = snap.search_lexical(["Sweden"], 1, ChunkFilter(source="s2", date_to="2020"))
        assert [snap.chunks([i])[i].doc_id for i, _ in hits] == ["b"]
        hits = snap.search_lexical(["Sweden"], 5, ChunkFilter(metadata={"country": "SWE"}))
        assert [snap.chunks([i])[i].doc_id for i, _ in hits] == ["c"]
        hits = snap.search_dense(q, 5, ChunkFilter(date_from="2024-01-15"))
        assert [snap.chunks([i])[i].doc_id for i, _ in hits] == ["a"]
        assert snap.search_dense(q, 5, ChunkFilter(doc_ids=frozenset())) == []


def test_lexical_query_cannot_inject_fts_syntax(store: IndexStore) -> None:
    put(store, "a", ['He said "NEAR" OR AND * ( ) things.'])
    with store.snapshot() as snap:
        assert len(snap.search_lexical(['"NEAR" OR (AND*', "things"], 5)) == 1


def test_second_writer_gets_clear_error(store: IndexStore) -> None:
    with store.writer(policy="auto", ivf_threshold=DEFAULTS.ivf_threshold):
        other = IndexStore.open(store.folder, nprobe=DEFAULTS.ivf_nprobe)
        with pytest.raises(IndexLockedError, match="another process"):
            other.writer(policy="auto", ivf_threshold=DEFAULTS.ivf_threshold).__enter__()


def test_failed_write_rolls_back(store: IndexStore) -> None:
    put(store, "a", ["Kept sentence."])
    doc, chunks, sents = make_doc("b", ["Lost sentence."])
    with (
        pytest.raises(RuntimeError),
        store.writer(policy="auto", ivf_threshold=DEFAULTS.ivf_threshold) as w,
    ):
        w.upsert(doc, chunks, vecs(1, 1), sents, vecs(1, 2))
        raise RuntimeError("boom")
    with store.snapshot() as snap:
        assert snap.document("b") is None
        assert snap.counts()["vectors"] == 1


def test_reader_snapshot_is_stable_while_writer_commits(store: IndexStore) -> None:
    put(store, "a", ["First."])
    reader = IndexStore.open(store.folder, nprobe=DEFAULTS.ivf_nprobe)
    with reader.snapshot() as snap:
        before = snap.counts()
        t = threading.Thread(target=put, args=(store, "b", ["Second."], 7))
        t.start()
        t.join()
        assert snap.counts() == before  # the snapshot does not move
    with reader.snapshot() as snap:
        assert snap.counts()["chunks"] == 2 and snap.counts()["vectors"] == 2


def test_ivf_policy_rebuilds_and_searches(tmp_path: Path) -> None:
    store = IndexStore.create(tmp_path / "ivf", manifest(), nprobe=DEFAULTS.ivf_nprobe)
    sentences = [f"Sentence number {i}." for i in range(1200)]
    doc, chunks, sents = make_doc("big", sentences)
    data = vecs(len(chunks), 11)
    with store.writer(policy="ivf", ivf_threshold=DEFAULTS.ivf_threshold) as w:
        w.upsert(doc, chunks, data, sents, None)
    with store.snapshot() as snap:
        assert snap.vector_kind == "ivf"
        hits = snap.search_dense(data[17], 3)
        assert snap.chunks([hits[0][0]])[hits[0][0]].ordinal == 17
    assert store.check_integrity() == []


@pytest.mark.parametrize("old", [1, 99])  # 1: before the FTS table held analysed text
def test_unknown_format_version_is_refused_with_advice(store: IndexStore, old: int) -> None:
    path = store.folder / "manifest.json"
    current = f'"format_version": {FORMAT_VERSION}'
    assert current in path.read_text()
    path.write_text(path.read_text().replace(current, f'"format_version": {old}'))
    with pytest.raises(IncompatibleIndexError, match="rebuild"):
        IndexStore.open(store.folder, nprobe=DEFAULTS.ivf_nprobe)


def test_orphan_vector_files_from_a_crash_are_cleaned(store: IndexStore) -> None:
    put(store, "a", ["One sentence."])
    vec_dir = store.folder / "vectors"
    (vec_dir / "00000099.faiss").write_bytes(b"orphan of a killed writer")
    (vec_dir / "00000002.faiss.tmp").write_bytes(b"partial")
    put(store, "b", ["Another sentence."], seed=3)
    names = sorted(p.name for p in vec_dir.iterdir())
    assert "00000099.faiss" not in names and not any(n.endswith(".tmp") for n in names)
    assert store.check_integrity() == []


def test_best_sentence_scores_are_each_chunks_best_sentence(store: IndexStore) -> None:
    sentences = ["One.", "Two.", "Three.", "Four."]
    doc, _, sents = make_doc("multi", sentences)
    # Two chunks of two sentences each, so "best" is a max over more than one vector.
    chunks = [
        Chunk(
            doc_id="multi",
            ordinal=i,
            char_start=sents[2 * i].char_start,
            char_end=sents[2 * i + 1].char_end,
            text=doc.text[sents[2 * i].char_start : sents[2 * i + 1].char_end],
            n_tokens=2,
            sentence_start=2 * i,
            sentence_end=2 * i + 2,
        )
        for i in range(2)
    ]
    sentence_vectors = vecs(4, 5)
    with store.writer(policy="auto", ivf_threshold=DEFAULTS.ivf_threshold) as w:
        w.upsert(doc, chunks, vecs(2, 4), sents, sentence_vectors)
    put(store, "plain", ["Alpha beta."], seed=9)
    query = vecs(1, 11)[0]
    expected = (sentence_vectors @ query).reshape(2, 2).max(axis=1)
    with store.snapshot() as snap:
        ids = [cid for cid, _ in snap.search_dense(query, 10)]
        multi = sorted(i for i in ids if snap.chunks([i])[i].doc_id == "multi")
        best = snap.best_sentence_scores(query, ids)
        assert [best[i] for i in multi] == pytest.approx(expected.tolist(), abs=1e-6)
        assert len(best) == 3  # the one-sentence document's chunk too
        assert snap.best_sentence_scores(query, []) == {}
