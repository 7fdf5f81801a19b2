"""The MiniLM cross-encoder the reader is built on (:mod:`rag.training.reader`): it reads
(question, text) and gives one logit.

Built with sentence-transformers from the bundled all-MiniLM-L6-v2 weights, truncated to its
first ``layers`` transformer layers, mean-pooled (this checkpoint's CLS pooler gives near-equal
logits for any input, so a head on it does not learn) and topped with one linear unit. Exported
to ONNX and quantised to int8 for the query path, which never imports torch.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def build_model(base_path: str, layers: int, max_length: int) -> Any:
    import torch
    from sentence_transformers import SentenceTransformer, models  # type: ignore[attr-defined]

    word = models.Transformer(base_path, max_seq_length=max_length)
    encoder = word.auto_model.encoder
    encoder.layer = encoder.layer[:layers]
    word.auto_model.config.num_hidden_layers = layers
    dim = word.get_word_embedding_dimension()
    pool = models.Pooling(dim, pooling_mode="mean")
    head = models.Dense(dim, 1, activation_function=torch.nn.Identity())
    torch.nn.init.normal_(head.linear.weight, std=0.02)
    torch.nn.init.zeros_(head.linear.bias)
    return SentenceTransformer(modules=[word, pool, head], device="cpu")


def score_pairs(model: Any, pairs: Sequence[tuple[str, str]]) -> Any:
    """Logits (a 1-d tensor) for (question, sentence) pairs; gradients flow."""
    features = model.preprocess([list(p) for p in pairs])
    out = model(features)
    return out["sentence_embedding"].squeeze(-1)


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    if not positives or not negatives:
        return 0.0
    p = np.asarray(positives)[:, None]
    n = np.asarray(negatives)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def export_onnx(model: Any, folder: Path, *, quantize: bool = True) -> dict[str, Any]:
    """Write ``model.onnx`` (int8 when ``quantize``), ``tokenizer.json`` and ``scorer.json``."""
    import torch

    word = model[0]
    linear = model[2].linear
    bert = word.auto_model
    tokenizer = word.tokenizer

    class Scorer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert
            self.linear = linear

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return self.linear(pooled).squeeze(-1)

    scorer = Scorer().eval()
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".scorer.", dir=folder.parent))
    try:
        sample = tokenizer(
            ["who signed it?", "when?"],
            ["The treaty was signed in 1990.", "Later."],
            padding=True,
            return_tensors="pt",
        )
        fp32 = staging / "model.fp32.onnx"
        with torch.no_grad():
            torch.onnx.export(
                scorer,
                (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
                str(fp32),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["logits"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "seq"},
                    "attention_mask": {0: "batch", 1: "seq"},
                    "token_type_ids": {0: "batch", 1: "seq"},
                    "logits": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        target = staging / "model.onnx"
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8)
            fp32.unlink()
        else:
            fp32.rename(target)
        tokenizer.backend_tokenizer.save(str(staging / "tokenizer.json"))
        spec = {
            "format": 1,
            "max_length": int(word.max_seq_length),
            "layers": int(bert.config.num_hidden_layers),
            "quantized": quantize,
            "do_lower_case": bool(getattr(tokenizer, "do_lower_case", True)),
        }
        (staging / "scorer.json").write_text(json.dumps(spec, indent=2), encoding="utf-8")
        for name in ("model.onnx", "tokenizer.json", "scorer.json"):
            shutil.copyfile(staging / name, folder / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return spec
