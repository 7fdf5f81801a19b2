"""Document loaders: every format's good case with exact text, and every way a file can be bad."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from index.records import Document
from rag.errors import LoaderError, UnsupportedFileTypeError
from rag.loaders import (
    SUPPORTED_SUFFIXES,
    LoadFailure,
    iter_documents,
    iter_jsonl,
    load_bytes,
    load_file,
    normalise_date,
)

REPO = Path(__file__).resolve().parents[2]
ARTICLE = REPO / "rag" / "data" / "japan-sweden-security-cooperation.txt"
FIXTURE_CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "mixed_corpus.jsonl"
SHARED_UN_CORPUS = REPO.parent / "shared" / "corpora" / "un-general-debate-2020-2024.jsonl"

PAGE_1 = "Japan and Sweden signed a defence agreement."
PAGE_2_LINES = ("Sweden joined NATO in March 2024.", "Both support Ukraine.")


# --- helpers -----------------------------------------------------------------------------------


def _text_ops(*lines: str) -> bytes:
    """Content stream drawing ``lines`` in Helvetica, one under the other."""
    ops = ["BT /F1 12 Tf 72 720 Td"]
    for n, line in enumerate(lines):
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(("" if n == 0 else "0 -14 Td ") + f"({escaped}) Tj")
    ops.append("ET")
    return " ".join(ops).encode("latin-1")


def make_pdf(pages: list[bytes], *, title: str | None = None) -> bytes:
    """A minimal valid PDF written by hand: one content stream per page, Helvetica font."""
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, ops in enumerate(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(ops), ops))
    info = ""
    if title is not None:
        objects.append(f"<< /Title ({title}) >>".encode("latin-1"))
        info = f" /Info {len(objects)} 0 R"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\n".encode()
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def two_page_pdf(title: str | None = "Japan-Sweden Brief") -> bytes:
    return make_pdf([_text_ops(PAGE_1), _text_ops(*PAGE_2_LINES)], title=title)


def encrypt_pdf(data: bytes, *, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    return path


def jsonl(*records: object) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def reason_of(path: Path, **kwargs: str) -> str:
    with pytest.raises(LoaderError) as caught:
        load_file(path, **kwargs)
    assert "\n" not in str(caught.value), "loader errors are one line"
    assert caught.value.path == str(path)
    return caught.value.reason


def split(items: Iterable[Document | LoadFailure]) -> tuple[list[Document], list[LoadFailure]]:
    documents: list[Document] = []
    failures: list[LoadFailure] = []
    for item in items:
        if isinstance(item, LoadFailure):
            failures.append(item)
        else:
            documents.append(item)
    return documents, failures


# --- plain text and Markdown ------------------------------------------------------------------


def test_supported_suffixes() -> None:
    assert {
        ".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".jsonl", ".docx", ".rtf", ".odt"
    } == SUPPORTED_SUFFIXES  # fmt: skip


def test_txt_keeps_text_exactly_except_crlf(tmp_path: Path) -> None:
    raw = "\ufeffJapan and Sweden\r\n\r\n  Indented line\twith tab.  \r\nLone \r stays.\n"
    path = write(tmp_path / "note.txt", raw.encode("utf-8"))
    [doc] = load_file(path)
    assert doc.text == "Japan and Sweden\n\n  Indented line\twith tab.  \nLone \r stays.\n"
    assert doc.id == "note.txt"
    assert doc.title == "Japan and Sweden"
    assert doc.source == "note.txt"  # the file's name, not the path as typed
    assert doc.page_starts is None
    assert doc.date is None


def test_txt_explicit_doc_id_and_long_first_line_gives_stem_title(tmp_path: Path) -> None:
    path = write(tmp_path / "long-line.txt", "x" * 201 + "\nsecond line\n")
    [doc] = load_file(path, doc_id="custom-id")
    assert doc.id == "custom-id"
    assert doc.title == "long-line"


def test_txt_title_skips_blank_lines_and_accepts_200_chars(tmp_path: Path) -> None:
    first = "T" * 200
    [doc] = load_file(write(tmp_path / "a.txt", f"\n   \n  {first}  \nBody.\n"))
    assert doc.title == first


def test_markdown_is_kept_as_written_title_without_hashes(tmp_path: Path) -> None:
    raw = "# Sweden joins NATO\n\nSweden became the **32nd** member on 7 March 2024.\n"
    for name in ("brief.md", "brief.markdown"):
        [doc] = load_file(write(tmp_path / name, raw))
        assert doc.text == raw
        assert doc.title == "Sweden joins NATO"


def test_non_utf8_text_falls_back_to_cp1252(tmp_path: Path) -> None:
    path = write(tmp_path / "legacy.txt", "Caf\xe9 \u201cquoted\u201d \u2014 ok.".encode("cp1252"))
    [doc] = load_file(path)
    assert doc.text == "Café “quoted” — ok."


def test_text_of_uncertain_encoding_is_refused_not_stored_as_mojibake(tmp_path: Path) -> None:
    # 0x81 is undefined in cp1252: no decoding of these bytes can be trusted.
    data = b"Viele Gr\xfc\xdfe \x81 aus K\xf6ln und Stockholm."
    with pytest.raises(LoaderError, match=r"encoding uncertain.*save the file as UTF-8"):
        load_file(write(tmp_path / "odd.txt", data))
    short = "Привет".encode("cp1251")  # too short to tell cp1251 from Big5 or Shift JIS
    with pytest.raises(LoaderError, match="encoding uncertain"):
        load_file(write(tmp_path / "short.txt", short))


def test_cp1251_russian_is_detected_and_stored_correctly(tmp_path: Path) -> None:
    text = (
        "Министерство иностранных дел Российской Федерации заявило, что переговоры о "
        "сотрудничестве продолжатся в следующем месяце. Стороны подписали меморандум."
    )
    [doc] = load_file(write(tmp_path / "mid.txt", text.encode("cp1251")))
    assert doc.text == text
    [again] = load_file(write(tmp_path / "koi8.txt", text.encode("koi8_r")))
    assert again.text == text


def test_utf16_with_bom_is_text(tmp_path: Path) -> None:
    path = write(tmp_path / "wide.txt", "Tokyo–Stockholm\r\nLine two\r\n".encode("utf-16"))
    [doc] = load_file(path)
    assert doc.text == "Tokyo–Stockholm\nLine two\n"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"   \n\t\r\n  ", "empty file"),
        ("\ufeff \n".encode(), "empty file"),
        (b"\x00", "binary file, not text"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00text after header", "binary file, not text"),
        (bytes(range(1, 9)) * 40 + b"a little text", "binary file, not text"),
    ],
    ids=["empty", "whitespace", "bom-whitespace", "nul", "zip-header", "control-chars"],
)
def test_bad_text_files(tmp_path: Path, data: bytes, reason: str) -> None:
    for name in ("bad.txt", "bad.md"):
        assert reason_of(write(tmp_path / name, data)) == reason


def test_missing_file(tmp_path: Path) -> None:
    assert "No such file or directory" in reason_of(tmp_path / "absent.txt")


def test_dangling_symlink_is_unreadable(tmp_path: Path) -> None:
    link = tmp_path / "dangling.txt"
    link.symlink_to(tmp_path / "nowhere.txt")
    assert reason_of(link).startswith("cannot read file: No such file or directory")


def test_directory_named_like_a_file_is_unreadable(tmp_path: Path) -> None:
    for name in ("x.txt", "plain-folder"):
        folder = tmp_path / name
        folder.mkdir()
        assert reason_of(folder) == "is a directory; load folders with iter_documents"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of permissions")
def test_permission_denied(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.txt", "hidden")
    path.chmod(0)
    try:
        assert "Permission denied" in reason_of(path)
    finally:
        path.chmod(0o600)


def test_invalid_document_id_becomes_loader_error(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.txt", "Fine text.")
    reason = reason_of(path, doc_id="bad\x07id")
    assert reason.startswith("invalid document (id:")


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = write(tmp_path / "report.xyz", b"PK\x03\x04")
    with pytest.raises(UnsupportedFileTypeError) as caught:
        load_file(path)
    assert "unsupported file type '.xyz'" in caught.value.reason
    assert ".pdf" in caught.value.reason and ".docx" in caught.value.reason
    with pytest.raises(UnsupportedFileTypeError, match=r"'\.doc': .*save it as \.docx"):
        load_file(write(tmp_path / "legacy.doc", b"\xd0\xcf\x11\xe0"))
    with pytest.raises(UnsupportedFileTypeError, match="without a suffix"):
        load_file(write(tmp_path / "README", "text"))


def test_suffix_is_case_insensitive(tmp_path: Path) -> None:
    [doc] = load_file(write(tmp_path / "UPPER.TXT", "Upper-case suffix."))
    assert doc.text == "Upper-case suffix."


# --- HTML --------------------------------------------------------------------------------------

ARTICLE_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Japan and Sweden deepen ties | Example News</title></head>
<body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/about">About us</a></nav>
<article>
<h1>Japan and Sweden deepen ties</h1>
<p>Japan and Sweden signed a defence equipment agreement in December 2022.</p>
<p>The agreement covers technology transfer and joint research, officials said.</p>
<table><tr><td>Year</td><td>Event</td></tr><tr><td>2022</td><td>Agreement</td></tr></table>
</article>
<footer>Copyright 2024 Example News. All rights reserved.</footer>
</body></html>
"""


