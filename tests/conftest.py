"""Shared pytest fixtures. The environment lines run before any model library is imported."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.embedding import SentenceTransformerEmbedder


@pytest.fixture(scope="session")
def st_embedder() -> Iterator[SentenceTransformerEmbedder]:
    """The real bundled all-MiniLM-L6-v2, loaded once per test session."""
    embedder = SentenceTransformerEmbedder()
    embedder.warm_up()
    yield embedder


@pytest.fixture(scope="session")
def onnx_encoder_dir(
    st_embedder: SentenceTransformerEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A query encoder exported once per test session from the real model."""
    folder = tmp_path_factory.mktemp("index") / "encoder"
    st_embedder.export_onnx(folder)
    return folder
