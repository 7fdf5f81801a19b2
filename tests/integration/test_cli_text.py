"""Issue 28, text at the command line's edges: arguments holding bytes that are not UTF-8 are a
clear usage error (exit 2 with a hint), not "unexpected UnicodeEncodeError" (exit 6)."""

from __future__ import annotations

import pytest

from rag import cli
from rag.settings import Settings
from tests.processes import run_rag

ARTICLE_ID = "japan-sweden-security-cooperation.txt"
QUESTION = "When did Sweden join NATO?"
#: What Python makes of the argument byte 0xFF (PEP 383: a lone surrogate).
BAD = b"\xff".decode("utf-8", "surrogateescape")


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
