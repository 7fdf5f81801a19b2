"""Issue 28, integrity: each kind of damage built on a copy of the real article index is reported
by `rag stats --check` (exit 7, the problem named), and found on open or at query time by `rag ask`
and `POST /ask` (exit 7 / HTTP 503 with a hint), never a traceback, a 500 or a wrong answer."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index.errors import CorruptIndexError
from index.integrity import CHECKSUM_KEY
from index.store import IndexStore
from rag import cli
from rag.settings import Settings
from service.app import create_app

QUESTION = "When did Sweden join NATO?"


def _sql(index: Path, *statements: str) -> None:
    conn = sqlite3.connect(index / "catalog.sqlite")
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def truncated_sentence_vectors(index: Path) -> None:
    _sql(index, "UPDATE sentences SET vector = substr(vector, 1, 100) WHERE ordinal % 2 = 0")


def deleted_fts_segments(index: Path) -> None:
    _sql(index, "DELETE FROM chunks_fts_data WHERE id > 10")


def half_the_sentences_deleted(index: Path) -> None:
    _sql(index, "DELETE FROM sentences WHERE ordinal % 2 = 1")


def spans_out_of_range(index: Path) -> None:
    _sql(
        index,
        "UPDATE sentences SET char_start = char_start + 1000000, char_end = char_end + 1000000",
    )


def checksum_deleted_and_vectors_flipped(index: Path) -> None:
    _sql(index, f"DELETE FROM meta WHERE key = '{CHECKSUM_KEY}'")
    vector_file = sorted((index / "vectors").glob("*.faiss"))[-1]
    data = bytearray(vector_file.read_bytes())
    for at in range(len(data) // 2, len(data) // 2 + 64):
        data[at] ^= 0xFF
    vector_file.write_bytes(bytes(data))


#: Each damage and a word `stats --check` must name.
DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated-sentence-vectors": (truncated_sentence_vectors, "sentence vectors"),
    "deleted-fts-segments": (deleted_fts_segments, "full-text index"),
    "half-the-sentences-deleted": (half_the_sentences_deleted, "sentences"),
    "spans-out-of-range": (spans_out_of_range, "spans"),
    "checksum-deleted-vectors-flipped": (checksum_deleted_and_vectors_flipped, "checksum"),
}


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_an_undamaged_index_passes_every_check(
    article_index_copy: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        capsys, "stats", "--check", "--index", str(article_index_copy.index_dir)
    )
    assert code == 0, err
    assert "problems: []" in out


@pytest.mark.parametrize("how", list(DAMAGE))
def test_damage_is_reported_by_check_and_refused_by_ask(
    article_index_copy: Settings, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    index = article_index_copy.index_dir
    damage, needle = DAMAGE[how]
    damage(index)

    code, out, err = run_cli(capsys, "stats", "--check", "--index", str(index))
    assert code == cli.EXIT_CORRUPT, (out, err)
    assert err.startswith("error:") and "damaged" in err and needle in err, err

    code, out, err = run_cli(capsys, "ask", QUESTION, "--index", str(index))
    assert code == cli.EXIT_CORRUPT, (out, err)
    assert "damaged" in err and "hint:" in err and "Traceback" not in err, err
    assert out == ""  # no answer from a damaged index


@pytest.mark.parametrize("how", ["truncated-sentence-vectors", "spans-out-of-range"])
def test_damage_met_at_query_time_is_503_over_http(article_index_copy: Settings, how: str) -> None:
    """The service opened the index before the damage: the query meets it, and says so."""
    index = article_index_copy.index_dir
    app = create_app(article_index_copy.model_copy(update={"api_key": None}))
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        DAMAGE[how][0](index)
        reply = client.post("/ask", json={"question": QUESTION})
    assert reply.status_code == 503, reply.text
    error = reply.json()["error"]
    assert "damaged" in error["message"] and error["hint"], error


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        ("DELETE FROM chunks WHERE id % 2 = 0", "chunks"),
        ("DELETE FROM chunks_fts WHERE rowid % 2 = 0", "full-text rows"),
        (f"DELETE FROM meta WHERE key = '{CHECKSUM_KEY}'", "no checksum"),
    ],
)
def test_open_runs_a_cheap_check(article_index_copy: Settings, damage: str, needle: str) -> None:
    index = article_index_copy.index_dir
    with IndexStore.open(index, nprobe=1) as store:
        assert store.quick_check() == []
    _sql(index, damage)
    with pytest.raises(CorruptIndexError, match="damaged") as caught:
        IndexStore.open(index, nprobe=1)
    assert needle in str(caught.value)


def test_a_cut_vector_file_is_found_on_open(article_index_copy: Settings) -> None:
    index = article_index_copy.index_dir
    vector_file = sorted((index / "vectors").glob("*.faiss"))[-1]
    vector_file.write_bytes(vector_file.read_bytes()[:-100])
    with pytest.raises(CorruptIndexError, match="bytes"):
        IndexStore.open(index, nprobe=1)
