"""The `rag` command as a user runs it: real processes, real index folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.index_folders import link_encoder
from tests.processes import run_rag as rag

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "rag" / "data" / "japan-sweden-security-cooperation.txt"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, onnx_encoder_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    # The session's ONNX export stands in for the one-time export (tested in test_embedding).
    link_encoder(onnx_encoder_dir, folder / "index" / "encoder")
    inputs = folder / "inputs"
    inputs.mkdir()
    (inputs / "article.txt").write_text(ARTICLE.read_text(encoding="utf-8"), encoding="utf-8")
    (inputs / "empty.txt").write_text("  \n", encoding="utf-8")
    (inputs / "binary.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" * 50)
    result = rag("ingest", inputs, "--index", folder / "index", "-q")
    assert result.returncode == 1, result.stderr  # some inputs failed, the rest went in
    assert "1 added" in result.stdout and "2 failed" in result.stdout
    assert "empty.txt" in result.stderr and "binary" in result.stderr
    return folder / "index"


def test_ask_prints_answer_markers_and_quotes(index: Path) -> None:
    result = rag("ask", "When did Sweden join NATO?", "--index", index)
    assert result.returncode == 0, result.stderr
    assert "March 2024. [1]" in result.stdout
    assert "Short answer: March 2024" in result.stdout
    assert "[1] " in result.stdout and "│ " in result.stdout


def test_ask_json_is_the_answer_model(index: Path) -> None:
    result = rag("ask", "When did Sweden join NATO?", "--index", index, "--json", "--k", "3")
    data = json.loads(result.stdout)
    assert data["abstained"] is False
    assert len(data["passages"]) <= 3
    assert data["citations"][0]["quote"] in ARTICLE.read_text(encoding="utf-8")


def test_reingest_is_idempotent(index: Path) -> None:
    result = rag("ingest", index.parent / "inputs" / "article.txt", "--index", index, "-q")
    assert result.returncode == 0, result.stderr
    assert "0 added, 0 updated, 1 unchanged" in result.stdout


def test_bad_questions_and_filters_exit_with_messages(index: Path) -> None:
    empty = rag("ask", "   ", "--index", index)
    assert empty.returncode == 4 and "question is empty" in empty.stderr
    bad = rag("ask", "x?", "--index", index, "--filter", "nonsense")
    assert bad.returncode == 4 and "KEY=VALUE" in bad.stderr


def test_missing_index_says_how_to_build_one(tmp_path: Path) -> None:
    result = rag("ask", "When did Sweden join NATO?", "--index", tmp_path / "none")
    assert result.returncode == 3
    assert "rag ingest" in result.stderr


def test_documents_and_stats(index: Path) -> None:
    listed = rag("documents", "list", "--index", index, "--json")
    assert [d["id"] for d in json.loads(listed.stdout)] == ["article.txt"]
    shown = rag("documents", "show", "article.txt", "--index", index)
    assert "Sweden" in shown.stdout
    missing = rag("documents", "show", "nope", "--index", index)
    assert missing.returncode == 4 and "no document" in missing.stderr
    assert "hint: `rag documents list` shows the ids" in missing.stderr
    both = rag("documents", "show", "article.txt", "article.txt", "--index", index, "--json")
    assert [json.loads(line)["id"] for line in both.stdout.splitlines()] == ["article.txt"] * 2
    stats = json.loads(rag("stats", "--index", index, "--check", "--json").stdout)
    assert stats["documents"] == 1 and stats["problems"] == []
    assert stats["chunks"] == stats["vectors"] == stats["fts_rows"]


def test_delete_then_answer_is_gone(tmp_path: Path) -> None:
    idx = tmp_path / "index"
    assert rag("ingest", ARTICLE, "--index", idx, "-q").returncode == 0
    deleted = rag("documents", "delete", ARTICLE.name, "nope", "--index", idx, "--json")
    assert deleted.returncode == 1  # one id was not found
    assert json.loads(deleted.stdout) == {"deleted": [ARTICLE.name], "not_found": ["nope"]}
    after = json.loads(rag("ask", "When did Sweden join NATO?", "--index", idx, "--json").stdout)
    assert after["abstained"] is True and after["passages"] == []


def test_other_chunking_is_refused(index: Path) -> None:
    result = rag("ingest", ARTICLE, "--index", index, "--chunk-tokens", "100")
    assert result.returncode == 3
    assert "chunk" in result.stderr and "new index folder" in result.stderr


def test_query_path_does_not_import_torch(index: Path) -> None:
    code = (
        "import sys; from rag.cli import main; "
        f"rc = main(['ask', 'When did Sweden join NATO?', '--index', {str(index)!r}]); "
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') "
        "if m in sys.modules]; "
        "print('HEAVY', heavy); sys.exit(rc)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout
