"""Model (b): the bi-encoder fine-tuned on (question, answer sentence) pairs, on validation.

Fine-tunes the bundled all-MiniLM-L6-v2 with in-batch negatives plus one hard negative per
question (the most similar wrong candidate that retrieval gave it), the multiple-negatives ranking
loss, from the feature rows ``rag train-answerer`` caches in its work folder. It is measured the
way it would serve the answerer: ranking each validation question's candidate sentences by
cosine, against the shipped model's cosine on the very same candidates. Shipping it would mean
re-embedding every index and refitting the scorer on its cosines, so it only reports::

    python -m rag.training.bi_encoder --work .rag/train --steps 200 --out results/bi-encoder.json

Not part of ``make test`` or CI (torch, ``../shared``-derived rows, minutes of CPU).
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.answering.features import BASE_FEATURES
from rag.training.schedule import cycling_batches, warmup_cosine

logger = logging.getLogger(__name__)

COSINE = BASE_FEATURES.index("cosine")


@dataclass(frozen=True)
class BiEncoderRecipe:
    steps: int = 200
    batch_size: int = 32
    max_length: int = 64
    learning_rate: float = 2e-5
    warmup_steps: int = 20
    scale: float = 20.0  # cosine → logit, as sentence-transformers' MultipleNegativesRankingLoss
    seed: int = 13
    threads: int = 2


@dataclass(frozen=True)
class Triple:
    question: str
    positive: str
    hard_negative: str | None


def triples_from(rows: Any) -> list[Triple]:
    """(question, gold sentence, most similar wrong candidate) for every asked answerable
    question whose gold sentence was retrieved (``rows``: the recipe's ``Rows``)."""
    out: list[Triple] = []
    for f, y, q, sents, kind in zip(
        rows.features, rows.labels, rows.question, rows.sentences, rows.kind, strict=True
    ):
        if kind != "asked" or not (y == 1).any():
            continue
        pos = int(np.flatnonzero(y == 1)[0])
        negs = np.flatnonzero(y == 0)
        hard = int(negs[np.argmax(f[negs, COSINE])]) if len(negs) else None
        out.append(Triple(q, sents[pos], sents[hard] if hard is not None else None))
    return out


def cosine_top1(rows: Any, scores: Callable[[str, Sequence[str]], np.ndarray]) -> float:
    """Share of asked answerable questions (gold sentence retrieved) whose most similar candidate
    is a gold sentence, with ``scores(question, sentences)`` as the similarity."""
    hits = n = 0
    for y, q, sents, kind in zip(
        rows.labels, rows.question, rows.sentences, rows.kind, strict=True
    ):
        if kind != "asked" or not (y == 1).any():
            continue
        s = scores(q, sents)
        best = int(np.argmax(np.where(y >= 0, s, -np.inf)))
        hits += int(y[best] == 1)
        n += 1
    return hits / max(1, n)


def train(
    base_path: str,
    triples: Sequence[Triple],
    recipe: BiEncoderRecipe,
    on_progress: Callable[[int, float], None] | None = None,
) -> Any:
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(recipe.seed)
    torch.set_num_threads(recipe.threads)
    rng = random.Random(recipe.seed)
    model = SentenceTransformer(base_path, device="cpu")
    model.max_seq_length = recipe.max_length
    model.train()
    optim = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=0.01)

    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, warmup_cosine(recipe.warmup_steps, recipe.steps)
    )
    batches = cycling_batches(triples, recipe.batch_size, rng)

    def embed(texts: list[str]) -> Any:
        features = model.tokenize(texts)
        out = model(features)["sentence_embedding"]
        return torch.nn.functional.normalize(out, dim=-1)

    for step in range(recipe.steps):
        batch = next(batches)
        docs = [t.positive for t in batch] + [t.hard_negative for t in batch if t.hard_negative]
        q = embed([t.question for t in batch])
        d = embed(docs)
        logits = recipe.scale * q @ d.T
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
        optim.zero_grad()
        loss.backward()
        optim.step()
        sched.step()
        if on_progress is not None:
            on_progress(step + 1, float(loss))
    model.eval()
    return model


def encoder_scores(model: Any) -> Callable[[str, Sequence[str]], np.ndarray]:
    """Cosine of a question with sentences, each text encoded once (cached)."""
    cache: dict[str, np.ndarray] = {}

    def vectors(texts: Sequence[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in cache]
        if todo:
            enc = model.encode(todo, batch_size=64, normalize_embeddings=True)
            cache.update(zip(todo, np.asarray(enc, dtype=np.float32), strict=True))
        return np.vstack([cache[t] for t in texts])

    def scores(question: str, sentences: Sequence[str]) -> np.ndarray:
        return vectors(list(sentences)) @ vectors([question])[0]

    return scores


def features_cosine(rows: Any) -> Callable[[str, Sequence[str]], np.ndarray]:
    """The shipped encoder's cosines, as the features recorded them."""
    by_question = {
        q: f[:, COSINE]
        for q, f, kind in zip(rows.question, rows.features, rows.kind, strict=True)
        if kind == "asked"
    }
    return lambda question, sentences: by_question[question]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.training.bi_encoder", description=__doc__)
    parser.add_argument("--work", required=True, help="rag train-answerer's work folder")
    parser.add_argument("--rows", default="rows-w0.3.pkl", help="feature-row cache in --work")
    parser.add_argument("--steps", type=int, default=BiEncoderRecipe.steps)
    parser.add_argument("--seed", type=int, default=BiEncoderRecipe.seed)
    parser.add_argument("--out", help="write the figures as JSON here")
    parser.add_argument("--save", help="save the fine-tuned model (sentence-transformers) here")
    args = parser.parse_args(argv)
    from rag.embedding import default_model_path

    with (Path(args.work) / args.rows).open("rb") as handle:
        rows = pickle.load(handle)["rows"]
    recipe = BiEncoderRecipe(steps=args.steps, seed=args.seed)
    triples = triples_from(rows["train"])
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.0f} s] {message}", file=sys.stderr, flush=True)

    log(f"{len(triples)} training questions; {recipe.steps} steps of {recipe.batch_size}")
    base_top1 = cosine_top1(rows["validation"], features_cosine(rows["validation"]))
    log(f"shipped encoder: validation cosine top-1 {base_top1:.3f}")

    def progress(step: int, loss: float) -> None:
        if step % 20 == 0:
            log(f"  step {step}: loss {loss:.3f}")

    model = train(default_model_path(), triples, recipe, progress)
    if args.save:
        model.save(args.save)
    tuned_top1 = cosine_top1(rows["validation"], encoder_scores(model))
    log(f"fine-tuned encoder: validation cosine top-1 {tuned_top1:.3f}")
    result = {
        "recipe": asdict(recipe),
        "train_questions": len(triples),
        "validation_cosine_top1": {"shipped": base_top1, "fine_tuned": tuned_top1},
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result["validation_cosine_top1"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
