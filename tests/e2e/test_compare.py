"""Comparisons as users run them: `rag compare` as a process (text, CSV, JSON, progress, bad
input) and `POST /compare` on a real `rag serve` (whole and streamed as NDJSON), over the
article plus the fixture statements of Sweden and Japan (session 77)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.compare_export import CSV_COLUMNS
from rag.loaders import iter_documents
from rag.settings import Settings
from rag.system import QASystem
from tests.e2e.test_service_process import Server
from tests.processes import run_rag, serving_a_copy

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
QUESTION = "What did Sweden say about Russia's war against Ukraine?"


@pytest.fixture(scope="module")
def statements_index(
    article_index: Settings, index_copier: Any, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    folder = index_copier(article_index.index_dir, tmp_path_factory.mktemp("compare") / "index")
    settings = article_index.model_copy(update={"index_dir": folder})
    report = QASystem.build(
        settings,
        iter_documents([FIXTURES / "mixed_corpus.jsonl", FIXTURES / "offdomain_statements.jsonl"]),
    )
    assert report.added == 6
    return Path(folder)


def test_csv_has_one_line_per_group(statements_index: Path) -> None:
    result = run_rag(
        "compare", QUESTION, "--by", "country", "--filter", "session=77",
        "--groups", "SWE,JPN,Finland", "--csv", "--index", statements_index,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == ",".join(CSV_COLUMNS)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["group"] for r in rows] == ["SWE", "JPN", "FIN"]
    assert rows[2]["status"] == "no_documents" and rows[2]["label"] == "Finland (FIN)"
    for row in rows[:2]:
        assert row["status"] in ("answered", "declined")
        if row["status"] == "answered":
            assert row["citation_doc_ids"] == f"ungdc:{row['group']}_77_2022"
            start, end = (int(x) for x in row["citation_spans"].split(" | ")[0].split("-"))
            assert end > start and row["citation_quotes"]
    assert any(r["status"] == "answered" for r in rows)


def test_json_text_and_progress(statements_index: Path) -> None:
    result = run_rag(
        "compare", QUESTION, "--by", "country", "--json", "--progress",
        "--index", statements_index,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    table = json.loads(result.stdout)
    assert table["by"] == "country" and table["groups_total"] == 2
    assert sorted([r["group"] for r in table["rows"]] + table["declined"]) == ["JPN", "SWE"]
    assert "groups" in result.stderr and "2/2" in result.stderr  # the progress bar
    text = run_rag("compare", QUESTION, "--by", "session", "--index", statements_index)
    assert text.returncode == 0, text.stderr
    assert "(by session)" in text.stdout and "groups answer" in text.stdout


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--by", "colour"], {}, "no document carries the key 'colour'"),
        (["--by", "date_from"], {}, "cannot group by 'date_from'"),
        (["--by", "country", "--groups", ","], {}, "--groups names no group"),
        (["--by", "country"], {"RAG_COMPARE_MAX_GROUPS": "1"}, "the limit is 1"),
        (["--by", "country", "--filter", "contry=SWE"], {}, "unknown filter key"),
    ],
)
def test_bad_input_exits_4(
    statements_index: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    result = run_rag("compare", QUESTION, *args, "--index", statements_index, env=env)
    assert result.returncode == 4, (result.stdout, result.stderr)
    assert message in result.stderr and "hint:" in result.stderr


def test_arguments_that_are_not_utf8(statements_index: Path) -> None:
    groups = run_rag("compare", QUESTION, "--by", "country", "--groups", b"SWE,\xff", "--index",
                     statements_index)  # fmt: skip
    assert groups.returncode == 2 and "not UTF-8" in groups.stderr
    key = run_rag("compare", QUESTION, "--by", b"\xff", "--index", statements_index)
    assert key.returncode == 4 and "cannot group by" in key.stderr
    question = run_rag("compare", b"\xff what?", "--by", "country", "--index", statements_index)
    assert question.returncode == 4 and "UTF-8" in question.stderr


def test_an_empty_question_and_a_missing_key(statements_index: Path) -> None:
    empty = run_rag("compare", "  ", "--by", "country", "--index", statements_index)
    assert empty.returncode == 4 and "question is empty" in empty.stderr
    usage = run_rag("compare", QUESTION, "--index", statements_index)
    assert usage.returncode == 2 and "--by" in usage.stderr


# --- POST /compare on a real server ----------------------------------------------------------
@pytest.fixture(scope="module")
def server(
    statements_index: Path, index_copier: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("compare-serve")
    with serving_a_copy(statements_index, index_copier, base, Server) as running:
        yield running


def test_post_compare_is_the_table(server: Server, statements_index: Path) -> None:
    body = {"question": QUESTION, "by": "country", "groups": ["SWE", "JPN", "XYZ"]}
    r = server.http.post("/compare", json=body)
    assert r.status_code == 200, r.text
    table = r.json()
    assert [row["group"] for row in table["rows"]] == ["SWE", "JPN", "XYZ"]
    assert table["rows"][2]["status"] == "no_documents"
    with QASystem.open(Settings(index_dir=statements_index)) as qa:  # the CLI's and Python's
        same = qa.compare(QUESTION, by="country", groups=["SWE", "JPN", "XYZ"])
    assert [row["answer"] and row["answer"]["answer"] for row in table["rows"]] == [
        row.answer and row.answer.answer for row in same.rows
    ]


def test_post_compare_streams_ndjson(server: Server) -> None:
    body = {"question": QUESTION, "by": "country", "filters": {"session": 77}}
    with server.http.stream("POST", "/compare?stream=true", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        events = [json.loads(line) for line in r.iter_lines() if line.strip()]
    kinds = [e["event"] for e in events]
    assert kinds == ["plan", "row", "row", "done"], kinds
    assert events[0]["total"] == 2 and [e["done"] for e in events[1:3]] == [1, 2]
    rows = {e["row"]["group"]: e["row"] for e in events[1:3]}
    assert set(rows) == {"JPN", "SWE"}
    done = events[-1]
    assert sorted(done["order"] + done["declined"]) == ["JPN", "SWE"]
    assert all(rows[g]["status"] == "answered" for g in done["order"])


@pytest.mark.parametrize("stream", ["", "?stream=true"])
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"question": "Who?", "by": "colour"}, "invalid_comparison"),
        ({"question": "  ", "by": "country"}, "invalid_request"),
        ({"question": "Who?", "by": "country", "groups": []}, "invalid_comparison"),
        ({"question": "Who?", "by": "country", "filters": {"contry": "SWE"}}, "invalid_filter"),
    ],
)
def test_bad_comparisons_are_422(
    server: Server, stream: str, body: dict[str, Any], code: str
) -> None:
    r = server.http.post("/compare" + stream, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code