def test_html_main_text_only(tmp_path: Path) -> None:
    for name in ("page.html", "page.htm"):
        path = write(tmp_path / name, ARTICLE_HTML)
        [doc] = load_file(path)
        assert doc.text == (
            "Japan and Sweden deepen ties\n"
            "Japan and Sweden signed a defence equipment agreement in December 2022.\n"
            "The agreement covers technology transfer and joint research, officials said.\n"
            "| Year | Event | \n"
            "| 2022 | Agreement |"
        )
        assert doc.title == "Japan and Sweden deepen ties"
        assert doc.id == name
        assert "Copyright" not in doc.text and "About us" not in doc.text


def test_html_without_title_uses_stem(tmp_path: Path) -> None:
    html = "<html><body><div>Sweden ratified the accession protocol.</div></body></html>"
    [doc] = load_file(write(tmp_path / "no-title.html", html))
    assert doc.text == "Sweden ratified the accession protocol."
    assert doc.title == "no-title"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b" \n ", "empty file"),
        (b"<html><head><title>Only a title</title></head><body></body></html>", None),
        (b"\x00\x01\x02\xff garbage", None),
    ],
    ids=["empty", "whitespace", "no-body", "not-html"],
)
def test_bad_html(tmp_path: Path, data: bytes, reason: str | None) -> None:
    assert reason_of(write(tmp_path / "bad.html", data)) == (reason or "no main text found")


