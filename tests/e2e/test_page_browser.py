"""The page as an analyst uses it, in headless Chromium (Debian's, driven by Playwright):
filters narrowing an answer, the document viewer at a cited span, Markdown export, bulk upload,
a keyboard-only flow. Screenshots go to tests/artifacts/ (look at them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.settings import Settings
from tests.e2e.test_service_process import AUTH, CHROMIUM, KEY, Server
from tests.processes import serving_a_copy

playwright_api = pytest.importorskip("playwright.sync_api")

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium")

NORDIC = {
    "finland-2023": (
        "FIN",
        "2023-04-04",
        "Finland joined NATO on 4 April 2023, ending decades of military non-alignment. "
        "Its accession doubled the alliance's land border with Russia.",
    ),
    "estonia-2004": (
        "EST",
        "2004-03-29",
        "Estonia joined NATO on 29 March 2004 together with Latvia and Lithuania. "
        "The Baltic states had regained independence in 1991.",
    ),
}
QUESTION = "When did the country join NATO?"


@pytest.fixture(scope="module")
def page_server(
    article_index: Settings, index_copier: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("page")
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, page_server: Server) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    p = context.new_page()
    p.set_default_timeout(30_000)
    p.goto(page_server.url + "/")
    p.wait_for_selector("#documents li[data-doc-id]")
    yield p
    context.close()


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"page-{name}.png"
    page.screenshot(path=str(path), full_page=False)
    assert path.stat().st_size > 5_000
    return path


def ask(page: Any, question: str) -> None:
    page.fill("#question", question)
    page.click("#ask-button")
    page.wait_for_selector("#answer")


def cited_docs(page: Any) -> set[str]:
    cards = page.query_selector_all("#citations li[data-doc-id], #passages li[data-doc-id]")
    return {c.get_attribute("data-doc-id") for c in cards}


def test_filters_narrow_the_answer(page: Any) -> None:
    ask(page, QUESTION)
    unfiltered = cited_docs(page)
    assert unfiltered and unfiltered != {"estonia-2004"}, unfiltered
    page.click("#filters-panel summary")
    options = page.eval_on_selector_all("#f-meta-key option", "os => os.map(o => o.value)")
    assert "country" in options and "language" in options
    page.select_option("#f-meta-key", "country")
    values = page.eval_on_selector_all("#f-meta-values option", "os => os.map(o => o.value)")
    assert sorted(values) == ["EST", "FIN"]
    page.fill("#f-meta-value", "EST")
    page.fill("#f-date-from", "2000")
    page.dispatch_event("#f-date-from", "change")
    assert "country = EST" in page.inner_text("#active-filters")
    ask(page, QUESTION)
    page.wait_for_function("() => document.querySelector('#answer') !== null")
    filtered = cited_docs(page)
    assert filtered == {"estonia-2004"}, filtered
    assert "2004" in page.inner_text("#answer")
    # confidence in words, the number in the tooltip
    words = page.inner_text("#confidence")
    assert words in ("high confidence", "moderate confidence", "low confidence"), words
    assert re.match(r"confidence [01]\.\d\d: ", page.get_attribute("#confidence", "title"))
    assert not re.search(r"confidence [01]\.\d", page.inner_text("#answer"))
    meta = page.inner_text("#citations .cite-meta")
    assert "2004-03-29" in meta and "test-wire" in meta and "country: EST" in meta
    shot(page, "filters")


def test_an_abstention_is_a_sentence(page: Any) -> None:
    ask(page, "What is the boiling point of tungsten?")
    page.wait_for_selector('#answer[data-abstained="true"]')
    sentence = page.inner_text("#abstention")
    assert sentence in (
        "The documents do not clearly answer this.",
        "Nothing in the documents is about this.",
        "The documents do not answer this question.",
    )
    shown = page.inner_text("#result")
    assert "abstained:" not in shown and "threshold" not in shown and "probability" not in shown
    assert "abstained:" in (page.get_attribute("#abstention", "title") or "")


def test_citation_opens_in_the_viewer_highlighted_and_focused(page: Any) -> None:
    page.click("#filters-panel summary")
    page.fill("#f-docs", "finland-2023")
    ask(page, "When did Finland join NATO?")
    page.wait_for_selector("#cite-1 .open-doc")
    page.click("#cite-1 .open-doc")
    page.wait_for_selector("#viewer-mark")
    assert page.eval_on_selector("#viewer", "d => d.open")
    mark = page.inner_text("#viewer-mark")
    text = page.inner_text("#viewer-text")
    assert "4 April 2023" in mark and len(text) >= len(NORDIC["finland-2023"][2]) - 2
    assert page.evaluate("document.activeElement && document.activeElement.id") == "viewer-mark"
    assert page.inner_text("#viewer-title") == "Finland joins NATO"
    assert "citation [1] of" in page.inner_text("#viewer-pos")
    shot(page, "viewer")
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.querySelector('#viewer').open")
    # Closing returns focus to the cited card, which stays highlighted.
    page.wait_for_function("() => document.activeElement.id === 'cite-1'")
    assert "highlight" in (page.get_attribute("#cite-1", "class") or "")


def test_export_produces_markdown(page: Any) -> None:
    ask(page, "When did Estonia join NATO?")
    page.wait_for_selector("#copy-md")
    page.click("#copy-md")
    page.wait_for_selector("#export-md:not([hidden])")
    md = page.inner_text("#export-md")
    assert md.startswith("## When did Estonia join NATO?")
    assert "### Sources" in md and "[1] **" in md
    assert "\n> " in md and "characters " in md
    with page.expect_download() as info:
        page.click("#download-md")
    saved = Path(info.value.path())
    assert saved.read_text(encoding="utf-8").strip() == md.strip()
    shot(page, "export")


def test_upload_sets_date_and_metadata(page: Any, tmp_path: Path) -> None:
    memo = tmp_path / "norway-memo.txt"
    memo.write_text("Norway extended its fisheries accord with Iceland.\n", encoding="utf-8")
    page.fill("#api-key", KEY)
    page.fill("#upload-date", "2021-06")
    page.fill("#upload-meta", "desk=nordic; session=76")
    page.set_input_files("#upload-file", [str(memo)])
    page.click("#upload-button")
    page.wait_for_selector('#upload-results li.ok[data-file="norway-memo.txt"]')
    doc = page.evaluate("fetch('/documents/norway-memo.txt').then(r => r.json())")
    assert (doc["date"], doc["metadata"]["desk"], doc["metadata"]["session"]) == (
        "2021-06",
        "nordic",
        76,
    )


def test_bulk_upload_reports_each_file(page: Any, tmp_path: Path) -> None:
    good = tmp_path / "latvia.txt"
    good.write_text("Latvia joined NATO on 29 March 2004.\n", encoding="utf-8")
    second = tmp_path / "lithuania.md"
    second.write_text("# Lithuania\n\nLithuania joined NATO on 29 March 2004.\n", encoding="utf-8")
    bad = tmp_path / "empty.txt"
    bad.write_text("   \n", encoding="utf-8")
    page.fill("#api-key", KEY)
    page.set_input_files("#upload-file", [str(good), str(second), str(bad)])
    page.click("#upload-button")
    page.wait_for_function("() => document.querySelectorAll('#upload-results li').length === 3")
    page.wait_for_function(
        "() => document.querySelector('#upload-status').textContent.includes('of 3 files added')"
    )
    ok = page.eval_on_selector_all("#upload-results li.ok", "ls => ls.map(l => l.dataset.file)")
    failed = page.eval_on_selector_all(
        "#upload-results li.failed", "ls => ls.map(l => l.textContent)"
    )
    assert sorted(ok) == ["latvia.txt", "lithuania.md"]
    assert len(failed) == 1 and "empty.txt" in failed[0]
    assert failed[0].count("empty.txt") == 1, failed[0]  # the file is named once
    assert "empty file" in failed[0]
    assert page.inner_text("#upload-status") == "2 of 3 files added."
    assert page.get_attribute("#upload-status", "aria-live") == "polite"
    page.wait_for_selector('#documents li[data-doc-id="latvia.txt"]')
    shot(page, "upload")


def test_keyboard_only_flow(page: Any) -> None:
    # Tab order: the question comes first, and the upload comes before any Delete button.
    order: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        desc = page.evaluate(
            "() => { const a = document.activeElement;"
            " return a.id || a.getAttribute('aria-label') || a.textContent.trim(); }"
        )
        order.append(desc)
        if desc.startswith("Delete "):
            break
    assert order[0] == "question"
    assert "upload-file" in order and order.index("upload-file") < len(order) - 1
    assert order[-1].startswith("Delete "), order
    # Ask with the keyboard, then follow a marker: focus lands on the cited card and stays.
    page.focus("#question")
    page.keyboard.type("When did Finland join NATO?")
    page.keyboard.press("Enter")
    page.wait_for_selector("#answer .marker")
    page.focus("#question")
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('marker')"):
            break
    assert page.evaluate("document.activeElement.dataset.marker") == "1"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "cite-1"
    page.wait_for_timeout(3000)  # the highlight used to vanish after 2.4 s
    assert "highlight" in (page.get_attribute("#cite-1", "class") or "")
    ring = page.evaluate("getComputedStyle(document.activeElement).outlineColor")
    assert ring == "rgb(11, 87, 164)"  # #0b57a4: 7:1 on white
    shot(page, "keyboard")


def test_history_survives_a_reload_and_drop_uploads(page: Any) -> None:
    ask(page, "When did Estonia join NATO?")
    page.wait_for_selector("#answer")
    page.reload()
    page.wait_for_selector("#documents li[data-doc-id]")
    page.click("#history-panel summary")
    assert "When did Estonia join NATO?" in page.inner_text("#history")
    examples = page.eval_on_selector_all("#examples button", "bs => bs.map(b => b.textContent)")
    assert examples and all(e.startswith("What does “") for e in examples)
    # Files dropped on the drop zone are uploaded like chosen ones.
    page.fill("#api-key", KEY)
    page.evaluate(
        """() => {
        const data = new DataTransfer();
        data.items.add(new File(["Norway is a founding member of NATO since 1949."],
                                "norway.txt", {type: "text/plain"}));
        document.querySelector("#drop-zone").dispatchEvent(
            new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
    }"""
    )
    page.wait_for_selector('#upload-results li.ok[data-file="norway.txt"]')
    assert page.inner_text("#upload-status") == "1 of 1 file added."
