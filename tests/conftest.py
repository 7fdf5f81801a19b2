"""Shared pytest fixtures. The environment lines run before any model library is imported."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rag.embedding import SentenceTransformerEmbedder
from rag.embedding.onnx_export import export_query_encoder

TESTS = Path(__file__).resolve().parent
#: The test layers, by folder: fast unit tests (no model, no index built), integration tests over
#: real parts (the model, an index built once per session), end-to-end tests through a process,
#: uvicorn, Chromium or the CLI.
LAYERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its layer, from the folder it lives in."""
    for item in items:
        try:
            layer = item.path.resolve().relative_to(TESTS).parts[0]
        except ValueError:
            continue
        if layer in LAYERS:
            item.add_marker(getattr(pytest.mark, layer))


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
    export_query_encoder(str(st_embedder.model_path), folder)
    return folder


from rag.settings import Settings  # noqa: E402
from tests.index_folders import copy_index_folder, link_encoder  # noqa: E402


@pytest.fixture(scope="session")
def article_index(onnx_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of an index of the packaged sample article, built once per test session with the
    real model (reusing the session's ONNX export instead of exporting again)."""
    import rag
    from rag.loaders import iter_documents
    from rag.system import QASystem, encoder_folder

    article = Path(rag.__file__).parent / "data" / "japan-sweden-security-cooperation.txt"
    index_dir = tmp_path_factory.mktemp("article") / "index"
    link_encoder(onnx_encoder_dir, encoder_folder(index_dir))
    settings = Settings(index_dir=index_dir, embed_threads=1)
    report = QASystem.build(settings, iter_documents([article]))
    assert report.added == 1 and report.failed == 0
    return settings


@pytest.fixture
def article_index_copy(article_index: Settings, tmp_path: Path) -> Settings:
    """Settings of a private copy of the article index, free to change in one test."""
    folder = copy_index_folder(article_index.index_dir, tmp_path / "index")
    return article_index.model_copy(update={"index_dir": folder})


@pytest.fixture(scope="session")
def index_copier() -> Callable[[Path, Path], Path]:
    """:func:`copy_index_folder`, for fixtures of wider scope than one test."""
    return copy_index_folder