# --- PDF ---------------------------------------------------------------------------------------


def test_handmade_pdf_is_readable_by_pypdf() -> None:
    reader = PdfReader(io.BytesIO(two_page_pdf()), strict=True)
    assert [page.extract_text() for page in reader.pages] == [PAGE_1, "\n".join(PAGE_2_LINES)]


def test_pdf_pages_are_kept(tmp_path: Path) -> None:
    path = write(tmp_path / "brief.pdf", two_page_pdf())
    [doc] = load_file(path)
    page_2 = "\n".join(PAGE_2_LINES)
    assert doc.text == f"{PAGE_1}\n\n{page_2}"
    assert doc.page_starts == [0, len(PAGE_1) + 2]
    assert doc.text[doc.page_starts[1] :] == page_2
    assert doc.title == "Japan-Sweden Brief"
    assert doc.id == "brief.pdf"
    assert doc.page_of(doc.text.index("NATO")) == 2
    assert doc.page_of(0) == 1


def test_pdf_without_title_uses_stem_and_keeps_empty_pages(tmp_path: Path) -> None:
    data = make_pdf([_text_ops(PAGE_1), b"0 0 m 100 100 l S", _text_ops("Last page.")])
    [doc] = load_file(write(tmp_path / "untitled.pdf", data))
    assert doc.title == "untitled"
    assert doc.text == f"{PAGE_1}\n\n\n\nLast page."
    assert doc.page_starts == [0, len(PAGE_1) + 2, len(PAGE_1) + 4]
    assert doc.page_of(doc.text.index("Last")) == 3


