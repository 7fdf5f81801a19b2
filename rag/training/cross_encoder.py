"""A small cross-encoder that reads (question, sentence) and scores "this sentence answers".

Built with sentence-transformers from the bundled all-MiniLM-L6-v2 weights, truncated to its
first ``layers`` transformer layers, mean-pooled (this checkpoint's CLS pooler gives near-equal
logits for any input, so a head on it does not learn) and topped with one linear unit. Trained
with a listwise loss: softmax over each question's candidates, for questions that have an answer.
An optional pointwise logistic term collapsed the model to a constant score here, so it is off by
default; the calibrated probability comes from the logistic stage that reads this model's score.
Exported to ONNX and quantised to int8 for the query path, which never imports torch.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.training.schedule import cycling_batches, warmup_cosine

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainGroup:
    """One question and its candidate sentences with labels (1 answers, 0 does not)."""

    question: str
    sentences: tuple[str, ...]
    labels: tuple[int, ...]


@dataclass(frozen=True)
class CrossEncoderRecipe:
    layers: int = 2
    max_length: int = 80
    questions_per_batch: int = 4
    candidates_per_question: int = 6
    freeze_word_embeddings: bool = True
    steps: int = 450
    learning_rate: float = 1e-4
    head_learning_rate: float = 2e-3
    warmup_steps: int = 50
    pointwise_weight: float = 0.0
    eval_every: int = 75
    seed: int = 13
    threads: int = 2


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


def _sample_group(group: TrainGroup, n: int, rng: random.Random) -> tuple[list[str], list[int]]:
    """The positive (when there is one) first, then negatives up to ``n`` candidates in all."""
    pos = [i for i, y in enumerate(group.labels) if y == 1]
    neg = [i for i, y in enumerate(group.labels) if y == 0]
    rng.shuffle(neg)
    chosen = ([rng.choice(pos)] if pos else []) + neg[: n - (1 if pos else 0)]
    return [group.sentences[i] for i in chosen], [group.labels[i] for i in chosen]


def evaluate(model: Any, groups: Sequence[TrainGroup], batch_size: int = 64) -> dict[str, float]:
    """Top-1 among candidates (answerable questions) and AUC of the best score (answerable
    vs unanswerable) on held-out groups."""
    import torch

    model.eval()
    top1: list[float] = []
    best_pos: list[float] = []
    best_neg: list[float] = []
    with torch.no_grad():
        for g in groups:
            pairs = [(g.question, s) for s in g.sentences]
            scores = np.concatenate(
                [
                    score_pairs(model, pairs[i : i + batch_size]).numpy()
                    for i in range(0, len(pairs), batch_size)
                ]
            )
            labels = np.array(g.labels)
            if (labels == 1).any():
                top1.append(float(labels[int(np.argmax(scores))] == 1))
                best_pos.append(float(scores.max()))
            elif (labels == 0).all():
                best_neg.append(float(scores.max()))
    model.train()
    return {"top1": float(np.mean(top1)) if top1 else 0.0, "auc": auc(best_pos, best_neg)}


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    if not positives or not negatives:
        return 0.0
    p = np.asarray(positives)[:, None]
    n = np.asarray(negatives)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def train(
    base_path: str,
    train_groups: Sequence[TrainGroup],
    val_groups: Sequence[TrainGroup],
    recipe: CrossEncoderRecipe,
    *,
    on_progress: Callable[[int, float, dict[str, float] | None], None] | None = None,
) -> tuple[Any, list[dict[str, float]]]:
    """Train from ``base_path``; returns the best model on validation and the learning curve."""
    import torch

    torch.manual_seed(recipe.seed)
    torch.set_num_threads(recipe.threads)
    rng = random.Random(recipe.seed)
    model = build_model(base_path, recipe.layers, recipe.max_length)
    if recipe.freeze_word_embeddings:  # 11.7M of the parameters; updating them buys little
        model[0].auto_model.embeddings.word_embeddings.weight.requires_grad_(False)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    head = list(model[2].parameters())
    body = [p for p in params if all(p is not h for h in head)]
    optim = torch.optim.AdamW(
        [
            {"params": body, "lr": recipe.learning_rate},
            {"params": head, "lr": recipe.head_learning_rate},
        ],
        weight_decay=0.01,
    )

    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, warmup_cosine(recipe.warmup_steps, recipe.steps)
    )
    bce = torch.nn.BCEWithLogitsLoss()
    if recipe.pointwise_weight <= 0:  # the listwise loss learns only from questions with answers
        train_groups = [g for g in train_groups if 1 in g.labels and 0 in g.labels]
    batches = cycling_batches(train_groups, recipe.questions_per_batch, rng)
    curve: list[dict[str, float]] = []
    best: tuple[float, dict[str, Any]] | None = None
    started = time.perf_counter()
    for step in range(recipe.steps):
        batch = next(batches)
        pairs: list[tuple[str, str]] = []
        labels: list[int] = []
        spans: list[tuple[int, int, bool]] = []
        for g in batch:
            sents, labs = _sample_group(g, recipe.candidates_per_question, rng)
            spans.append((len(pairs), len(pairs) + len(sents), bool(labs) and labs[0] == 1))
            pairs.extend((g.question, s) for s in sents)
            labels.extend(labs)
        logits = score_pairs(model, pairs)
        loss = torch.zeros(())
        if recipe.pointwise_weight > 0:
            target = torch.tensor(labels, dtype=torch.float32)
            loss = loss + recipe.pointwise_weight * bce(logits, target)
        listwise = [
            torch.nn.functional.cross_entropy(logits[a:b].unsqueeze(0), torch.tensor([0]))
            for a, b, has_pos in spans
            if has_pos and b - a > 1
        ]
        if listwise:
            loss = loss + torch.stack(listwise).mean()
        if not loss.requires_grad:
            continue
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optim.step()
        sched.step()
        optim.zero_grad()
        metrics = None
        if (step + 1) % recipe.eval_every == 0 or step + 1 == recipe.steps:
            metrics = evaluate(model, val_groups)
            metrics.update(
                step=float(step + 1),
                loss=float(loss.item()),
                seconds=round(time.perf_counter() - started, 1),
            )
            curve.append(metrics)
            key = metrics["top1"]  # listwise training: the ranking is what it learns
            if best is None or key > best[0]:
                best = (key, {k: v.detach().clone() for k, v in model.state_dict().items()})
        if on_progress is not None:
            on_progress(step + 1, float(loss.item()), metrics)
    if best is not None:
        model.load_state_dict(best[1])
    model.eval()
    return model, curve


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


def recipe_dict(recipe: CrossEncoderRecipe) -> dict[str, Any]:
    return asdict(recipe)
