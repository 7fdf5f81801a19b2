"""Documents as they really come: hard-wrapped text and PDFs, Word files, legacy encodings and
other languages, through the real loaders, model, FAISS and SQLite. The files
(``formats_corpus.py``) are indexed once per session (``formats_index``, ``conftest.py``): their
formats and languages are what these tests are about, so they cannot come from the article
index."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rag.filters import Filters
from rag.language import detect_language
from rag.layout import reflow
from rag.loaders import iter_documents, load_bytes, load_file
from rag.models import Answer
from rag.sentences import split_sentences
from rag.system import QASystem, encoder_folder
from tests.index_folders import link_encoder
from tests.integration.conftest import BuiltIndex
from tests.integration.formats_corpus import (
    CHINESE,
    DOCX_SENTENCE,
    FILES,
    FRENCH,
    PAGED_SENTENCE,
    PDF_LINES,
    PDF_PAGE_1,
    PDF_PAGE_2,
    PDF_SENTENCE,
    RUSSIAN,
    SPANISH,
    WRAPPED_SENTENCE,
    WRAPPED_TEXT,
)
from tests.processes import run_rag


@pytest.fixture(scope="module")
def system(formats_index: BuiltIndex) -> Iterator[QASystem]:
    qa = QASystem.open(formats_index.settings)
    yield qa
    qa.close()


def test_ingest_progress_knows_the_total_before_embedding(formats_index: BuiltIndex) -> None:
    report, events = formats_index.report, formats_index.events
    assert (report.added, report.failed, report.skipped) == (len(FILES), 0, 0)
    # the total is known before embedding starts, and the count rises smoothly to it
    planned = [e for e in events if e.kind == "planned"]
    embedded = [e.done_chunks for e in events if e.kind == "embedded"]
    assert planned[-1].final and planned[-1].planned_chunks == report.chunks
    assert events.index(planned[-1]) < events.index(next(e for e in events if e.kind == "embedded"))
    assert embedded == sorted(embedded) and embedded[-1] == pytest.approx(report.chunks)


def _quotes(answer: Answer) -> list[str]:
    return [c.quote for c in answer.citations]


def _assert_exact(system: QASystem, answer: Answer) -> None:
    with system.snapshot() as snap:
        for c in answer.citations:
            doc = snap.document(c.doc_id)
            assert doc is not None and doc.text[c.char_start : c.char_end] == c.quote


# --- layout --------------------------------------------------------------------------------------


def test_wrapped_text_quote_is_the_whole_sentence(system: QASystem) -> None:
    assert WRAPPED_SENTENCE not in WRAPPED_TEXT  # the source really wraps inside it
    answer = system.ask("When did the coastal states sign the maritime security agreement?")
    assert not answer.abstained, answer.warnings
    _assert_exact(system, answer)
    assert WRAPPED_SENTENCE in _quotes(answer)
    with system.snapshot() as snap:
        doc = snap.document("speech.txt")
    assert doc is not None
    assert doc.title == "STATEMENT BY THE PERMANENT REPRESENTATIVE"  # the heading stays apart
    assert doc.text.startswith("STATEMENT BY THE PERMANENT REPRESENTATIVE\n\nMr. President,")


def test_wrapped_pdf_quote_is_the_whole_sentence(system: QASystem) -> None:
    assert not any(PDF_SENTENCE in line for line in PDF_LINES)
    answer = system.ask("When did Norway and Korea conclude the agreement on Arctic research?")
    assert not answer.abstained, answer.warnings
    _assert_exact(system, answer)
    [citation] = [c for c in answer.citations if c.doc_id == "polar.pdf"]
    assert citation.quote == PDF_SENTENCE and citation.page == 1
    assert citation.title == "polar"  # the stale "korea-norway.html" title is not used


def test_sentence_running_on_to_the_next_pdf_page_is_one_quote(system: QASystem) -> None:
    assert not any(PAGED_SENTENCE in line for line in PDF_PAGE_1 + PDF_PAGE_2)
    answer = system.ask("How much did Chile contribute to the adaptation fund?")
    assert not answer.abstained, answer.warnings
    _assert_exact(system, answer)
    [citation] = [c for c in answer.citations if c.doc_id == "two-pages.pdf"]
    assert citation.quote == PAGED_SENTENCE and citation.page == 1
    with system.snapshot() as snap:
        doc = snap.document("two-pages.pdf")
    assert doc is not None and doc.title == "two-pages" and doc.page_starts is not None
    assert len(doc.page_starts) == 2 and doc.text[doc.page_starts[1] - 1] == " "


def test_reflow_joins_wraps_keeps_structure_and_dehyphenates_real_words() -> None:
    text = (
        "Heading line\n\n"
        "We stress that international coop-\n"
        "eration between the coastal states is vital for self-\n"
        "defence and for well-\n"
        "known reasons of cooperation. The meeting closed at 5 p.m. and the\n"
        "U.S. delegation left.\n"
        "- first point\n"
        "- second point\n\n"
        "Signed\n"
        "The Ambassador"
    )
    flowed = reflow(text, width=40)
    assert flowed == (
        "Heading line\n\n"
        "We stress that international cooperation between the coastal states is vital for "
        "self-defence and for well-known reasons of cooperation. The meeting closed at 5 p.m. "
        "and the U.S. delegation left.\n"
        "- first point\n"
        "- second point\n\n"
        "Signed\n"
        "The Ambassador"
    )
    sentences = [flowed[s:e] for s, e in split_sentences(flowed)]
    assert "The meeting closed at 5 p.m. and the U.S. delegation left." in sentences
    # one paragraph per line (not hard-wrapped): left exactly as it is
    unwrapped = ("A long paragraph that goes on. " * 10 + "\n") * 6
    assert reflow(unwrapped) == unwrapped


def test_wrapped_markdown_keeps_its_structure(tmp_path: Path) -> None:
    raw = (
        "# Briefing on the Arctic Council\n\n"
        "The ministers met in Tromsø to discuss scientific cooperation and the\n"
        "future of the council after the suspension of its work in 2022, and\n"
        "agreed to resume the expert groups.\n\n"
        "## Decisions\n\n"
        "- resume the working groups on climate monitoring and\n"
        "  search and rescue\n"
        "- publish the report\n\n"
        "```\nline one of code\nline two of code\n```\n"
    )
    path = tmp_path / "brief.md"
    path.write_text(raw, encoding="utf-8")
    [doc] = load_file(path)
    assert doc.title == "Briefing on the Arctic Council"
    assert doc.text == (
        "# Briefing on the Arctic Council\n\n"
        "The ministers met in Tromsø to discuss scientific cooperation and the future of the "
        "council after the suspension of its work in 2022, and agreed to resume the expert "
        "groups.\n\n"
        "## Decisions\n\n"
        "- resume the working groups on climate monitoring and search and rescue\n"
        "- publish the report\n\n"
        "```\nline one of code\nline two of code\n```\n"
    )


def test_speech_written_a_sentence_per_line_is_left_alone_and_jsonl_wraps_are_joined(
    tmp_path: Path,
) -> None:
    speech = (
        "His Excellency President of the General Assembly,\n"
        "Distinguished Leaders of the Member Countries of the United Nations,\n"
        "This year marks the 75th Anniversary of the United Nations.\n"
        "Because war will benefit no one.\n"
        "There is no point of celebrating victory among ruins, as every delegation knows well.\n"
        "Mr. President,\n"
        "In this 75th anniversary of the UN we must ask ourselves whether we have succeeded.\n"
    )
    assert reflow(speech) == speech  # lines of every length: not hard-wrapped
    paragraph = (
        WRAPPED_SENTENCE + " The manifestations of this policy are myriad and include the "
        "containment of rivals, pressure on neighbours and the neglect of development."
    )
    wrapped = textwrap.fill(paragraph, width=50) + "\nThey include:\no first item;\no second item."
    path = tmp_path / "speeches.jsonl"
    path.write_text(json.dumps({"id": "s1", "text": wrapped}) + "\n", encoding="utf-8")
    [doc] = load_file(path)
    assert doc.text.startswith(WRAPPED_SENTENCE + " The manifestations")
    assert doc.text.endswith("development.\nThey include:\no first item;\no second item.")


def test_cjk_and_arabic_sentence_ends() -> None:
    spans = split_sentences(CHINESE)
    assert [CHINESE[s:e] for s, e in spans] == [
        "海关总署今天发布了新的进口商品检验规定。",
        "各地海关将于明年一月起实施这些规定！",
        "外交部发言人表示，中国愿与各国加强合作。",
    ]
    arabic = "وقعت مصر الاتفاقية في عام 2020. متى ستدخل حيز التنفيذ؟ في العام المقبل۔"
    assert len(split_sentences(arabic)) == 3


# --- formats and encodings -----------------------------------------------------------------------


def test_docx_is_answered_with_a_citation(system: QASystem) -> None:
    answer = system.ask("When did the Security Council adopt resolution 2231?")
    assert not answer.abstained, answer.warnings
    _assert_exact(system, answer)
    [citation] = [c for c in answer.citations if c.doc_id == "council.docx"]
    assert citation.quote == DOCX_SENTENCE
    assert citation.title == "Security Council resolutions"


def test_cp1251_russian_file_is_stored_correctly(system: QASystem) -> None:
    with system.snapshot() as snap:
        doc = snap.document("mid.txt")
    assert doc is not None and doc.text == RUSSIAN
    assert doc.metadata["language"] == "ru"
    with system.snapshot() as snap:  # Cyrillic lexical search, stemmed: "меморандума"
        hits = snap.search_lexical(["меморандума"], 3, languages=("ru",))
        assert [snap.chunks([h[0] for h in hits])[hits[0][0]].doc_id] == ["mid.txt"]


def test_rtf_and_odt_load(tmp_path: Path) -> None:
    rtf = rb"{\rtf1\ansi\ansicpg1252 {\b Brief}\par La d\'e9l\'e9gation a sign\'e9.\par}"
    [doc] = load_bytes("brief.rtf", rtf)
    assert doc.text == "Brief\n\nLa délégation a signé."
    odt = _odt(tmp_path / "note.odt", ["Note on sanctions", "The ministers  met in Oslo."])
    [note] = load_file(odt)
    assert note.text == "Note on sanctions\n\nThe ministers  met in Oslo."
    assert note.title == "Note on sanctions"


def _odt(path: Path, paragraphs: list[str]) -> Path:
    import zipfile

    body = "".join(
        "<text:p>" + p.replace("  ", ' <text:s text:c="1"/>') + "</text:p>" for p in paragraphs
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">'
        f"<office:body><office:text>{body}</office:text></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
    return path


# --- languages -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("When did Sweden join NATO?", "en"),
        ("Who can introduce a bill as a public member?", "en"),  # "a a" is not Portuguese
        ("What did the Ministère des Affaires étrangères say about the coup d'état?", "en"),
        ("Wer hat den Vertrag unterzeichnet?", "de"),
        ("Quand la France a-t-elle signé l'accord ?", "fr"),
        ("¿Cuándo firmó España el tratado?", "es"),
        ("Когда Россия подписала договор?", "ru"),
        ("海关总署的职责是什么？", "zh"),
        ("متى وقعت مصر الاتفاقية؟", "ar"),
        (FRENCH, "fr"),
        (SPANISH, "es"),
        ("12345 !!", "und"),
    ],
)
def test_detect_language(text: str, code: str) -> None:
    assert detect_language(text) == code


def test_question_language_detection_is_cheap() -> None:
    started = time.perf_counter()
    for _ in range(1000):
        detect_language("Quand la France a-t-elle signé l'accord de coopération maritime ?")
    assert time.perf_counter() - started < 1.0


def test_chinese_term_is_found_lexically(system: QASystem) -> None:
    answer = system.ask("海关总署", mode="lexical")
    assert answer.passages and answer.passages[0].doc_id == "customs.txt"
    with system.snapshot() as snap:
        hits = snap.search_lexical(["外交部"], 5)
        assert {snap.chunks([cid])[cid].doc_id for cid, _ in hits} == {"customs.txt"}


def test_language_is_metadata_and_filterable(system: QASystem) -> None:
    with system.snapshot() as snap:
        languages = {d.id: d.metadata["language"] for d in snap.list_documents()}
    assert languages == FILES
    answer = system.ask(
        "maritime cooperation agreement", filters=Filters(metadata={"language": "fr"})
    )
    assert {p.doc_id for p in answer.passages} == {"france-senegal.txt"}


def test_accented_lexical_search_and_non_english_retrieval(system: QASystem) -> None:
    # accents folded, French stems: "coopérations" finds "coopération"
    with system.snapshot() as snap:
        hits = snap.search_lexical(["coopérations", "Sénégal"], 3, languages=("fr",))
        assert snap.chunks([hits[0][0]])[hits[0][0]].doc_id == "france-senegal.txt"
    answer = system.ask("¿Cuándo firmaron las autoridades españolas el protocolo con Marruecos?")
    assert answer.mode == "lexical" and any("English-only" in w for w in answer.warnings)
    assert answer.passages[0].doc_id == "espana.txt"


def test_french_question_over_a_french_statement_is_answered(system: QASystem) -> None:
    answer = system.ask(
        "Quand la France a-t-elle signé l'accord de coopération maritime avec le Sénégal ?"
    )
    assert answer.passages[0].doc_id == "france-senegal.txt"
    assert not answer.abstained, answer.warnings
    _assert_exact(system, answer)
    assert any("mars 2022" in q for q in _quotes(answer))


# --- the command line ----------------------------------------------------------------------------


def test_folder_of_unsupported_files_exits_1_naming_each_and_creates_no_index(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "office"
    folder.mkdir()
    (folder / "minutes.doc").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 64)
    (folder / "slides.pptx").write_bytes(b"PK\x03\x04")
    (folder / "figures.xyz").write_bytes(b"1,2,3")
    (folder / "broken.docx").write_bytes(b"not a zip")
    index = tmp_path / "index"
    started = time.perf_counter()
    result = run_rag("ingest", folder, "--index", index, "-q")
    assert result.returncode == 1, result.stderr
    assert time.perf_counter() - started < 30  # no model was exported or loaded
    lines = result.stderr.splitlines()
    for name in ("minutes.doc", "slides.pptx", "figures.xyz", "broken.docx"):
        assert sum(name in line for line in lines) == 1, result.stderr  # each named once
    assert any(line.startswith("skipped:") and "save it as .docx" in line for line in lines)
    assert any(line.startswith("failed:") and "broken.docx" in line for line in lines)
    assert "nothing to ingest" in result.stderr
    assert not index.exists()


def test_mixed_folder_names_each_problem_once_and_reports_wall_time(
    tmp_path: Path, onnx_encoder_dir: Path
) -> None:
    folder = tmp_path / "inputs"
    folder.mkdir()
    (folder / "speech.txt").write_text(WRAPPED_TEXT, encoding="utf-8")
    (folder / "minutes.doc").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 64)
    (folder / "empty.txt").write_text("  \n", encoding="utf-8")
    index = tmp_path / "index"
    link_encoder(onnx_encoder_dir, encoder_folder(index))  # the one-time export, done already
    result = run_rag("ingest", folder, "--index", index)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert sum("minutes.doc" in line for line in lines) == 1, result.stderr
    assert sum("empty.txt" in line for line in lines) == 1, result.stderr
    assert "chunk" in result.stderr  # the bar counts chunks
    summary = result.stdout.strip()
    assert "1 added" in summary and "1 skipped" in summary and "1 failed" in summary
    assert "model preparation included" in summary


def test_reingesting_unchanged_documents_detects_no_language(
    formats_index: BuiltIndex,
    index_copier: Callable[[Path, Path], Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    def no_detection(text: str) -> str:
        raise AssertionError("an unchanged document keeps its stored language")

    monkeypatch.setattr("rag.ingest.detect_language", no_detection)
    folder = index_copier(formats_index.settings.index_dir, tmp_path / "index")
    settings = formats_index.settings.model_copy(update={"index_dir": folder})
    report = QASystem.build(settings, iter_documents([formats_index.inputs]))
    assert (report.unchanged, report.added, report.updated, report.chunks) == (len(FILES), 0, 0, 0)