def test_encrypted_pdf_needs_decryption(tmp_path: Path) -> None:
    path = write(tmp_path / "locked.pdf", encrypt_pdf(two_page_pdf(), user_password="s3cret"))
    assert reason_of(path) == "encrypted PDF; decrypt it first"


def test_pdf_encrypted_with_empty_password_opens(tmp_path: Path) -> None:
    path = write(tmp_path / "owner-only.pdf", encrypt_pdf(two_page_pdf(), user_password=""))
    [doc] = load_file(path)
    assert doc.text.startswith(PAGE_1 + "\n\n")


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.4\nthis is not a pdf at all\n", b"not even a header", two_page_pdf()[:60]],
    ids=["garbage-body", "no-header", "truncated"],
)
def test_corrupt_pdf(tmp_path: Path, data: bytes) -> None:
    assert reason_of(write(tmp_path / "broken.pdf", data)).startswith("corrupt or unreadable PDF: ")


def test_pdf_without_text(tmp_path: Path) -> None:
    path = write(tmp_path / "scan.pdf", make_pdf([b"0 0 m 100 100 l S", b""]))
    assert reason_of(path).startswith("PDF has no extractable text (scanned?)")


def test_empty_pdf(tmp_path: Path) -> None:
    assert reason_of(write(tmp_path / "zero.pdf", b"")) == "empty file"


# --- JSONL -------------------------------------------------------------------------------------


def test_fixture_corpus_records() -> None:
    docs = load_file(FIXTURE_CORPUS)
    assert [d.id for d in docs] == [
        "ungdc:SWE_77_2022",
        "ungdc:JPN_77_2022",
        "hsg:rdcr:articles/sweden",
    ]
    swe, jpn, hsg = docs
    assert swe.title == "SWE statement, UN General Debate session 77 (2022)"
    assert swe.source == "UN General Debate Corpus (UNGDC)"
    assert swe.date == "2022-09"
    assert swe.metadata == {"country": "SWE", "session": 77}
    assert swe.text.startswith("Times of crisis require the best of us.")
    assert jpn.metadata == {"country": "JPN", "session": 77}
    assert hsg.date is None and hsg.metadata == {}
    assert hsg.source.startswith("U.S. Department of State, Office of the Historian")
    raw = [json.loads(line) for line in FIXTURE_CORPUS.read_text(encoding="utf-8").splitlines()]
    # the one line break inside a sentence ("being" / "tested") is joined; nothing else changes
    texts = [r["text"].replace("being\ntested", "being tested") for r in raw]
    assert [d.text for d in docs] == texts
    assert all(len(d.text) <= 3000 for d in docs)


def test_jsonl_bad_records_are_reported_by_line(tmp_path: Path) -> None:
    content = jsonl(
        {"id": "a", "text": "First good record."},
        "{not json",
        "",
        {"text": "no id here"},
        {"id": "c"},
        ["a", "list"],
        {"id": "d", "text": "   "},
        {"id": "e", "text": 42},
        {"id": "f", "text": "Last good record.", "title": "F"},
    )
    path = write(tmp_path / "corpus.jsonl", content)
    docs, failures = split(iter_jsonl(path))
    assert [d.id for d in docs] == ["a", "f"]
    assert docs[1].title == "F"
    assert docs[0].source == "corpus.jsonl"  # no 'source' field: the file's name
    assert [(f.record, f.path) for f in failures] == [(n, str(path)) for n in (2, 4, 5, 6, 7, 8)]
    reasons = [f.reason for f in failures]
    assert reasons[0].startswith("invalid JSON: ")
    assert reasons[1] == "missing 'id'"
    assert reasons[2] == "missing 'text'"
    assert reasons[3] == "record is a JSON list, expected an object"
    assert reasons[4].startswith("invalid document (text:")
    assert reasons[5] == "'text' must be a string, not int"


def test_load_file_jsonl_is_strict_and_names_lines(tmp_path: Path) -> None:
    content = jsonl({"id": "a", "text": "ok"}, "{oops", {"id": "b"})
    reason = reason_of(write(tmp_path / "mixed.jsonl", content))
    assert reason.startswith("2 bad record(s) at line(s) 2, 3; line 2: invalid JSON")


