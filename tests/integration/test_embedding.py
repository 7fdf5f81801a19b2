"""The embedding layer: the sentence-transformers embedder and the torch-free ONNX query encoder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tokenizers import Tokenizer

from rag.embedding import Embedder, SentenceTransformerEmbedder, default_model_path
from rag.embedding.onnx_export import encoder_is_current, export_query_encoder
from rag.embedding.onnx_runtime import OnnxQueryEncoder
from rag.errors import ModelError

REPO_ROOT = Path(__file__).resolve().parents[2]
DIM = 384
# About 280 wordpieces: over the 256 limit, under BERT's 512 positions.
_LONG_BASE = " ".join(
    f"Clause {i}: the parties shall consult on defence equipment and technology transfer."
    for i in range(20)
)
QUERIES = [
    "Japan",
    "?",
    "",
    "   leading and trailing spaces   ",
    "What did Japan and Sweden agree on?",
    "When was the defence equipment and technology transfer agreement signed?",
    "NATO enlargement Sweden Finland 2024",
    "Which ministers met in Stockholm, and what did they say about the Indo-Pacific?",
    "how does the EU's CFSP differ from NATO's Article 5 guarantee",
    "Ünïcødé naïve café résumé — Zürich, Malmö and Göteborg",
    "日本とスウェーデンの安全保障協力について教えてください",
    "Сотрудничество России и Китая в Арктике",
    "التعاون الأمني بين اليابان والسويد",
    "emoji 🤝🇯🇵🇸🇪 diplomacy",
    "tabs\tand\nnewlines\r\nin a question",
    "A" * 300,
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "1998 2003 2015 2022 2024-06-01 $1,000,000 40%",
    _LONG_BASE,
    "word " * 600,
]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # Both sides are unit vectors, so the dot product is the cosine.
    return np.asarray((a * b).sum(axis=1))


@pytest.fixture(scope="module")
def onnx_encoder(onnx_encoder_dir: Path) -> OnnxQueryEncoder:
    encoder = OnnxQueryEncoder(onnx_encoder_dir, threads=1)
    encoder.warm_up()
    return encoder


def test_default_model_path_is_the_bundled_model() -> None:
    path = Path(default_model_path())
    assert (path / "modules.json").is_file()
    assert (path / "model.safetensors").is_file()


def test_st_embedder_describes_the_model(st_embedder: SentenceTransformerEmbedder) -> None:
    assert isinstance(st_embedder, Embedder)
    assert st_embedder.model_name == "sentence-transformers/all-MiniLM-L6-v2"
    assert st_embedder.dimension == DIM
    assert st_embedder.max_seq_length == 256


def test_st_embedder_does_not_load_on_construction() -> None:
    embedder = SentenceTransformerEmbedder()
    # Dimension and name come from the folder's configuration, without loading torch weights.
    assert embedder.dimension == DIM
    assert embedder._model is None


def test_st_vectors_are_normalised_float32_rows(st_embedder: SentenceTransformerEmbedder) -> None:
    vectors = st_embedder.encode(["Japan and Sweden", "a treaty", "the Arctic"], batch_size=2)
    assert vectors.shape == (3, DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = st_embedder.encode_query("Japan and Sweden")
    assert query.shape == (DIM,)
    np.testing.assert_allclose(query, vectors[0], atol=1e-5)
    empty = st_embedder.encode([], batch_size=32)
    assert empty.shape == (0, DIM)
    assert empty.dtype == np.float32


def test_st_embedder_rejects_a_bare_string(st_embedder: SentenceTransformerEmbedder) -> None:
    with pytest.raises(TypeError):
        st_embedder.encode("not a list", batch_size=32)


def test_st_embedder_missing_model_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as info:
        SentenceTransformerEmbedder(str(tmp_path / "no-such-model"))
    assert info.value.hint


def test_long_queries_really_exceed_the_sequence_limit(onnx_encoder_dir: Path) -> None:
    tokenizer = Tokenizer.from_file(str(onnx_encoder_dir / "tokenizer.json"))
    tokenizer.no_truncation()
    assert 256 < len(tokenizer.encode(_LONG_BASE).ids) < 400
    assert len(tokenizer.encode("word " * 600).ids) > 256


def test_encoder_spec_records_the_model(onnx_encoder: OnnxQueryEncoder) -> None:
    assert isinstance(onnx_encoder, Embedder)
    assert onnx_encoder.model_name == "sentence-transformers/all-MiniLM-L6-v2"
    assert onnx_encoder.dimension == DIM
    assert onnx_encoder.max_seq_length == 256
    assert onnx_encoder.spec.pooling == "mean"
    assert onnx_encoder.spec.normalize


@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
def test_onnx_query_vector_matches_sentence_transformers(
    query: str, st_embedder: SentenceTransformerEmbedder, onnx_encoder: OnnxQueryEncoder
) -> None:
    expected = st_embedder.encode_query(query)
    actual = onnx_encoder.encode_query(query)
    assert actual.shape == (DIM,)
    assert actual.dtype == np.float32
    assert abs(float(np.linalg.norm(actual)) - 1.0) < 1e-5
    assert float(expected @ actual) >= 0.9999


def test_onnx_batches_match_sentence_transformers(
    st_embedder: SentenceTransformerEmbedder, onnx_encoder: OnnxQueryEncoder
) -> None:
    expected = st_embedder.encode(QUERIES, batch_size=32)
    actual = onnx_encoder.encode(QUERIES, batch_size=3)
    assert actual.shape == (len(QUERIES), DIM)
    assert actual.dtype == np.float32
    assert _cosines(expected, actual).min() >= 0.9999
    # Rows come back in input order whatever the internal length sorting and padding did.
    singles = np.stack([onnx_encoder.encode_query(q) for q in QUERIES])
    assert _cosines(singles, actual).min() >= 0.99999


def test_truncation_cuts_both_encoders_at_the_same_place(
    st_embedder: SentenceTransformerEmbedder, onnx_encoder: OnnxQueryEncoder
) -> None:
    # Text beyond 256 wordpieces is ignored, so a different tail gives the same vector.
    texts = [_LONG_BASE + " Sweden", _LONG_BASE + " an entirely different ending about Kenya"]
    onnx = onnx_encoder.encode(texts, batch_size=32)
    st = st_embedder.encode(texts, batch_size=32)
    assert float(onnx[0] @ onnx[1]) >= 0.99999
    assert float(st[0] @ onnx[1]) >= 0.9999


def test_onnx_empty_input_and_bare_string(onnx_encoder: OnnxQueryEncoder) -> None:
    empty = onnx_encoder.encode([], batch_size=32)
    assert empty.shape == (0, DIM)
    assert empty.dtype == np.float32
    with pytest.raises(TypeError):
        onnx_encoder.encode("not a list", batch_size=32)


_NO_TORCH_SCRIPT = """
import json, sys
from pathlib import Path
from rag.embedding.onnx_runtime import OnnxQueryEncoder
encoder = OnnxQueryEncoder(Path(sys.argv[1]), threads=1)
vector = encoder.encode_query("What did Japan and Sweden agree on?")
heavy = sorted(
    name for name in sys.modules
    if name.split(".")[0] in {"torch", "transformers", "sentence_transformers"}
)
print(json.dumps({"shape": list(vector.shape), "heavy": heavy}))
"""


def run_script(script: str, *args: str, timeout: float) -> Any:
    """Run ``script`` in a fresh interpreter on the repository; its last stdout line, as JSON."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_query_encoding_never_imports_torch(onnx_encoder_dir: Path) -> None:
    report = run_script(_NO_TORCH_SCRIPT, str(onnx_encoder_dir), timeout=60)
    assert report == {"shape": [DIM], "heavy": []}


