"""Build a BERT encoder's ONNX graph straight from its ``model.safetensors``, without torch.

The query encoder (:mod:`rag.embedding.onnx_runtime`) runs an ONNX graph of the embedding model's
transformer. :mod:`rag.embedding.onnx_export` used to need torch and transformers to trace that
graph (seconds of imports, a gigabyte of packages); for the BERT family (all-MiniLM-L6-v2 among
them) the graph is small and fixed, so it is written here with :mod:`onnx.helper` from the
weights file, read with numpy. The graph has the export's inputs (``input_ids``,
``attention_mask``, ``token_type_ids``) and output (``last_hidden_state``); it computes what
``transformers.BertModel`` computes in eval mode (absolute positions, post-layer-norm, exact
GELU), which the integration test checks against torch to 1e-5.

Other architectures fall back to the torch export (the ``train`` extra).
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelError

WEIGHTS_FILE = "model.safetensors"
OPSET = 17

_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64}
_MAX_HEADER = 100_000_000
_PREFIXES = ("", "bert.", "model.")


@dataclass(frozen=True)
class BertConfig:
    """The parts of a BERT ``config.json`` that shape the graph."""

    hidden_size: int
    layers: int
    heads: int
    layer_norm_eps: float

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> BertConfig:
        checks = {
            "model_type": config.get("model_type") == "bert",
            "absolute positions": config.get("position_embedding_type", "absolute") == "absolute",
            "gelu": config.get("hidden_act") == "gelu",
        }
        failed = [name for name, ok in checks.items() if not ok]
        if failed:
            raise ModelError(f"not a plain BERT encoder ({', '.join(failed)} missing)")
        try:
            out = cls(
                hidden_size=int(config["hidden_size"]),
                layers=int(config["num_hidden_layers"]),
                heads=int(config["num_attention_heads"]),
                layer_norm_eps=float(config.get("layer_norm_eps", 1e-12)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"BERT config lacks {exc}") from exc
        if out.heads < 1 or out.hidden_size % out.heads:
            raise ModelError("BERT config: hidden_size is not a multiple of num_attention_heads")
        return out


def is_plain_bert(transformer_dir: Path) -> bool:
    """Whether ``transformer_dir`` holds a BERT encoder this module can build (config and
    safetensors weights)."""
    try:
        config = json.loads((transformer_dir / "config.json").read_text(encoding="utf-8"))
        BertConfig.from_dict(config if isinstance(config, dict) else {})
    except (OSError, ValueError, ModelError):
        return False
    return (transformer_dir / WEIGHTS_FILE).is_file()


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a ``.safetensors`` file as numpy arrays (8-byte little-endian header
    length, a JSON header of dtype/shape/offsets, then the raw little-endian data)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    if len(data) < 8:
        raise ModelError(f"{path} is not a safetensors file (too short)")
    (size,) = struct.unpack("<Q", data[:8])
    if size > min(_MAX_HEADER, len(data) - 8):
        raise ModelError(f"{path} is not a safetensors file (header size {size})")
    try:
        header = json.loads(data[8 : 8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path} has an unreadable safetensors header: {exc}") from exc
    body = memoryview(data)[8 + size :]
    tensors: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = _DTYPES[entry["dtype"]]
            begin, end = (int(x) for x in entry["data_offsets"])
            shape = tuple(int(x) for x in entry["shape"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{path}: malformed entry for {name!r}") from exc
        if dtype is None:
            raise ModelError(f"{path}: dtype {entry['dtype']} of {name!r} is not supported")
        if not 0 <= begin <= end <= len(body):
            raise ModelError(f"{path}: the data of {name!r} lies outside the file")
        array = np.frombuffer(body[begin:end], dtype=np.dtype(dtype).newbyteorder("<"))
        if array.size != math.prod(shape):
            raise ModelError(f"{path}: {name!r} holds {array.size} values, not shape {shape}")
        tensors[name] = array.reshape(shape)
    return tensors


def build_bert_onnx(transformer_dir: Path, target: Path) -> None:
    """Write the ONNX graph of the BERT encoder in ``transformer_dir`` to ``target``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    raw = json.loads((transformer_dir / "config.json").read_text(encoding="utf-8"))
    config = BertConfig.from_dict(raw if isinstance(raw, dict) else {})
    weights = _weights(read_safetensors(transformer_dir / WEIGHTS_FILE), config)
    graph = _Graph(numpy_helper)

    ids, mask, types = "input_ids", "attention_mask", "token_type_ids"
    # embeddings: word + position (0..S-1) + token type, then layer norm
    word = graph.node("Gather", [graph.weight("word", weights["embeddings.word_embeddings"]), ids])
    one = graph.const("one", np.array(1, np.int64))
    length = graph.node("Gather", [graph.node("Shape", [ids]), one])  # the sequence length
    positions = graph.node("Range", [graph.const("zero", np.array(0, np.int64)), length, one])
    position = graph.node(
        "Gather", [graph.weight("position", weights["embeddings.position_embeddings"]), positions]
    )
    kind = graph.node(
        "Gather", [graph.weight("token_type", weights["embeddings.token_type_embeddings"]), types]
    )
    summed = graph.node("Add", [graph.node("Add", [word, position]), kind])
    hidden = graph.layer_norm(summed, weights, "embeddings.LayerNorm", config.layer_norm_eps)

    # additive attention mask (B, 1, 1, S): 0 where attended, float32 min where padded
    keep = graph.node("Cast", [mask], to=TensorProto.FLOAT)
    dropped = graph.node("Sub", [graph.const("f_one", np.array(1.0, np.float32)), keep])
    additive = graph.node(
        "Mul", [dropped, graph.const("f_min", np.array(np.finfo(np.float32).min, np.float32))]
    )
    additive = graph.node("Unsqueeze", [additive, graph.const("axes_1_2", np.array([1, 2]))])

    head_dim = config.hidden_size // config.heads
    split = graph.const("split_heads", np.array([0, 0, config.heads, head_dim], np.int64))
    merge = graph.const("merge_heads", np.array([0, 0, config.hidden_size], np.int64))
    scale = graph.const("scale", np.array(1.0 / math.sqrt(head_dim), np.float32))
    for i in range(config.layers):
        p = f"encoder.layer.{i}."
        heads = {}
        for part, perm in (("query", [0, 2, 1, 3]), ("key", [0, 2, 3, 1]), ("value", [0, 2, 1, 3])):
            projected = graph.linear(hidden, weights, f"{p}attention.self.{part}")
            shaped = graph.node("Reshape", [projected, split])
            heads[part] = graph.node("Transpose", [shaped], perm=perm)
        scores = graph.node("Mul", [graph.node("MatMul", [heads["query"], heads["key"]]), scale])
        probs = graph.node("Softmax", [graph.node("Add", [scores, additive])], axis=-1)
        context = graph.node("MatMul", [probs, heads["value"]])
        context = graph.node(
            "Reshape", [graph.node("Transpose", [context], perm=[0, 2, 1, 3]), merge]
        )
        attended = graph.linear(context, weights, f"{p}attention.output.dense")
        hidden = graph.layer_norm(
            graph.node("Add", [attended, hidden]),
            weights,
            f"{p}attention.output.LayerNorm",
            config.layer_norm_eps,
        )
        inner = graph.gelu(graph.linear(hidden, weights, f"{p}intermediate.dense"))
        out = graph.linear(inner, weights, f"{p}output.dense")
        hidden = graph.layer_norm(
            graph.node("Add", [out, hidden]), weights, f"{p}output.LayerNorm", config.layer_norm_eps
        )
    graph.nodes.append(helper.make_node("Identity", [hidden], ["last_hidden_state"]))

    dims = ["batch", "sequence"]
    model = helper.make_model(
        helper.make_graph(
            graph.nodes,
            "bert_encoder",
            [helper.make_tensor_value_info(n, TensorProto.INT64, dims) for n in (ids, mask, types)],
            [
                helper.make_tensor_value_info(
                    "last_hidden_state", TensorProto.FLOAT, [*dims, config.hidden_size]
                )
            ],
            initializer=graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="rag.embedding.onnx_bert",
    )
    model.ir_version = 8  # readable by onnxruntime releases from 1.14 on
    onnx.checker.check_model(model)
    target.write_bytes(model.SerializeToString())


def _weights(tensors: dict[str, np.ndarray], config: BertConfig) -> dict[str, np.ndarray]:
    """The tensors by their BERT name (without a ``bert.`` prefix), checked to be complete."""
    for prefix in _PREFIXES:
        if f"{prefix}embeddings.word_embeddings.weight" in tensors:
            named = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            break
    else:
        raise ModelError("the weights hold no BERT embeddings (embeddings.word_embeddings)")
    needed = [f"embeddings.{n}.weight" for n in ("word_embeddings", "position_embeddings")]
    needed += [f"encoder.layer.{config.layers - 1}.output.LayerNorm.weight"]
    missing = [n for n in needed if n not in named]
    if missing:
        raise ModelError(f"the weights lack {', '.join(missing)}")
    # "x.weight" becomes "x"; biases keep their ".bias" name
    out = {
        k.removesuffix(".weight"): v.astype(np.float32)
        for k, v in named.items()
        if v.dtype.kind == "f"
    }
    if "embeddings.token_type_embeddings" not in out:
        out["embeddings.token_type_embeddings"] = np.zeros(
            (1, config.hidden_size), dtype=np.float32
        )
    return out


class _Graph:
    """Nodes and initialisers of the graph being written, with fresh output names."""

    def __init__(self, numpy_helper: Any) -> None:
        from onnx import helper

        self._helper = helper
        self._numpy = numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._names: set[str] = set()
        self._count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        if name not in self._names:
            self._names.add(name)
            self.initializers.append(self._numpy.from_array(np.asarray(value), name))
        return name

    def weight(self, name: str, value: np.ndarray) -> str:
        return self.const(name, np.ascontiguousarray(value, dtype=np.float32))

    def node(self, op: str, inputs: list[str], **attributes: Any) -> str:
        self._count += 1
        output = f"{op.lower()}_{self._count}"
        self.nodes.append(self._helper.make_node(op, inputs, [output], **attributes))
        return output

    def linear(self, x: str, weights: dict[str, np.ndarray], name: str) -> str:
        """``x @ W.T + b`` for a torch ``Linear``'s weight ``(out, in)``."""
        w = self.weight(f"{name}.weight_t", weights[name].T)
        b = self.weight(f"{name}.bias", weights[f"{name}.bias"])
        return self.node("Add", [self.node("MatMul", [x, w]), b])

    def layer_norm(self, x: str, weights: dict[str, np.ndarray], name: str, eps: float) -> str:
        scale = self.weight(f"{name}.weight", weights[name])
        bias = self.weight(f"{name}.bias", weights[f"{name}.bias"])
        return self.node("LayerNormalization", [x, scale, bias], axis=-1, epsilon=eps)

    def gelu(self, x: str) -> str:
        """The exact GELU, ``0.5 x (1 + erf(x / sqrt 2))``."""
        scaled = self.node("Div", [x, self.const("sqrt2", np.array(math.sqrt(2.0), np.float32))])
        erf = self.node("Erf", [scaled])
        plus = self.node("Add", [erf, self.const("f_one", np.array(1.0, np.float32))])
        half = self.node("Mul", [x, self.const("f_half", np.array(0.5, np.float32))])
        return self.node("Mul", [half, plus])