def test_jsonl_metadata_date_and_ids(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    content = jsonl(
        {
            "id": 7,
            "text": "Numeric id.",
            "date": "2022-12-05T10:00:00Z",
            "country": "SWE",
            "session": 77,
            "score": 0.5,
            "official": True,
            "tags": ["a", "b"],
            "extra": None,
            "nested": {"x": 1},
            "metadata": {"lang": "en"},
        },
        {"id": "no-date", "text": "Bad date.", "date": "sometime in spring"},
        {"id": "bad-id", "text": "x", "title": 3},
    )
    with caplog.at_level(logging.WARNING, logger="rag.loaders"):
        docs, failures = split(iter_jsonl(write(tmp_path / "meta.jsonl", content)))
    first, second = docs
    assert first.id == "7"
    assert first.date == "2022-12-05"
    assert first.metadata == {
        "country": "SWE",
        "session": 77,
        "score": 0.5,
        "official": True,
        "lang": "en",
    }
    assert second.date is None
    assert "sometime in spring" in caplog.text and ":2:" in caplog.text
    [failure] = failures
    assert (failure.record, failure.reason) == (3, "'title' must be a string, not int")


def test_jsonl_duplicate_and_overlong_ids(tmp_path: Path) -> None:
    content = jsonl(
        {"id": "same", "text": "one"}, {"id": "same", "text": "two"}, {"id": "x" * 600, "text": "t"}
    )
    path = write(tmp_path / "dups.jsonl", content)
    reason = reason_of(path)
    assert reason.startswith("2 bad record(s) at line(s) 2, 3; line 2: duplicate document id")
    docs, failures = split(iter_documents([path]))
    assert [d.text for d in docs] == ["one"]
    assert [f.record for f in failures] == [2, 3]
    assert "already loaded from" in failures[0].reason
    assert failures[1].reason.startswith("invalid document (id:")


@pytest.mark.parametrize("content", [b"", b"\n  \n\n"], ids=["empty", "blank-lines"])
def test_empty_jsonl(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path / "empty.jsonl", content)
    assert list(iter_jsonl(path)) == [LoadFailure(path=str(path), reason="empty file")]
    assert reason_of(path) == "empty file"


def test_unreadable_jsonl_yields_one_failure(tmp_path: Path) -> None:
    folder = tmp_path / "dir.jsonl"
    folder.mkdir()
    assert list(iter_jsonl(folder)) == [
        LoadFailure(path=str(folder), reason="cannot read file: Is a directory")
    ]
    [failure] = split(iter_jsonl(tmp_path / "missing.jsonl"))[1]
    assert failure.record is None
    assert "No such file or directory" in failure.reason


def test_jsonl_bom_crlf_and_bad_utf8(tmp_path: Path) -> None:
    good = json.dumps({"id": "a", "text": "Stockholm"}).encode()
    path = write(tmp_path / "crlf.jsonl", b"\xef\xbb\xbf" + good + b"\r\n" + b'{"id": "\xff"}\r\n')
    docs, failures = split(iter_jsonl(path))
    assert [d.text for d in docs] == ["Stockholm"]
    assert failures[0].record == 2 and failures[0].reason.startswith("not UTF-8")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022", "2022"),
        ("2022-09", "2022-09"),
        ("2022-9", "2022-09"),
        ("2022-12-05", "2022-12-05"),
        ("2022/12/5", "2022-12-05"),
        ("2024-03-07T12:00:00+01:00", "2024-03-07"),
        ("2024-03-07 12:00", "2024-03-07"),
        (2024, "2024"),
        (" 2020 ", "2020"),
        ("2022-13", None),
        ("2023-02-30", None),
        ("March 2024", None),
        ("20220905", None),
        (2022.5, None),
        (True, None),
        ("2024-03T10:00", None),
    ],
)
def test_normalise_date(value: object, expected: str | None) -> None:
    assert normalise_date(value) == expected


# --- load_bytes --------------------------------------------------------------------------------


