"""The torch-free BERT graph builder on a tiny random BERT written as safetensors: the graph
computes BERT (checked against a numpy forward pass written out here), masks padding, and bad
weight files are clear errors. Its agreement with torch on the real model is
tests/integration/test_embedding.py's."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest

from rag.embedding.onnx_bert import build_bert_onnx, is_plain_bert, read_safetensors
from rag.errors import ModelError

pytestmark = pytest.mark.unit

HIDDEN, HEADS, LAYERS, INNER, VOCAB, POSITIONS = 8, 2, 2, 16, 50, 32


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    blobs, offset = [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype=np.float32).tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def tiny_bert(folder: Path, prefix: str = "") -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    w: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": rng.normal(size=(VOCAB, HIDDEN)),
        "embeddings.position_embeddings.weight": rng.normal(size=(POSITIONS, HIDDEN)),
        "embeddings.token_type_embeddings.weight": rng.normal(size=(2, HIDDEN)),
        "embeddings.LayerNorm.weight": 1 + 0.1 * rng.normal(size=HIDDEN),
        "embeddings.LayerNorm.bias": 0.1 * rng.normal(size=HIDDEN),
    }
    shapes = {
        "attention.self.query": (HIDDEN, HIDDEN),
        "attention.self.key": (HIDDEN, HIDDEN),
        "attention.self.value": (HIDDEN, HIDDEN),
        "attention.output.dense": (HIDDEN, HIDDEN),
        "intermediate.dense": (INNER, HIDDEN),
        "output.dense": (HIDDEN, INNER),
    }
    for i in range(LAYERS):
        for name, shape in shapes.items():
            w[f"encoder.layer.{i}.{name}.weight"] = rng.normal(size=shape) / math.sqrt(shape[1])
            w[f"encoder.layer.{i}.{name}.bias"] = 0.1 * rng.normal(size=shape[0])
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[f"encoder.layer.{i}.{norm}.weight"] = 1 + 0.1 * rng.normal(size=HIDDEN)
            w[f"encoder.layer.{i}.{norm}.bias"] = 0.1 * rng.normal(size=HIDDEN)
    w = {k: v.astype(np.float32) for k, v in w.items()}
    folder.mkdir(parents=True, exist_ok=True)
    write_safetensors(folder / "model.safetensors", {prefix + k: v for k, v in w.items()})
    config = {
        "model_type": "bert",
        "hidden_act": "gelu",
        "hidden_size": HIDDEN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "intermediate_size": INNER,
        "vocab_size": VOCAB,
        "layer_norm_eps": 1e-12,
    }
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return w


def reference(w: dict[str, np.ndarray], ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """BERT's forward pass in numpy (float64), as transformers' BertModel computes it."""
    erf = np.vectorize(math.erf)

    def norm(x: np.ndarray, name: str) -> np.ndarray:
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-12) * w[f"{name}.weight"] + w[f"{name}.bias"]

    def linear(x: np.ndarray, name: str) -> np.ndarray:
        return x @ w[f"{name}.weight"].T.astype(np.float64) + w[f"{name}.bias"]

    n, s = ids.shape
    h = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][np.arange(s)][None]
        + w["embeddings.token_type_embeddings.weight"][np.zeros_like(ids)]
    ).astype(np.float64)
    h = norm(h, "embeddings.LayerNorm")
    d = HIDDEN // HEADS
    bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e30)
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."

        def split(x: np.ndarray) -> np.ndarray:
            return x.reshape(n, s, HEADS, d).transpose(0, 2, 1, 3)

        q, k, v = (split(linear(h, f"{p}attention.self.{t}")) for t in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + bias
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(n, s, HIDDEN)
        h = norm(linear(ctx, f"{p}attention.output.dense") + h, f"{p}attention.output.LayerNorm")
        inner = linear(h, f"{p}intermediate.dense")
        inner = 0.5 * inner * (1 + erf(inner / math.sqrt(2)))
        h = norm(linear(inner, f"{p}output.dense") + h, f"{p}output.LayerNorm")
    return h


def run(model: Path, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    feeds = {
        "input_ids": ids.astype(np.int64),
        "attention_mask": mask.astype(np.int64),
        "token_type_ids": np.zeros_like(ids, dtype=np.int64),
    }
    (states,) = session.run(["last_hidden_state"], feeds)
    return np.asarray(states)


@pytest.mark.parametrize("prefix", ["", "bert."])
def test_the_graph_computes_bert(tmp_path: Path, prefix: str) -> None:
    weights = tiny_bert(tmp_path / "model", prefix)
    assert is_plain_bert(tmp_path / "model")
    build_bert_onnx(tmp_path / "model", tmp_path / "model.onnx")
    rng = np.random.default_rng(3)
    ids = rng.integers(1, VOCAB, size=(3, 11))
    mask = np.ones_like(ids)
    mask[2, 6:] = 0
    states = run(tmp_path / "model.onnx", ids * mask, mask)
    expected = reference(weights, ids * mask, mask)
    assert states.shape == (3, 11, HIDDEN)
    kept = mask.astype(bool)
    assert np.abs(states[kept] - expected[kept]).max() < 1e-4


def test_padding_does_not_change_the_real_tokens(tmp_path: Path) -> None:
    tiny_bert(tmp_path / "model")
    build_bert_onnx(tmp_path / "model", tmp_path / "model.onnx")
    ids = np.array([[5, 9, 13, 2]])
    alone = run(tmp_path / "model.onnx", ids, np.ones_like(ids))
    padded_ids = np.array([[5, 9, 13, 2, 0, 0, 0]])
    padded = run(tmp_path / "model.onnx", padded_ids, (padded_ids > 0).astype(np.int64))
    assert np.abs(padded[0, :4] - alone[0]).max() < 1e-5


def test_other_architectures_are_not_taken_for_bert(tmp_path: Path) -> None:
    tiny_bert(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text(encoding="utf-8"))
    for change in ({"model_type": "roberta"}, {"position_embedding_type": "relative_key"}):
        (tmp_path / "model" / "config.json").write_text(json.dumps(config | change))
        assert not is_plain_bert(tmp_path / "model")
    (tmp_path / "model" / "config.json").write_text(json.dumps(config))
    (tmp_path / "model" / "model.safetensors").unlink()
    assert not is_plain_bert(tmp_path / "model")  # pytorch_model.bin only: the torch export


def test_damaged_weight_files_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"abc")
    with pytest.raises(ModelError, match="too short"):
        read_safetensors(path)
    path.write_bytes(struct.pack("<Q", 10**12) + b"{}")
    with pytest.raises(ModelError, match="header size"):
        read_safetensors(path)
    header = json.dumps({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)  # 8 of 16 bytes
    with pytest.raises(ModelError, match="outside the file"):
        read_safetensors(path)
    write_safetensors(path, {"other.weight": np.zeros((2, 2), np.float32)})
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "model_type": "bert",
                "hidden_act": "gelu",
                "hidden_size": 4,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
            }
        )
    )
    with pytest.raises(ModelError, match="no BERT embeddings"):
        build_bert_onnx(tmp_path, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()
