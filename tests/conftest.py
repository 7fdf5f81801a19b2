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


def _layer(item: pytest.Item) -> str | None:
    try:
        layer = item.path.resolve().relative_to(TESTS).parts[0]
    except ValueError:
        return None
    return layer if layer in LAYERS else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its layer, from the folder it lives in, and order the files for
    `make test`'s workers (which take whole files, in this order, with --no-loadscope-reorder):
    the files that start a Ray cluster first, then e2e, integration, unit. The longest file starts
    at once and the many short unit files fill the end, instead of the Ray file starting last
    and running alone."""
    for item in items:
        layer = _layer(item)
        if layer is not None:
            item.add_marker(getattr(pytest.mark, layer))
    cluster_files = {item.path for item in items if item.get_closest_marker("ray")}
    rank = {layer: i for i, layer in enumerate(("e2e", "integration", "unit"))}

    def order(item: pytest.Item) -> tuple[bool, int]:
        return item.path not in cluster_files, rank.get(_layer(item) or "", len(rank))

    items.sort(key=order)  # stable: tests keep their order within a file


@pytest.fixture(scope="session")
def st_embedder() -> Iterator[SentenceTransformerEmbedder]:
    """The real bundled all-MiniLM-L6-v2, loaded once per test session."""
    embedder = SentenceTransformerEmbedder()
    embedder.warm_up()
    yield embedder


@pytest.fixture(scope="session")
def onnx_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A query encoder exported once per test run from the real model. Under pytest-xdist the
    first worker that needs it exports it into the run's folder while the others wait on a lock,
    then use it (the export is built from the weights, in about 2 s, without torch)."""
    import fcntl

    run_dir = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # set in xdist's workers; works without xdist too
        run_dir = run_dir.parent  # /tmp/pytest-of-USER/pytest-N, shared by the run's workers
    folder = run_dir / "session-encoder"
    with open(run_dir / "session-encoder.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not folder.is_dir():  # an export appears whole (staged, then renamed) or not at all
            export_query_encoder(str(SentenceTransformerEmbedder().model_path), folder)
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