def test_load_bytes_formats() -> None:
    [txt] = load_bytes("../../uploads/Note.TXT", b"Title line\r\nBody.\r\n")
    assert (txt.id, txt.source, txt.title, txt.text) == (
        "Note.TXT",
        "Note.TXT",
        "Title line",
        "Title line\nBody.\n",
    )
    [pdf] = load_bytes("C:\\docs\\brief.pdf", two_page_pdf(title=None), doc_id="pdf-1")
    assert (pdf.id, pdf.title, pdf.page_starts) == ("pdf-1", "brief", [0, len(PAGE_1) + 2])
    [html] = load_bytes("page.html", ARTICLE_HTML.encode())
    assert html.title == "Japan and Sweden deepen ties"
    docs = load_bytes("corpus.jsonl", FIXTURE_CORPUS.read_bytes())
    assert len(docs) == 3 and docs[0].metadata["country"] == "SWE"


def test_load_bytes_errors() -> None:
    with pytest.raises(UnsupportedFileTypeError):
        load_bytes("slides.pptx", b"data")
    with pytest.raises(UnsupportedFileTypeError):
        load_bytes("", b"data")
    with pytest.raises(LoaderError, match=r"^upload\.txt: empty file$"):
        load_bytes("upload.txt", b"  ")
    with pytest.raises(LoaderError, match="encrypted PDF; decrypt it first"):
        load_bytes("x.pdf", encrypt_pdf(two_page_pdf(), user_password="pw"))
    bad = jsonl({"id": "a", "text": "fine"}, {"id": "b"}, "[1]")
    with pytest.raises(LoaderError) as caught:
        load_bytes("up.jsonl", bad.encode())
    assert not isinstance(caught.value, UnsupportedFileTypeError)
    assert caught.value.reason.startswith("2 bad record(s) at line(s) 2, 3; line 2: missing 'text'")


# --- iter_documents ----------------------------------------------------------------------------


