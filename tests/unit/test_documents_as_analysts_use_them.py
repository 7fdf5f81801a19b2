"""Files as analysts ingest them: binary files named .txt, sources, dates and titles."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rag.errors import LoaderError
from rag.loaders import load_bytes, load_file


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "data",
    [
        b"&]\xea\xc1\x93ON6\x82\t\xed\xcb",  # was stored as cp1252 text
        b"\x82\xea\xc4<r\x9c@\x0c\xbb\xe40\xdc",
        b"\x89\x1bGIF\x01\x02\xfe\xfd\xa0\xa1\xa2",
    ],
)
def test_a_small_binary_file_named_txt_is_refused(tmp_path: Path, data: bytes) -> None:
    assert len(data) <= 12
    with pytest.raises(LoaderError, match="binary file, not text"):
        load_file(write(tmp_path / "blob.txt", data))


def test_random_bytes_are_never_stored_as_text() -> None:
    rng = random.Random(28)
    stored = []
    for _ in range(300):
        data = bytes(rng.randrange(256) for _ in range(rng.choice((12, 40, 300))))
        try:
            load_bytes("blob.txt", data)
        except LoaderError:
            continue
        stored.append(data)
    assert stored == []


def test_legacy_text_is_still_read(tmp_path: Path) -> None:
    [doc] = load_file(
        write(tmp_path / "a.txt", "Caf\xe9 au lait, s'il vous pla\xeet.".encode("cp1252"))
    )
    assert doc.text == "Café au lait, s'il vous plaît."


def test_source_is_not_the_path_as_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.loaders import iter_documents

    write(tmp_path / "corpus" / "2022" / "speech.txt", "Sweden applied to join NATO.")
    write(tmp_path / "corpus" / "records.jsonl", '{"id": "r1", "text": "One record."}\n')
    write(tmp_path / "elsewhere" / "note.txt", "A note.")
    monkeypatch.chdir(tmp_path / "elsewhere")
    typed = [Path("../corpus/"), Path("./../elsewhere/note.txt")]
    docs = [d for d in iter_documents(typed) if not hasattr(d, "reason")]
    assert sorted((d.id, d.source) for d in docs) == [
        ("2022/speech.txt", "2022/speech.txt"),
        ("note.txt", "note.txt"),
        ("r1", "records.jsonl"),
    ]
    [doc] = load_file(Path("../corpus/2022/speech.txt"))
    assert doc.source == "speech.txt"
