"""The Python API as the README shows it: `from rag import QASystem, Settings, Document`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rag.settings import Settings
from tests.index_folders import link_encoder

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_import_rag_is_light_and_exports_the_api() -> None:
    code = (
        "import sys, rag\n"
        "heavy = [m for m in ('torch', 'faiss', 'onnxruntime', 'rag.system') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from rag import QASystem, Settings, Document\n"
        "assert QASystem.__module__ == 'rag.system' and Settings.__name__ == 'Settings'\n"
        "assert Document.__name__ == 'Document' and rag.__version__\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_readme_python_example_runs(onnx_encoder_dir: Path, tmp_path: Path) -> None:
    blocks = readme_python_blocks()
    assert blocks, "the README has no python example"
    # The example creates ./example-index; give it this session's ONNX export so that the
    # test does not export the model again (QASystem.create_or_open would, once per index).
    link_encoder(onnx_encoder_dir, tmp_path / "example-index" / "encoder")
    for block in blocks:
        done = subprocess.run(
            [sys.executable, "-c", block],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        )
        assert done.returncode == 0, done.stderr[-3000:]
        out = done.stdout
        assert "1 added" in out
        assert "4 April 2023" in out and "[1]" in out.splitlines()[2]
        assert "(2023-04-04)" in out  # citations carry the document's date


def test_ingest_takes_paths_and_documents_without_a_counter(
    article_index_copy: Settings, tmp_path: Path
) -> None:
    from rag import Document, QASystem

    note = tmp_path / "estonia.txt"
    note.write_text(
        "Estonia joined NATO on 29 March 2004 together with Latvia and Lithuania.\n",
        encoding="utf-8",
    )
    with QASystem.open(article_index_copy) as qa:
        report = qa.ingest(
            [
                str(note),
                tmp_path / "missing.txt",
                Document(id="latvia", text="Latvia hosts a NATO battlegroup led by Canada."),
            ]
        )
        assert report.added == 2 and report.failed == 1
        answer = qa.ask("When did Estonia join NATO?", filters={"doc_id": "estonia.txt"})
        assert not answer.abstained and "2004" in answer.answer
        assert "[" not in answer.answer_plain and "2004" in answer.answer_plain


def test_unknown_metadata_filter_key_names_the_known_keys(article_index: Settings) -> None:
    from index.errors import InvalidFilterError
    from rag import QASystem

    with QASystem.open(article_index) as qa:
        with pytest.raises(InvalidFilterError) as err:
            qa.ask("When did Sweden join NATO?", filters={"contry": "ALB"})
        assert "contry" in err.value.message and "language" in err.value.message
        assert "date_from" in err.value.message
        answer = qa.ask("When did Sweden join NATO?", filters={"language": "en"})
        assert not answer.abstained