def test_directory_recursion_with_a_bad_file_in_the_middle(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    write(root / "a-first.txt", "Alpha text.")
    write(root / "b-sub" / "inner.md", "# Inner\n\nBody.")
    write(root / "b-sub" / "zz.htm", ARTICLE_HTML)
    write(root / "c-broken.pdf", b"%PDF-1.4\ngarbage")
    write(root / "d-paper.pdf", two_page_pdf())
    write(root / "e-records.jsonl", jsonl({"id": "r1", "text": "Record one."}, "{bad"))
    write(root / "f-empty.txt", "")
    write(root / "g-last.txt", "Omega text.")
    write(root / "notes.doc", b"\xd0\xcf\x11\xe0")  # unsupported: reported as skipped
    write(root / "Makefile", "all:")  # no suffix: reported as skipped
    write(root / ".hidden.txt", "hidden file")
    write(root / ".git" / "config.txt", "hidden dir")
    (root / "loop").symlink_to(root)  # a cycle must not recurse forever

    items = list(iter_documents([root]))
    docs, failures = split(items)
    assert [d.id for d in docs] == [
        "a-first.txt",
        "b-sub/inner.md",
        "b-sub/zz.htm",
        "d-paper.pdf",
        "r1",
        "g-last.txt",
    ]
    assert docs[0].source == "a-first.txt"  # the path under the folder walked
    assert docs[1].source == "b-sub/inner.md"
    assert docs[1].title == "Inner"
    assert docs[3].page_starts == [0, len(PAGE_1) + 2]
    assert [(Path(f.path).name, f.record, f.skipped) for f in failures] == [
        ("Makefile", None, True),
        ("c-broken.pdf", None, False),
        ("e-records.jsonl", 2, False),
        ("f-empty.txt", None, False),
        ("notes.doc", None, True),
    ]
    assert failures[3].reason == "empty file"
    assert "save it as .docx" in failures[4].reason
    # failures come in file order, interleaved with documents
    assert [type(i).__name__ for i in items][3:7] == [
        "Document",
        "LoadFailure",
        "Document",
        "Document",
    ]


def test_iter_files_lists_without_reading_in_reading_order(tmp_path: Path) -> None:
    from rag.loaders.discovery import iter_files

    root = tmp_path / "corpus"
    write(root / "b" / "inner.txt", b"\xff\xfe not even text")  # listed, never read
    write(root / "a.jsonl", "{bad")
    write(root / ".hidden" / "x.txt", "hidden")
    (root / "b" / "loop").symlink_to(root)
    alone = write(tmp_path / "alone.md", "# Alone")
    listed = list(iter_files([root, alone]))
    assert listed == [
        (root / "a.jsonl", "a.jsonl"),
        (root / "b" / "inner.txt", "b/inner.txt"),
        (alone, "alone.md"),
    ]
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        entries = list(iter_files([locked]))
    finally:
        locked.chmod(0o755)
    if os.geteuid() == 0:  # root lists any folder: this one is empty
        assert entries == []
    else:
        [failure] = entries
        assert isinstance(failure, LoadFailure) and "cannot list directory" in failure.reason


def test_explicit_files_use_their_names_and_report_problems(tmp_path: Path) -> None:
    good = write(tmp_path / "sub" / "good.txt", "Good text.")
    unsupported = write(tmp_path / "deck.pptx", b"data")
    missing = tmp_path / "missing.md"
    hidden = write(tmp_path / ".hidden.txt", "Explicit hidden files load.")
    docs, failures = split(iter_documents([good, unsupported, missing, hidden]))
    assert [(d.id, d.source) for d in docs] == [
        ("good.txt", "good.txt"),
        (".hidden.txt", ".hidden.txt"),
    ]
    assert [f.path for f in failures] == [str(unsupported), str(missing)]
    assert failures[0].reason.startswith("unsupported file type '.pptx'")
    assert "No such file or directory" in failures[1].reason


def test_duplicate_ids_across_inputs(tmp_path: Path) -> None:
    first = write(tmp_path / "one" / "same.txt", "First.")
    second = write(tmp_path / "two" / "same.txt", "Second.")
    docs, failures = split(iter_documents([first, second]))
    assert [d.text for d in docs] == ["First."]
    [failure] = failures
    assert failure.path == str(second)
    assert failure.reason.startswith("duplicate document id 'same.txt'")


def test_iter_documents_is_lazy(tmp_path: Path) -> None:
    first = write(tmp_path / "first.txt", "First.")
    later = tmp_path / "later.txt"
    stream = iter_documents([first, later])
    assert isinstance(next(stream), Document)
    write(later, "Created after the first document was read.")
    second = next(stream)
    assert isinstance(second, Document) and second.id == "later.txt"
    assert next(stream, None) is None


# --- real files --------------------------------------------------------------------------------


def test_sample_article() -> None:
    [doc] = load_file(ARTICLE)
    assert doc.id == "japan-sweden-security-cooperation.txt"
    assert doc.text == ARTICLE.read_text(encoding="utf-8").replace("\r\n", "\n")
    assert doc.text.startswith("Japan’s increasingly assertive foreign policy")
    assert "December 2022" in doc.text
    assert doc.title == "japan-sweden-security-cooperation"  # first line is a long paragraph


@pytest.mark.skipif(not SHARED_UN_CORPUS.exists(), reason="../shared corpora not present")
def test_first_records_of_the_un_corpus(tmp_path: Path) -> None:
    lines = []
    with SHARED_UN_CORPUS.open(encoding="utf-8") as handle:
        for _ in range(5):
            lines.append(handle.readline())
    copy = write(tmp_path / "un.jsonl", "".join(lines))
    docs, failures = split(iter_documents([copy]))
    assert failures == []
    raw = [json.loads(line) for line in lines]
    assert [d.id for d in docs] == [r["id"] for r in raw]
    for doc, record in zip(docs, raw, strict=True):
        assert doc.text == record["text"]
        assert doc.date == record["date"]
        assert doc.metadata == {"country": record["country"], "session": record["session"]}


def test_shared_corpus_copy_survives_directory_walk(tmp_path: Path) -> None:
    shutil.copy(FIXTURE_CORPUS, tmp_path / "mixed_corpus.jsonl")
    write(tmp_path / "article.txt", ARTICLE.read_bytes())
    docs, failures = split(iter_documents([tmp_path]))
    assert failures == []
    assert [d.id for d in docs] == [
        "article.txt",
        "ungdc:SWE_77_2022",
        "ungdc:JPN_77_2022",
        "hsg:rdcr:articles/sweden",
    ]


# --- hostile files: one bad file is one failed file (issue 28) --------------------------------


def odt_bytes(body: str) -> bytes:
    """A minimal .odt whose office:text holds ``body`` (ODF text markup)."""
    import zipfile

    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">'
        f"<office:body><office:text>{body}</office:text></office:body></office:document-content>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
    return buffer.getvalue()


def test_odt_spaces_and_nesting_still_read() -> None:
    body = '<text:p>Two<text:s text:c="3"/>words<text:span> and <text:span>a span</text:span>'
    body += "</text:span> end.</text:p>"
    [doc] = load_bytes("note.odt", odt_bytes(body))
    assert doc.text == "Two   words and a span end."


@pytest.mark.parametrize(
    ("count", "reason"),
    [
        ("1500000000", "expand to more than"),  # 396 bytes asking for 1.5 G characters
        ("100000000000000000000", "expand to more than"),  # was OverflowError
        ("1e20", "not a whole number"),
        ("-3", "not a whole number"),
    ],
)
def test_odt_space_counts_are_capped_and_checked(count: str, reason: str) -> None:
    data = odt_bytes(f'<text:p>a<text:s text:c="{count}"/>b</text:p>')
    assert len(data) < 600
    with pytest.raises(LoaderError, match=reason):
        load_bytes("bomb.odt", data)


@pytest.mark.parametrize("tag", ["text:span", "text:section"])
def test_odt_nested_5000_deep_is_read_without_recursion(tag: str) -> None:
    inner = "<text:p>Deep text.</text:p>" if tag == "text:section" else "Deep text."
    body = f"<{tag}>" * 5000 + inner + f"</{tag}>" * 5000  # was RecursionError
    if tag == "text:span":
        body = f"<text:p>{body}</text:p>"
    [doc] = load_bytes("deep.odt", odt_bytes(body))
    assert doc.text == "Deep text."


def test_jsonl_lone_surrogate_fails_its_record_only(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.jsonl",
        '{"id": "bad", "text": "broken \\ud800 text."}\n'
        '{"id": "key", "text": "Fine.", "\\udfff": 1}\n'
        '{"id": "good", "text": "Sweden joined NATO in 2024."}\n',
    )
    docs, failures = split(iter_jsonl(path))
    assert [d.id for d in docs] == ["good"]
    assert [f.record for f in failures] == [1, 2]
    assert "lone surrogate (U+D800)" in failures[0].reason
    assert "metadata key" in failures[1].reason


def test_any_parser_exception_is_that_files_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RecursionError, MemoryError, OverflowError, UnicodeError, ValueError from a parser: the
    file fails with a one-line reason, the good file beside it is read."""
    from rag.loaders import text as text_loader

    real = text_loader.parse_text
    raised = iter([RecursionError("deep"), MemoryError(), OverflowError("big"), ValueError("v")])

    def flaky(label: str, data: bytes, **kwargs: object) -> Document:
        if label.endswith("bad.md"):
            raise next(raised)
        return real(label, data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("rag.loaders.files.parse_text", flaky)
    write(tmp_path / "bad.md", "# Bad")
    write(tmp_path / "good.txt", "Good text.")
    reasons = []
    for _ in range(4):
        docs, failures = split(iter_documents([tmp_path]))
        assert [d.id for d in docs] == ["good.txt"]
        [failure] = failures
        assert "\n" not in failure.reason
        reasons.append(failure.reason)
    assert reasons[0] == "the file is nested too deeply to read"
    assert "more memory" in reasons[1]
    assert reasons[2] == "unreadable content (OverflowError: big)"


def test_folder_with_a_hostile_odt_and_a_good_txt(tmp_path: Path) -> None:
    huge = '<text:p>a<text:s text:c="100000000000000000000"/></text:p>'  # was OverflowError
    write(tmp_path / "a-huge.odt", odt_bytes(huge))
    deep = "<text:section>" * 5000 + '<text:p><text:s text:c="x"/></text:p>'
    write(tmp_path / "b-deep.odt", odt_bytes(deep + "</text:section>" * 5000))
    write(tmp_path / "c-good.txt", "Norway hosted the talks in 2021.")
    docs, failures = split(iter_documents([tmp_path]))
    assert [d.id for d in docs] == ["c-good.txt"]
    assert [Path(f.path).name for f in failures] == ["a-huge.odt", "b-deep.odt"]
    assert all("OpenDocument" in f.reason for f in failures)
