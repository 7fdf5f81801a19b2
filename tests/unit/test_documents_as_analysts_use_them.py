"""Files as analysts ingest them: binary files named .txt, sources, dates and titles."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rag.errors import LoaderError
from rag.loaders import load_bytes, load_file


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "data",
    [
        b"&]\xea\xc1\x93ON6\x82\t\xed\xcb",  # was stored as cp1252 text
        b"\x82\xea\xc4<r\x9c@\x0c\xbb\xe40\xdc",
        b"\x89\x1bGIF\x01\x02\xfe\xfd\xa0\xa1\xa2",
    ],
)
def test_a_small_binary_file_named_txt_is_refused(tmp_path: Path, data: bytes) -> None:
    assert len(data) <= 12
    with pytest.raises(LoaderError, match="binary file, not text"):
        load_file(write(tmp_path / "blob.txt", data))


def test_random_bytes_are_never_stored_as_text() -> None:
    rng = random.Random(28)
    stored = []
    for _ in range(300):
        data = bytes(rng.randrange(256) for _ in range(rng.choice((12, 40, 300))))
        try:
            load_bytes("blob.txt", data)
        except LoaderError:
            continue
        stored.append(data)
    assert stored == []


def test_legacy_text_is_still_read(tmp_path: Path) -> None:
    [doc] = load_file(
        write(tmp_path / "a.txt", "Caf\xe9 au lait, s'il vous pla\xeet.".encode("cp1252"))
    )
    assert doc.text == "Café au lait, s'il vous plaît."


def test_source_is_not_the_path_as_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.loaders import iter_documents

    write(tmp_path / "corpus" / "2022" / "speech.txt", "Sweden applied to join NATO.")
    write(tmp_path / "corpus" / "records.jsonl", '{"id": "r1", "text": "One record."}\n')
    write(tmp_path / "elsewhere" / "note.txt", "A note.")
    monkeypatch.chdir(tmp_path / "elsewhere")
    typed = [Path("../corpus/"), Path("./../elsewhere/note.txt")]
    docs = [d for d in iter_documents(typed) if not hasattr(d, "reason")]
    assert sorted((d.id, d.source) for d in docs) == [
        ("2022/speech.txt", "2022/speech.txt"),
        ("note.txt", "note.txt"),
        ("r1", "records.jsonl"),
    ]
    [doc] = load_file(Path("../corpus/2022/speech.txt"))
    assert doc.source == "speech.txt"


# --- dates and titles read from the files --------------------------------------------------------


def _pdf_with_info(lines: list[str], info: dict[str, str]) -> bytes:
    import io

    from pypdf import PdfReader, PdfWriter

    from tests.unit.test_loaders import _text_ops, make_pdf

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([_text_ops(*lines)]))))
    if info:
        writer.add_metadata(info)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_date_and_title_from_its_metadata(tmp_path: Path) -> None:
    data = _pdf_with_info(
        ["Sweden applied to join NATO in May 2022."],
        {"/CreationDate": "D:20220518093000+02'00'", "/Title": "Application to NATO"},
    )
    [doc] = load_file(write(tmp_path / "x-2291.pdf", data))
    assert (doc.date, doc.title) == ("2022-05-18", "Application to NATO")


def test_a_pdf_without_a_title_takes_its_opening_heading(tmp_path: Path) -> None:
    data = _pdf_with_info(
        ["Nordic Defence Cooperation", "Finland and Sweden signed the accord in 2022."], {}
    )
    [doc] = load_file(write(tmp_path / "scan-0042.pdf", data))
    assert doc.title == "Nordic Defence Cooperation"
    assert doc.date is None
    # a page that opens with a sentence has no heading: the file name stays the title
    data = _pdf_with_info(["Finland and Sweden signed the accord in 2022."], {})
    [doc] = load_file(write(tmp_path / "scan-0043.pdf", data))
    assert doc.title == "scan-0043"


@pytest.mark.parametrize(
    ("head", "body", "date"),
    [
        (
            '<meta property="article:published_time" content="2022-05-18T09:30:00+02:00">',
            "",
            "2022-05-18",
        ),
        ('<meta name="date" content="2021-11-03">', "", "2021-11-03"),
        ("", '<time datetime="2020-02">February 2020</time>', "2020-02"),
        ("", "", None),
    ],
    ids=["og-published-time", "meta-date", "time-datetime", "none"],
)
def test_html_date(tmp_path: Path, head: str, body: str, date: str | None) -> None:
    paragraph = "Sweden and Finland applied to join the alliance after long debates at home. " * 4
    html = (
        f"<html><head><title>Accession</title>{head}</head><body><article><h1>Accession</h1>"
        f"<p>{body}</p><p>{paragraph}</p><p>{paragraph}</p></article></body></html>"
    )
    [doc] = load_file(write(tmp_path / "page.html", html))
    assert doc.date == date


def test_docx_date_and_title_from_its_core_properties(tmp_path: Path) -> None:
    import datetime
    import io

    import docx

    word = docx.Document()
    word.add_paragraph("Japan and Sweden agreed to share defence equipment.")
    word.core_properties.title = "Equipment agreement"
    word.core_properties.created = datetime.datetime(2023, 3, 14, 10, 0)
    buffer = io.BytesIO()
    word.save(buffer)
    [doc] = load_file(write(tmp_path / "agreement.docx", buffer.getvalue()))
    assert (doc.title, doc.date) == ("Equipment agreement", "2023-03-14")


# --- fields given at ingest ----------------------------------------------------------------------


def test_ingest_fields_are_set_on_every_document(tmp_path: Path) -> None:
    from rag.loaders import iter_documents
    from rag.loaders.overrides import DocumentFields, with_fields

    write(tmp_path / "a.txt", "A speech.")
    write(
        tmp_path / "b.jsonl", '{"id": "r", "text": "A record.", "date": "2019", "country": "FIN"}\n'
    )
    fields = DocumentFields.parse(["country=SWE", "session=77", "ratified=true"], "2021-06")
    docs = list(with_fields(iter_documents([tmp_path]), fields))
    assert [(d.id, d.date, d.metadata) for d in docs] == [
        ("a.txt", "2021-06", {"country": "SWE", "session": 77, "ratified": True}),
        ("r", "2021-06", {"country": "SWE", "session": 77, "ratified": True}),
    ]


@pytest.mark.parametrize(
    ("meta", "date", "message"),
    [
        (["country"], None, "not KEY=VALUE"),
        (["=SWE"], None, "not KEY=VALUE"),
        (["date=2020"], None, "built-in field"),
        (["a=1", "a=2"], None, "given twice"),
        ([], "last spring", "not a date"),
        ([], "2021-13", "not a date"),
    ],
)
def test_bad_ingest_fields(meta: list[str], date: str | None, message: str) -> None:
    from rag.loaders.overrides import DocumentFields

    with pytest.raises(ValueError, match=message):
        DocumentFields.parse(meta, date)


def test_rag_ingest_meta_and_date_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rag.cli import build_parser, main

    args = build_parser(with_plugins=False).parse_args(
        ["ingest", "x.txt", "--meta", "country=SWE", "--meta", "session=77", "--date", "2022"]
    )
    assert (args.meta, args.date) == (["country=SWE", "session=77"], "2022")
    code = main(["ingest", str(tmp_path), "--index", str(tmp_path / "ix"), "--meta", "country"])
    assert code == 2
    assert "not KEY=VALUE" in capsys.readouterr().err
    assert not (tmp_path / "ix").exists()


# --- one filter shape on every door --------------------------------------------------------------


def test_both_filter_shapes_make_the_same_filters() -> None:
    from service.schemas import RequestFilters

    flat = {"country": "SWE", "session": 77, "date_from": "2022", "doc_id": "a"}
    nested = {"metadata": {"country": "SWE", "session": 77}, "date_from": "2022", "doc_ids": ["a"]}
    assert RequestFilters.model_validate(flat) == RequestFilters.model_validate(nested)
    mixed = RequestFilters.model_validate({"metadata": {"country": "SWE"}, "session": 77})
    assert mixed.metadata == {"country": "SWE", "session": 77}


def test_date_from_after_date_to_is_refused() -> None:
    from index.errors import InvalidFilterError
    from rag.filters import coerce_filters

    with pytest.raises(InvalidFilterError, match="date_from 2023 is after date_to 2022-06"):
        coerce_filters({"date_from": "2023", "date_to": "2022-06"})
    assert coerce_filters({"date_from": "2022-06", "date_to": "2022"}) is not None  # June in 2022
