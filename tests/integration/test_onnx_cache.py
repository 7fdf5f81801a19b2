"""A new index takes its query encoder from the user cache: no second ONNX conversion."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from index.records import Document
from rag.embedding import onnx_export
from rag.embedding.model_folder import default_model_path, read_model_folder
from rag.settings import Settings
from rag.system import QASystem, encoder_folder


def test_new_indexes_copy_the_cached_export(
    onnx_encoder_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = default_model_path()
    fingerprint = onnx_export.model_fingerprint(read_model_folder(Path(model)))
    cache = tmp_path / "cache"
    shutil.copytree(onnx_encoder_dir, cache / fingerprint[:32])  # as the first ingest left it
    conversions: list[object] = []
    monkeypatch.setattr(onnx_export, "export_query_encoder", lambda *a: conversions.append(a))
    for name in ("one", "two"):
        settings = Settings(index_dir=tmp_path / name, embed_threads=1, onnx_cache_dir=cache)
        report = QASystem.build(
            settings,
            [Document(id="a", text="Sweden joined NATO on 7 March 2024.")],
            on_export=lambda: conversions.append("on_export"),
        )
        assert report.added == 1
        assert onnx_export.encoder_is_current(encoder_folder(settings.index_dir), model)
        with QASystem.open(settings) as qa:
            assert "2024" in qa.ask("When did Sweden join NATO?").answer
    assert conversions == []
