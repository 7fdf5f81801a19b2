"""Training the reader: a MiniLM cross-encoder with a learned no-answer slot, listwise.

Each group is one question with its candidates (:mod:`rag.training.reader_data`): the gold
sentence(s) and hard negatives from the product's own retrieval. The model scores every
(question, candidate) pair — MiniLM cut to ``layers`` layers, mean pooling, one linear unit — and a
learned scalar is the score of *no answer*. The loss is the negative log-likelihood of the target
in the softmax over ``[null, s_1 … s_n]``: the positives' total share for an answerable question,
the null slot's for an unanswerable one. So abstention is trained directly, not bolted on.

The run is built for two CPU cores: it checkpoints every ``checkpoint_every`` steps (model,
optimiser, schedule, random state, learning curve) and resumes from the checkpoint when started
again with the same folder; validation runs at fixed step counts and the best step is kept.
Torch is imported here only, never on the query path.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.answering.reader import listwise_probabilities
from rag.training.cross_encoder import auc, build_model, export_onnx, score_pairs
from rag.training.reader_data import ReaderGroup
from rag.training.schedule import warmup_cosine

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
CURVE = "curve.json"


@dataclass(frozen=True)
class ReaderRecipe:
    """Every number of a training run (written beside the model)."""

    layers: int = 6
    max_length: int = 96
    groups_per_batch: int = 4
    candidates_per_group: int = 8
    #: Of each batch's groups, how many are policy-qa (the domain); the rest SQuAD/paraphrases.
    policy_per_batch: int = 2
    steps: int = 1500
    learning_rate: float = 4e-5
    head_learning_rate: float = 1e-3
    warmup_steps: int = 100
    eval_every: int = 150
    checkpoint_every: int = 25
    eval_top: int = 10
    #: The top document's sentences nearest the question the reader also reads (groups are
    #: built with them; :func:`rag.answering.evidence.add_nearest`).
    nearest: int = 0
    seed: int = 13
    threads: int = 2

    @property
    def run_name(self) -> str:
        """The run's folder name under the work folder: its layers, its candidates per group
        (unless 6, as every run before ``--candidates`` had), its nearest sentences (unless 0,
        as every run before ``--nearest`` had) and its seed."""
        wide = "" if self.candidates_per_group == 6 else f"-c{self.candidates_per_group}"
        near = f"-n{self.nearest}" if self.nearest else ""
        return f"run-L{self.layers}{wide}{near}-s{self.seed}"


def _sample(group: ReaderGroup, n: int, rng: random.Random) -> tuple[list[str], list[int]]:
    """Up to two positives and negatives up to ``n`` candidates, shuffled."""
    pos = [i for i, y in enumerate(group.labels) if y == 1]
    neg = [i for i, y in enumerate(group.labels) if y == 0]
    rng.shuffle(pos)
    rng.shuffle(neg)
    chosen = pos[:2] + neg[: max(0, n - min(2, len(pos)))]
    rng.shuffle(chosen)
    return [group.texts[i] for i in chosen], [group.labels[i] for i in chosen]


def group_loss(logits: Any, null: Any, labels: Sequence[int]) -> Any:
    """Negative log-likelihood of the target in the softmax over ``[null, logits…]``."""
    import torch

    scores = torch.cat([null.reshape(1), logits])
    total = torch.logsumexp(scores, dim=0)
    positives = [i + 1 for i, y in enumerate(labels) if y == 1]
    target = torch.logsumexp(scores[positives], dim=0) if positives else scores[0]
    return total - target


@dataclass
class Batches:
    """Endless batches mixing policy-qa and SQuAD groups; reproducible from ``seed`` and step."""

    policy: Sequence[ReaderGroup]
    other: Sequence[ReaderGroup]
    recipe: ReaderRecipe

    def at(self, step: int) -> list[ReaderGroup]:
        rng = random.Random(self.recipe.seed * 1_000_003 + step)
        n_policy = min(self.recipe.policy_per_batch, self.recipe.groups_per_batch)
        if not self.other:
            n_policy = self.recipe.groups_per_batch
        if not self.policy:
            n_policy = 0
        out = [self.policy[rng.randrange(len(self.policy))] for _ in range(n_policy)]
        out += [
            self.other[rng.randrange(len(self.other))]
            for _ in range(self.recipe.groups_per_batch - n_policy)
        ]
        return out


def score_texts(model: Any, question: str, texts: Sequence[str], batch: int = 32) -> np.ndarray:
    import torch

    with torch.no_grad():
        parts = [
            score_pairs(model, [(question, t) for t in texts[i : i + batch]]).numpy()
            for i in range(0, len(texts), batch)
        ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def evaluate(model: Any, null: float, groups: Sequence[ReaderGroup], top: int) -> dict[str, float]:
    """On held-out groups, each cut to its ``top`` candidates as the reader sees them at query
    time: top-1 (answerable groups whose positive is among them), AUC of P(answer) (answerable
    vs unanswerable) and the best accuracy of the answer-or-decline decision over thresholds."""
    model.eval()
    top1: list[float] = []
    answerable: list[float] = []
    unanswerable: list[float] = []
    for g in groups:
        texts, labels = g.as_read(top)
        if g.answerable and 1 not in labels:
            continue
        scores = score_texts(model, g.question, texts)
        _, p_answer = listwise_probabilities(scores, null)
        if g.answerable:
            top1.append(float(labels[int(np.argmax(scores))] == 1))
            answerable.append(p_answer)
        else:
            unanswerable.append(p_answer)
    model.train()
    best_acc = 0.0
    for t in np.linspace(0.02, 0.98, 49):
        right = sum(1 for p in answerable if p >= t) + sum(1 for p in unanswerable if p < t)
        best_acc = max(best_acc, right / max(1, len(answerable) + len(unanswerable)))
    return {
        "top1": float(np.mean(top1)) if top1 else 0.0,
        "auc": auc(answerable, unanswerable),
        "decision": best_acc,
        "groups": float(len(top1) + len(unanswerable)),
    }


def selection_key(metrics: dict[str, float]) -> float:
    """The validation figure the best step is chosen by: reading right and declining right."""
    return metrics["top1"] + metrics["auc"]


def _save(path: Path, state: dict[str, Any]) -> None:
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def train(
    base_path: str,
    policy: Sequence[ReaderGroup],
    other: Sequence[ReaderGroup],
    validation: Sequence[ReaderGroup],
    recipe: ReaderRecipe,
    folder: Path,
    *,
    on_progress: Callable[[int, float, dict[str, float] | None], None] | None = None,
    stop_after: int | None = None,
) -> list[dict[str, float]]:
    """Train (or resume) in ``folder``; returns the learning curve. ``stop_after`` ends this
    stretch after that many steps (the run resumes from its checkpoint next time)."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(recipe.seed)
    torch.set_num_threads(recipe.threads)
    model = build_model(base_path, recipe.layers, recipe.max_length)
    model[0].auto_model.embeddings.word_embeddings.weight.requires_grad_(False)
    null = torch.nn.Parameter(torch.zeros(()))
    head = list(model[2].parameters())
    body = [p for p in model.parameters() if p.requires_grad and all(p is not h for h in head)]
    optim = torch.optim.AdamW(
        [
            {"params": body, "lr": recipe.learning_rate},
            {"params": [*head, null], "lr": recipe.head_learning_rate},
        ],
        weight_decay=0.01,
    )
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, warmup_cosine(recipe.warmup_steps, recipe.steps)
    )
    curve: list[dict[str, float]] = []
    best_key = -math.inf
    step = 0
    seconds = 0.0
    ckpt = folder / CHECKPOINT
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        if state["recipe"] != asdict(recipe):
            raise ValueError(f"{ckpt} was written by another recipe; use another folder")
        model.load_state_dict(state["model"])
        with torch.no_grad():
            null.copy_(state["null"])
        optim.load_state_dict(state["optim"])
        sched.load_state_dict(state["sched"])
        torch.set_rng_state(state["torch_rng"])
        step, curve, best_key, seconds = (
            state["step"],
            state["curve"],
            state["best_key"],
            state["seconds"],
        )
        logger.info("resumed at step %d (%.0f s trained)", step, seconds)
    batches = Batches(policy, other, recipe)
    params = [p for group in optim.param_groups for p in group["params"]]
    model.train()
    started = time.perf_counter() - seconds
    stretch = 0
    while step < recipe.steps and (stop_after is None or stretch < stop_after):
        rng = random.Random(recipe.seed + 7 * step)
        losses = []
        for g in batches.at(step):
            texts, labels = _sample(g, recipe.candidates_per_group, rng)
            logits = score_pairs(model, [(g.question, t) for t in texts])
            losses.append(group_loss(logits, null, labels))
        loss = torch.stack(losses).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optim.step()
        sched.step()
        optim.zero_grad()
        step += 1
        stretch += 1
        metrics = None
        if step % recipe.eval_every == 0 or step == recipe.steps:
            metrics = evaluate(model, float(null.item()), validation, recipe.eval_top)
            metrics.update(
                step=float(step),
                loss=round(float(loss.item()), 4),
                seconds=round(time.perf_counter() - started, 1),
                null=round(float(null.item()), 4),
            )
            curve.append(metrics)
            key = selection_key(metrics)
            if key > best_key:
                best_key = key
                _save(
                    folder / BEST,
                    {"model": model.state_dict(), "null": float(null.item()), "step": step},
                )
            (folder / CURVE).write_text(json.dumps(curve, indent=2), encoding="utf-8")
        if step % recipe.checkpoint_every == 0 or step == recipe.steps or metrics is not None:
            _save(
                ckpt,
                {
                    "recipe": asdict(recipe),
                    "model": model.state_dict(),
                    "null": null.detach().clone(),
                    "optim": optim.state_dict(),
                    "sched": sched.state_dict(),
                    "torch_rng": torch.get_rng_state(),
                    "step": step,
                    "curve": curve,
                    "best_key": best_key,
                    "seconds": time.perf_counter() - started,
                },
            )
        if on_progress is not None:
            on_progress(step, float(loss.item()), metrics)
    return curve


def load_best(base_path: str, recipe: ReaderRecipe, folder: Path) -> tuple[Any, float, int]:
    """The model of the best validation step, its no-answer logit and that step."""
    import torch

    model = build_model(base_path, recipe.layers, recipe.max_length)
    state = torch.load(folder / BEST, weights_only=False)
    model.load_state_dict(state["model"])
    model.eval()
    return model, float(state["null"]), int(state["step"])


def export(model: Any, null: float, folder: Path, *, extra: dict[str, Any]) -> dict[str, Any]:
    """The int8 ONNX reader in ``folder``: ``model.onnx``, ``tokenizer.json`` and ``scorer.json``
    with the no-answer logit and ``extra`` (recipe, step, fingerprint)."""
    spec = export_onnx(model, folder, quantize=True)
    spec.update(null_logit=round(null, 6), **extra)
    (folder / "scorer.json").write_text(json.dumps(spec, indent=2), encoding="utf-8")
    return spec
