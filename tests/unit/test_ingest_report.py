"""The ingest report and the report of a batch in which nothing loads (no index, no model)."""

from __future__ import annotations

import time
from pathlib import Path

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