def test_missing_encoder_folder_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as info:
        OnnxQueryEncoder(tmp_path / "encoder", threads=1)
    assert "rag ingest" in str(info.value)


def test_incomplete_or_corrupt_encoder_folder(onnx_encoder_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "encoder"
    folder.mkdir()
    (folder / "model.onnx").symlink_to(onnx_encoder_dir / "model.onnx")
    shutil.copy(onnx_encoder_dir / "tokenizer.json", folder)
    with pytest.raises(ModelError, match=r"encoder\.json"):
        OnnxQueryEncoder(folder, threads=1)
    (folder / "encoder.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError) as info:
        OnnxQueryEncoder(folder, threads=1)
    assert "rag ingest" in str(info.value)


def test_encoder_is_current(
    onnx_encoder_dir: Path, st_embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    model_path = str(st_embedder.model_path)
    assert encoder_is_current(onnx_encoder_dir, model_path)
    assert not encoder_is_current(tmp_path / "missing", model_path)
    # Same files but recorded for another model: stale.
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / "model.onnx").symlink_to(onnx_encoder_dir / "model.onnx")
    shutil.copy(onnx_encoder_dir / "tokenizer.json", stale)
    spec = json.loads((onnx_encoder_dir / "encoder.json").read_text(encoding="utf-8"))
    (stale / "encoder.json").write_text(
        json.dumps({**spec, "source_fingerprint": "0" * 64}), encoding="utf-8"
    )
    assert not encoder_is_current(stale, model_path)
    (stale / "encoder.json").write_text(json.dumps(spec), encoding="utf-8")
    assert encoder_is_current(stale, model_path)


def test_export_replaces_an_existing_folder_atomically(
    st_embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    folder = tmp_path / "encoder"
    folder.mkdir()
    (folder / "leftover.txt").write_text("old export", encoding="utf-8")
    export_query_encoder(str(st_embedder.model_path), folder)
    assert sorted(p.name for p in folder.iterdir()) == [
        "encoder.json",
        "model.onnx",
        "tokenizer.json",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["encoder"]  # no staging folders left
    assert encoder_is_current(folder, str(st_embedder.model_path))
    size = (folder / "model.onnx").stat().st_size
    assert 80_000_000 < size < 100_000_000  # fp32 weights, one file


def test_export_rejects_unsupported_models_before_writing(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "1_Pooling").mkdir(parents=True)
    (model / "modules.json").write_text(
        json.dumps(
            [
                {
                    "idx": 0,
                    "name": "0",
                    "path": "",
                    "type": "sentence_transformers.models.Transformer",
                },
                {
                    "idx": 1,
                    "name": "1",
                    "path": "1_Pooling",
                    "type": "sentence_transformers.models.Pooling",
                },
                {
                    "idx": 2,
                    "name": "2",
                    "path": "2_Dense",
                    "type": "sentence_transformers.models.Dense",
                },
            ]
        ),
        encoding="utf-8",
    )
    (model / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 8, "pooling_mode_mean_tokens": True}),
        encoding="utf-8",
    )
    target = tmp_path / "encoder"
    with pytest.raises(ModelError, match="Dense"):
        export_query_encoder(str(model), target)
    assert not target.exists()


def test_an_encoder_loads_from_bytes_and_leaves_no_folder(
    onnx_encoder_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from rag.embedding.onnx_runtime import ENCODER_FILES

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    files = {name: (onnx_encoder_dir / name).read_bytes() for name in ENCODER_FILES}
    encoder = OnnxQueryEncoder.from_files(files, threads=1)
    assert list(tmp_path.iterdir()) == []  # every actor start used to leave ~90 MB here
    texts = ["Seoul and Ottawa signed a memorandum.", "Rain."]
    expected = OnnxQueryEncoder(onnx_encoder_dir, threads=1).encode(texts, batch_size=32)
    assert np.allclose(encoder.encode(texts, batch_size=32), expected, atol=1e-6)

    del files["model.onnx"]
    with pytest.raises(ModelError, match=r"lacks model\.onnx"):
        OnnxQueryEncoder.from_files(files, threads=1)
    assert list(tmp_path.iterdir()) == []  # nothing left behind by a failed load either


_EXPORT_WITHOUT_TORCH = """
import importlib.abc, json, sys
from pathlib import Path


class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"torch", "transformers", "sentence_transformers"}:
            raise ImportError(f"{name} is not installed here")
        return None


sys.meta_path.insert(0, NoTorch())
from rag.embedding.onnx_export import export_query_encoder
from rag.embedding.onnx_runtime import OnnxQueryEncoder

export_query_encoder(sys.argv[1], Path(sys.argv[2]))
vector = OnnxQueryEncoder(Path(sys.argv[2]), threads=1).encode_query(sys.argv[3])
print(json.dumps(vector.tolist()))
"""


def test_the_bundled_model_exports_without_torch(
    st_embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    """The main job's environment has no torch (`make demo`): the BERT graph is built from the
    weights, and what it encodes is what sentence-transformers encodes."""
    question = "Which ministers met in Stockholm, and what did they say about the Indo-Pacific?"
    exported = run_script(
        _EXPORT_WITHOUT_TORCH,
        str(st_embedder.model_path),
        str(tmp_path / "encoder"),
        question,
        timeout=120,
    )
    vector = np.asarray(exported, dtype=np.float32)
    expected = st_embedder.encode_query(question)
    assert float(vector @ expected) > 0.99999


def test_the_torch_trace_and_the_built_graph_agree(
    st_embedder: SentenceTransformerEmbedder, onnx_encoder_dir: Path, tmp_path: Path
) -> None:
    """The torch export, kept for models that are not plain BERT, still traces the model, and
    its graph and the one built from the weights give the same token states."""
    import onnxruntime as ort

    from rag.embedding import onnx_export
    from rag.embedding.model_folder import read_model_folder

    info = read_model_folder(st_embedder.model_path)
    traced = tmp_path / "traced.onnx"
    onnx_export._trace_with_torch(info, traced, "mean", 30522)
    inputs = onnx_export._dummy_inputs(batch=3, length=29, vocab_size=30522, seed=5)
    states = [
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, inputs)[0]
        for path in (traced, onnx_encoder_dir / "model.onnx")
    ]
    kept = inputs["attention_mask"].astype(bool)
    assert np.abs(states[0][kept] - states[1][kept]).max() < 1e-4
