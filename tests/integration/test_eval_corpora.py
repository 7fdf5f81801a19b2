"""Named evaluation corpora and their cached indexes, on a tiny stand-in for ../shared."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from eval.corpora import (
    ARTICLE_DOC_ID,
    CorpusError,
    article_path,
    corpus_paths,
    ensure_index,
    index_folder,
    index_key,
    is_ready,
)
from eval.dataset import load_eval_set
from eval.harness import run_eval, sample_questions
from rag.settings import Settings
from rag.system import QASystem, encoder_folder
from tests.index_folders import link_encoder

DISTRACTORS = {
    "corpora/history-state-gov.jsonl": [
        {
            "id": "hsg:test:1",
            "title": "Milestones: 1945",
            "source": "test",
            "text": "The United Nations was founded in 1945 after the Second World War. "
            "Its charter was signed in San Francisco.",
        },
        {
            "id": "hsg:test:2",
            "title": "Milestones: 1949",
            "source": "test",
            "text": "The North Atlantic Treaty was signed in Washington in April 1949.",
        },
    ],
    "corpora/un-general-debate-2020-2024.jsonl": [
        {
            "id": "ungdc:SWE_77_2022",
            "title": "SWE statement, UN General Debate session 77 (2022)",
            "source": "test",
            "date": "2022-09",
            "text": "Sweden condemns the invasion of Ukraine. We will continue our support.",
        }
    ],
}


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    root = tmp_path / "shared"
    for relative, records in DISTRACTORS.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return root


def test_article_corpus_is_the_packaged_article() -> None:
    [path] = corpus_paths("article")
    assert path == article_path() and path.name == ARTICLE_DOC_ID
    assert path.is_file()


def test_article_plus_corpora_lists_the_shared_files(shared: Path) -> None:
    paths = corpus_paths("article+corpora", shared)
    assert [p.name for p in paths] == [
        ARTICLE_DOC_ID,
        "history-state-gov.jsonl",
        "un-general-debate-2020-2024.jsonl",
    ]


def test_missing_shared_folder_and_files_are_explained(tmp_path: Path, shared: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist") as missing:
        corpus_paths("article+corpora", tmp_path / "nowhere")
    assert missing.value.hint is not None and "--shared" in missing.value.hint
    with pytest.raises(CorpusError, match=r"documents\.jsonl is missing"):
        corpus_paths("squad", shared)
    with pytest.raises(CorpusError, match="unknown corpus"):
        corpus_paths("wikipedia", shared)


def test_index_key_follows_inputs_and_chunking(shared: Path) -> None:
    paths = corpus_paths("article+corpora", shared)
    base = Settings()
    key = index_key(paths, base)
    assert key == index_key(paths, base)
    assert key != index_key(paths, base.model_copy(update={"chunk_tokens": 120}))
    for path in paths:  # the same files copied again (a re-synced shared folder): same key
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert key == index_key(paths, base)
    (shared / "corpora" / "history-state-gov.jsonl").write_text(
        json.dumps(DISTRACTORS["corpora/history-state-gov.jsonl"][0]) + "\n", encoding="utf-8"
    )
    assert key != index_key(paths, base)


def test_ensure_index_builds_once_then_reuses(
    shared: Path, tmp_path: Path, onnx_encoder_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(embed_threads=1)
    cache = tmp_path / "cache"
    paths = corpus_paths("article+corpora", shared)
    expected = index_folder("article+corpora", paths, settings, cache)
    link_encoder(onnx_encoder_dir, encoder_folder(expected))  # skip a second ONNX export

    folder = ensure_index("article+corpora", settings, cache, shared_dir=shared)
    assert folder == expected and is_ready(folder)
    assert folder.name.startswith("article_corpora-")

    system = QASystem.open(settings.model_copy(update={"index_dir": folder}))
    try:
        with system.snapshot() as snap:
            assert snap.counts()["documents"] == 4
        report = run_eval(system, sample_questions(load_eval_set(), 8))
    finally:
        system.close()
    assert report.documents == 4
    assert [r.config.name for r in report.results] == ["dense", "lexical", "hybrid"]
    assert all(r.overall.questions == 8 and r.overall.errors == 0 for r in report.results)

    def no_build(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the cached index was rebuilt")

    monkeypatch.setattr(QASystem, "build", no_build)
    assert ensure_index("article+corpora", settings, cache, shared_dir=shared) == folder
