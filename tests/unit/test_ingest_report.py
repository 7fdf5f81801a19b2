"""The ingest report and the report of a batch in which nothing loads (no index, no model)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rag.ingest import IngestEvent, IngestReport, failures_only_report, read_head
from rag.loaders import LoadFailure
from rag.system import QASystem


def failure(name: str, *, skipped: bool) -> LoadFailure:
    return LoadFailure(path=name, reason="no", skipped=skipped)


def test_documents_count_added_updated_and_unchanged() -> None:
    assert IngestReport(added=2, updated=1, unchanged=4).documents == 7


def test_failures_only_counts_and_reports_each_failure() -> None:
    events: list[IngestEvent] = []
    report = failures_only_report(
        [failure("a.doc", skipped=True), failure("b.pdf", skipped=False)],
        time.perf_counter(),
        events.append,
    )
    assert (report.skipped, report.failed, report.documents) == (1, 1, 0)
    assert [e.failure.path for e in events if e.failure] == ["a.doc", "b.pdf"]


def test_read_head_stops_at_the_first_document() -> None:
    from index.records import Document

    doc = Document(id="d", title="t", source="s", text="Some text.")
    items = [failure("a.doc", skipped=True), doc, failure("b.pdf", skipped=False)]
    head, rest, found = read_head(items, lambda item: item)
    assert found and head == items[:2] and list(rest) == items[2:]
    head, rest, found = read_head(items[:1], lambda item: item)
    assert not found and head == items[:1] and list(rest) == []


def test_build_with_nothing_loadable_creates_no_index(tmp_path: Path) -> None:
    from rag.settings import Settings

    folder = tmp_path / "never"
    report = QASystem.build(Settings(index_dir=folder), [failure("x.doc", skipped=True)])
    assert report.documents == 0 and report.skipped == 1
    assert not folder.exists()


def test_a_document_whose_cutting_raises_is_one_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 28: hostile text that makes chunking raise fails that document; the run goes on
    (a setting's error, a RagError, still stops it)."""
    from index.records import Document
    from rag import ingest
    from rag.errors import ConfigurationError

    class Writer:
        def content_hashes(self, ids: list[str]) -> dict[str, str]:
            return {}

    def boom(document: Document, *args: object) -> ingest.Prepared:
        if document.id == "bad":
            raise RecursionError("deep")
        raise ConfigurationError("a setting")

    monkeypatch.setattr(ingest, "prepare", boom)
    events: list[IngestEvent] = []
    options = ingest.IngestOptions(
        chunk_tokens=64, overlap_sentences=0, batch_size=8, commit_every=8
    )
    run = ingest.IngestRun(Writer(), None, None, options, events.append)  # type: ignore[arg-type]
    run.read(Document(id="bad", source="bad.txt", text="Text.", metadata={"language": "en"}))
    assert run.report.failed == 1 and not run.queue
    assert run.report.failures[0].path == "bad.txt"
    assert run.report.failures[0].reason == "the file is nested too deeply to read"
    with pytest.raises(ConfigurationError):
        run.read(Document(id="next", text="Text.", metadata={"language": "en"}))
