"""Issue 28, text at the edges: arguments holding bytes that are not UTF-8 are a clear usage
error (exit 2 with a hint), not "unexpected UnicodeEncodeError" (exit 6); control characters
from document text or a request path are escaped on a terminal and in the access log (JSON keeps
the text as stored); ``answer_plain`` is the cited quotes even when they hold "[2][3]"."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest

from rag import cli
from rag.settings import Settings
from tests.processes import run_rag

ARTICLE_ID = "japan-sweden-security-cooperation.txt"
QUESTION = "When did Sweden join NATO?"
#: What Python makes of the argument byte 0xFF (PEP 383: a lone surrogate).
BAD = b"\xff".decode("utf-8", "surrogateescape")
#: C0 and C1 control characters (a terminal acts on them).
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["documents", "show", BAD], "document id '\\xff' is not UTF-8 text"),
        (["documents", "delete", BAD], "document id '\\xff' is not UTF-8 text"),
        (["documents", "show", "--json", "ok", "x" + BAD], "document id 'x\\xff'"),
        (["ask", QUESTION, "--filter", "doc_id=" + BAD], "filter 'doc_id=\\xff' is not UTF-8"),
        (["ask", QUESTION, "--filter", "source=" + BAD], "filter 'source=\\xff'"),
    ],
)
def test_undecodable_arguments_are_a_usage_error(
    article_index_copy: Settings,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    needle: str,
) -> None:
    code = cli.main([*args, "--index", str(article_index_copy.index_dir)])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE, err
    assert err.startswith("error: ") and needle in err, err
    assert "\nhint: give it as UTF-8 text" in err and "unexpected" not in err, err
    assert out == ""


def test_undecodable_argv_bytes_through_a_process(article_index_copy: Settings) -> None:
    index = str(article_index_copy.index_dir)
    done = run_rag("documents", "delete", b"\xff", "--index", index)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: document id '\\xff' is not UTF-8 text"), done.stderr
    assert "Traceback" not in done.stderr
    shown = run_rag("documents", "show", ARTICLE_ID, "--json", "--index", index)
    assert shown.returncode == 0, shown.stderr  # nothing was deleted


# --- terminal escapes and bracketed numbers from document text -------------------------------
ESC_TEXT = (
    "The \x1b[31mBaltic\x1b[0m defence treaty was signed in Tallinn in 1994 by three ministers. "
    "It created a joint battalion.\x9b"
)
BRACKETS_TEXT = (
    "The Nordic accord on fisheries [2][3] was ratified by Iceland in March 2019. "
    "Norway followed a year later."
)


@pytest.fixture(scope="module")
def odd_texts_index(
    article_index: Settings, index_copier: Any, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The article index plus a document holding terminal escapes and one holding "[2][3]"."""
    from rag.loaders import iter_documents
    from rag.system import QASystem

    base = tmp_path_factory.mktemp("odd-texts")
    corpus = base / "odd.jsonl"
    records = [
        {"id": "esc-doc", "title": "Baltic \x1b]0;pwned\x07note", "text": ESC_TEXT},
        {"id": "brackets-doc", "title": "Nordic accord", "text": BRACKETS_TEXT},
    ]
    corpus.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    folder = index_copier(article_index.index_dir, base / "index")
    settings = article_index.model_copy(update={"index_dir": folder})
    assert QASystem.build(settings, iter_documents([corpus])).added == 2
    return settings


def test_rag_ask_prints_no_terminal_escapes(
    odd_texts_index: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    index = ["--index", str(odd_texts_index.index_dir)]
    question = ["ask", "When was the Baltic defence treaty signed?", "--filter", "doc_id=esc-doc"]
    assert cli.main([*question, *index]) == 0
    out = capsys.readouterr().out
    assert not CONTROL.search(out.replace("\n", "")), repr(out)
    assert "\\x1b[31mBaltic\\x1b[0m defence treaty" in out and "\\x1b]0;pwned\\x07" in out

    assert cli.main([*question, *index, "--json"]) == 0  # JSON keeps the text as stored
    answer = json.loads(capsys.readouterr().out)
    assert answer["citations"][0]["quote"] in ESC_TEXT and "\x1b[31m" in answer["answer"]

    for args in (["documents", "show", "esc-doc"], ["documents", "list"]):
        assert cli.main([*args, *index]) == 0
        out = capsys.readouterr().out
        assert not CONTROL.search(out.replace("\n", "").replace("\t", "")), repr(out)
        assert "\\x1b]0;pwned\\x07note" in out
    assert cli.main(["documents", "show", "esc-doc", "--json", *index]) == 0
    assert json.loads(capsys.readouterr().out)["text"] == ESC_TEXT


def test_answer_plain_is_the_quotes_even_with_bracketed_numbers(
    odd_texts_index: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    question = "When did Iceland ratify the Nordic accord on fisheries?"
    args = ["ask", question, "--filter", "doc_id=brackets-doc", "--json"]
    assert cli.main([*args, "--index", str(odd_texts_index.index_dir)]) == 0
    answer = json.loads(capsys.readouterr().out)
    quotes = [c["quote"] for c in answer["citations"]]
    assert any("[2][3]" in q for q in quotes), answer
    assert answer["answer_plain"] == " ".join(quotes)
    assert answer["answer_plain"] == " ".join(s["text"] for s in answer["sentences"])


def test_the_access_log_escapes_control_characters_in_paths(
    article_index_copy: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from fastapi.testclient import TestClient

    from service.app import create_app

    app = create_app(article_index_copy.model_copy(update={"api_key": None}))
    with (
        caplog.at_level(logging.INFO, logger="service"),
        TestClient(app, base_url="http://127.0.0.1") as client,
    ):
        assert client.get("/documents/%1B[2J%1B]0;x%07evil%0Aforged=1").status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "service.access"]
    line = next(ln for ln in lines if "evil" in ln)
    assert not CONTROL.search(line), repr(line)
    assert '"/documents/\\u001b[2J\\u001b]0;x\\u0007evil\\nforged=1"' in line, line
    for record in caplog.records:
        assert not CONTROL.search(record.getMessage()), repr(record.getMessage())
