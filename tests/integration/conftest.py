"""Indexes of the integration layer beyond the article index (``tests/conftest.py``), each built
once per session: ``corpus_index`` adds the fixture corpora to a copy of the article index (no
second ONNX export, the article not embedded again); ``formats_index`` holds the files of
``formats_corpus.py``, whose formats and languages no JSONL record can stand in for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from rag.ingest import IngestEvent, IngestReport
from rag.loaders import iter_documents
from rag.settings import Settings
from rag.system import QASystem, encoder_folder
from tests.index_folders import link_encoder
from tests.integration.formats_corpus import FILES, write_corpus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
#: Three real statements with metadata (country, session, date): see fixtures/README.md.
MIXED = FIXTURES / "mixed_corpus.jsonl"
#: Three made-up UN-style statements naming people and places no code lists.
OFFDOMAIN = FIXTURES / "offdomain_statements.jsonl"


@dataclass(frozen=True)
class BuiltIndex:
    """An index built for the tests: its settings, its inputs, and how the build went."""

    settings: Settings
    inputs: Path
    report: IngestReport
    events: list[IngestEvent]


@pytest.fixture(scope="session")
def corpus_index(
    article_index: Settings,
    index_copier: Callable[[Path, Path], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """Settings of the article index plus ``MIXED`` and ``OFFDOMAIN`` (seven documents): the
    article's answers among distractors, filters over real metadata, off-domain names."""
    folder = index_copier(article_index.index_dir, tmp_path_factory.mktemp("corpus") / "index")
    settings = article_index.model_copy(update={"index_dir": folder})
    report = QASystem.build(settings, iter_documents([MIXED, OFFDOMAIN]))
    assert (report.added, report.unchanged, report.failed) == (6, 0, 0)
    return settings


@pytest.fixture(scope="session")
def formats_index(onnx_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> BuiltIndex:
    """The files of ``formats_corpus.py`` in an index of their own, with the ingest's events."""
    base = tmp_path_factory.mktemp("formats")
    inputs = write_corpus(base / "inputs")
    index_dir = base / "index"
    link_encoder(onnx_encoder_dir, encoder_folder(index_dir))
    settings = Settings(index_dir=index_dir, embed_threads=1)
    events: list[IngestEvent] = []
    report = QASystem.build(settings, iter_documents([inputs]), on_event=events.append)
    assert report.added == len(FILES), report.failures
    return BuiltIndex(settings, inputs, report, events)
