"""The ingest report and the report of a batch in which nothing loads (no index, no model)."""

from __future__ import annotations

from pathlib import Path

from rag.ingest import IngestEvent, IngestReport
from rag.loaders import LoadFailure
from rag.system import QASystem, failures_only


def failure(name: str, *, skipped: bool) -> LoadFailure:
    return LoadFailure(path=name, reason="no", skipped=skipped)


def test_documents_count_added_updated_and_unchanged() -> None:
    assert IngestReport(added=2, updated=1, unchanged=4).documents == 7


def test_failures_only_counts_and_reports_each_failure() -> None:
    events: list[IngestEvent] = []
    report = failures_only(
        [failure("a.doc", skipped=True), failure("b.pdf", skipped=False)], events.append
    )
    assert (report.skipped, report.failed, report.documents) == (1, 1, 0)
    assert [e.failure.path for e in events if e.failure] == ["a.doc", "b.pdf"]


def test_build_with_nothing_loadable_creates_no_index(tmp_path: Path) -> None:
    from rag.settings import Settings

    folder = tmp_path / "never"
    report = QASystem.build(Settings(index_dir=folder), [failure("x.doc", skipped=True)])
    assert report.documents == 0 and report.skipped == 1
    assert not folder.exists()
