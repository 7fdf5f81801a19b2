"""CLI items of the workbench: --version, stdin questions, batches, broken pipes, help texts,
unknown filter keys. Real `rag` processes over a real index."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.cli import build_parser
from rag.settings import Settings
from tests.processes import run_rag as rag

QUESTION = "When did Sweden join NATO?"


def test_version() -> None:
    from importlib.metadata import version

    done = rag("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"rag {version('rag-foreign-policy')}"


def test_every_option_and_argument_has_help_text() -> None:
    parser = build_parser(with_plugins=True)
    missing: list[str] = []
    seen: list[str] = []

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, f"{path} {name}")
                continue
            name = "/".join(action.option_strings) or action.dest
            seen.append(f"{path} {name}")
            if not (action.help or "").strip():
                missing.append(f"{path} {name}")

    walk(parser, "rag")
    assert any(s.startswith("rag serve") for s in seen)  # plugins are walked too
    assert "rag ask --json" in seen and "rag ask --file" in seen
    assert not missing, f"no help text: {missing}"


def test_question_from_stdin(article_index: Settings) -> None:
    done = rag("ask", "-", "--index", article_index.index_dir, "--json", stdin=QUESTION + "\n")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["question"] == QUESTION  # not "-"
    assert answer["passages"] and "Sweden" in answer["passages"][0]["text"]


def test_batch_of_questions_as_jsonl(article_index: Settings, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        "\n".join(
            [
                json.dumps({"id": "a", "question": QUESTION}),
                json.dumps({"id": "b", "question": "   "}),
                "",
                json.dumps("Who commented on Japan?"),
                json.dumps({"id": "d", "question": QUESTION, "filters": {"contry": "ALB"}}),
                json.dumps({"id": "e", "question": QUESTION, "k": 2}),
                json.dumps({"id": "f", "question": QUESTION, "mode": "DENSE"}),
                json.dumps({"id": "g", "question": QUESTION, "filters": {"doc_id": 5}}),
            ]
        ),
        encoding="utf-8",
    )
    done = rag(
        "ask", "--file", questions, "--json", "--index", article_index.index_dir, "--progress"
    )
    assert done.returncode == 1, done.stderr  # four questions could not be asked
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["line"] for r in records] == [1, 2, 4, 5, 6, 7, 8]
    assert records[0]["id"] == "a" and records[0]["question"] == QUESTION
    assert "citations" in records[0] and "answer_plain" in records[0]
    assert "empty" in records[1]["error"]
    assert records[2]["question"] == "Who commented on Japan?" and "answer" in records[2]
    assert "contry" in records[3]["error"] and "known keys" in records[3]["error"]
    assert len(records[4]["passages"]) <= 2
    assert "retrieval mode 'DENSE'" in records[5]["error"]  # not a crash of the whole batch
    assert "doc_ids" in records[6]["error"]
    assert "answered 7/7" in done.stderr and "3 answered, 4 could not be asked" in done.stderr
    assert "(q.jsonl)" in done.stderr


def test_batch_from_standard_input_is_jsonl_when_its_records_are(article_index: Settings) -> None:
    lines = json.dumps({"id": "a", "question": QUESTION}) + "\n" + json.dumps({"question": ""})
    done = rag("ask", "--file", "-", "--json", "--index", article_index.index_dir, stdin=lines)
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert records[0]["id"] == "a" and records[0]["question"] == QUESTION, records
    assert "empty" in records[1]["error"]  # the record's empty question, not its JSON text
    assert done.returncode == 1 and "(standard input)" in done.stderr


def test_batch_of_plain_lines_prints_text(article_index: Settings, tmp_path: Path) -> None:
    questions = tmp_path / "q.txt"
    questions.write_text(f"{QUESTION}\n\nWho commented on Japan?\n", encoding="utf-8")
    done = rag("ask", "--file", questions, "--index", article_index.index_dir)
    assert done.returncode == 0, done.stderr
    assert f"Q1: {QUESTION}" in done.stdout and "Q3: Who commented on Japan?" in done.stdout
    assert "2 answered, 0 could not be asked" in done.stderr


def test_broken_pipe_ends_quietly(article_index: Settings, tmp_path: Path) -> None:
    questions = tmp_path / "many.txt"
    questions.write_text(f"{QUESTION}\n" * 60, encoding="utf-8")
    err = tmp_path / "err.txt"
    script = (
        f"{sys.executable} -m rag.cli ask --file {questions} --json "
        f"--index {article_index.index_dir} 2>{err} | head -n 1; echo ${{PIPESTATUS[0]}}"
    )
    done = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
    )
    lines = done.stdout.splitlines()
    assert json.loads(lines[0])["question"] == QUESTION
    assert lines[-1] == "141"
    stderr = err.read_text()
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


@pytest.mark.parametrize("flag", [["--filter", "contry=ALB"], ["--filter", "country=SWE"]])
def test_unknown_filter_key_exits_4_naming_known_keys(
    article_index: Settings, flag: list[str]
) -> None:
    done = rag("ask", QUESTION, "--index", article_index.index_dir, *flag)
    assert done.returncode == 4, done.stderr
    key = flag[1].split("=")[0]
    assert f"unknown filter key '{key}'" in done.stderr
    assert "known keys: doc_id, source, date_from, date_to, language" in done.stderr


def test_known_metadata_key_still_filters(article_index: Settings) -> None:
    done = rag("ask", QUESTION, "--index", article_index.index_dir, "--filter", "language=en")
    assert done.returncode == 0, done.stderr
    # a value no document has is said, not answered with a silent abstention
    done = rag("ask", QUESTION, "--index", article_index.index_dir, "--filter", "language=EN")
    assert done.returncode == 4, done.stderr
    assert "no document has language 'EN'; close: en" in done.stderr
