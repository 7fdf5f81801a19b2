"""`make demo` prints what the README says it prints: the Makefile's question, asked of an index
of the bundled article through the `rag` command, ends with the README's block."""

from __future__ import annotations

import re
from pathlib import Path

from rag.settings import Settings
from tests.processes import run_rag

ROOT = Path(__file__).resolve().parents[2]


def readme_demo_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme[readme.index("What `make demo` prints at the end:") :]
    found = re.search(r"```\n(.*?)```", after, re.S)
    assert found, "the README shows no output of make demo"
    return found.group(1)


def makefile_demo() -> tuple[str, list[str]]:
    """The Makefile's default question and the commands of its `demo` target."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    question = re.search(r"^QUESTION \?= (.+)$", makefile, re.M)
    target = re.search(r"^demo:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert question and target
    return question.group(1).strip(), target.group(1).split("\n")


def test_the_demo_ingests_the_article_and_asks_the_question() -> None:
    _, commands = makefile_demo()
    assert "rag ingest rag/data/japan-sweden-security-cooperation.txt" in commands[0]
    assert 'rag ask "$(QUESTION)"' in commands[1]


def test_make_demo_prints_what_the_readme_shows(article_index: Settings) -> None:
    question, _ = makefile_demo()
    done = run_rag("ask", question, "--index", article_index.index_dir)
    assert done.returncode == 0, done.stderr
    assert readme_demo_block() in done.stdout, done.stdout
