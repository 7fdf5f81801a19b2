"""The page's Compare view in headless Chromium: pick the key and the groups, watch the table
fill, open a cell's cited passage in the document viewer, export CSV and Markdown. Screenshots go
to tests/artifacts/."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.settings import Settings
from tests.e2e.test_page_browser import ARTIFACTS, NORDIC, QUESTION, shot
from tests.e2e.test_service_process import AUTH, CHROMIUM, Server
from tests.processes import serving_a_copy

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium")


@pytest.fixture(scope="module")
def compare_server(
    article_index: Settings, index_copier: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("page-compare")
    with serving_a_copy(article_index.index_dir, index_copier, base, Server) as running:
        for doc_id, (country, date, text) in NORDIC.items():
            r = running.http.post(
                "/documents",
                json={
                    "id": doc_id,
                    "title": f"{doc_id.split('-')[0].capitalize()} joins NATO",
                    "source": "test-wire",
                    "date": date,
                    "metadata": {"country": country},
                    "text": text,
                },
                headers=AUTH,
            )
            assert r.status_code == 201, r.text
        yield running


@pytest.fixture
def page(compare_server: Server) -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        context = browser.new_context(
            viewport={"width": 1200, "height": 900}, accept_downloads=True
        )
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        tab.goto(compare_server.url + "/")
        tab.wait_for_selector("#documents li[data-doc-id]")
        yield tab
        context.close()
        browser.close()


def compare(page: Any, groups: str = "") -> None:
    page.fill("#question", QUESTION)
    page.click("#compare-panel summary")
    page.wait_for_function("() => [...document.querySelectorAll('#c-by option')].length > 1")
    page.select_option("#c-by", "country")
    page.fill("#c-groups", groups)
    page.click("#compare-button")
    page.wait_for_selector("#compare-table")


def test_the_table_opens_each_cited_passage(page: Any) -> None:
    compare(page, "FIN, EST, SWE")
    rows = page.eval_on_selector_all(
        "#compare-table tbody tr", "rs => rs.map(r => [r.dataset.group, r.dataset.status])"
    )
    assert [g for g, _ in rows] == ["FIN", "EST", "SWE"]
    assert rows[2][1] == "no_documents"
    assert "No documents for this group." in page.inner_text('tr[data-group="SWE"] td.cell')
    labels = page.eval_on_selector_all(
        "#compare-table tbody th", "hs => hs.map(h => h.textContent)"
    )
    assert labels == ["Finland (FIN)", "Estonia (EST)", "Sweden (SWE)"]
    assert "4 April 2023" in page.inner_text('tr[data-group="FIN"] td.cell')
    assert "29 March 2004" in page.inner_text('tr[data-group="EST"] td.cell')
    shot(page, "compare-table")
    # a cell's [n] opens its passage in the document viewer, highlighted and focused
    page.click('tr[data-group="EST"] button.cell-cite')
    page.wait_for_selector("#viewer-mark")
    assert "Estonia joined NATO on 29 March 2004" in page.inner_text("#viewer-mark")
    assert page.evaluate("() => document.activeElement.id") == "viewer-mark"
    assert "estonia-2004" in page.inner_text("#viewer-meta")
    shot(page, "compare-viewer")
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('viewer').open")
    page.wait_for_function("() => document.activeElement.closest('tr')?.dataset.group === 'EST'")


def test_all_groups_csv_and_markdown(page: Any) -> None:
    compare(page)  # every country present: the table keeps those that answer
    summary = page.inner_text("#compare-summary")
    assert "By country:" in summary and "most confident first" in summary
    groups = page.eval_on_selector_all(
        "#compare-table tbody tr", "rs => rs.map(r => r.dataset.group)"
    )
    assert set(groups) <= {"FIN", "EST"} and groups
    with page.expect_download() as info:
        page.click("#compare-csv")
    download = info.value
    assert download.suggested_filename == "comparison.csv"
    text = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["group"] for r in rows) == ["EST", "FIN"]  # one line per group
    for r in rows:
        if r["status"] == "answered":
            assert r["citation_doc_ids"] in ("finland-2023", "estonia-2004")
            assert "joined NATO" in r["citation_quotes"]
    page.click("#compare-md")
    markdown = page.inner_text("#compare-export")
    assert markdown.startswith(f"## {QUESTION}")
    assert "| group | answer | confidence |" in markdown and "Sources:" in markdown
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "page-compare.md").write_text(markdown, encoding="utf-8")


def test_a_bad_key_is_shown(page: Any) -> None:
    page.fill("#question", QUESTION)
    page.click("#compare-panel summary")
    page.wait_for_function("() => [...document.querySelectorAll('#c-by option')].length > 1")
    page.eval_on_selector(
        "#c-by", "s => { s.append(new Option('colour', 'colour')); s.value = 'colour'; }"
    )
    page.click("#compare-button")
    page.wait_for_selector("#result .error")
    assert "no document carries the key 'colour'" in page.inner_text("#result .error")
