"""The recipe's selection rules: the three-way article split, the retrieval fusion and the
abstention threshold, each chosen on validation articles."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.settings import DenseScoring
from rag.training.logistic import ThresholdPoint
from rag.training.squad import SPLIT_SEED, TrainQuestion, split_articles

THRESHOLDS = np.round(np.arange(0.01, 0.96, 0.005), 3)


@dataclass(frozen=True)
class Split:
    train: frozenset[str]
    calibration: frozenset[str]
    validation: frozenset[str]

    def of(self, article: str) -> str:
        if article in self.train:
            return "train"
        return "calibration" if article in self.calibration else "validation"


def make_split(questions: Sequence[TrainQuestion], seed: int = SPLIT_SEED) -> Split:
    train_a, held = split_articles(
        [q.article for q in questions], validation_fraction=0.3, seed=seed
    )
    held_sorted = sorted(held)
    random.Random(seed + 1).shuffle(held_sorted)
    half = len(held_sorted) // 2
    return Split(frozenset(train_a), frozenset(held_sorted[:half]), frozenset(held_sorted[half:]))


#: RRF weights of the dense ranking tried on validation (the BM25 ranking weighs 1.0).
DENSE_WEIGHTS = (0.0, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.75, 1.0, 1.5)


#: How the dense ranking scores FAISS's candidates, tried on validation (see rag.retrieval).
DENSE_SCORINGS: tuple[DenseScoring, ...] = ("chunk", "sentence")

#: RRF constants tried on validation: small ones weigh a list's top ranks more against its tail.
RRF_KS = (10, 20, 40, 60, 100)


@dataclass(frozen=True)
class FusionPoint:
    dense_weight: float
    hit_at_1: float
    hit_at_5: float
    dense_scoring: DenseScoring
    rrf_k: int


def choose_fusion(curve: Sequence[FusionPoint], questions: int) -> FusionPoint:
    """The answerer re-reads every sentence of the top passages, so retrieval is chosen for
    recall: among the points whose hit@5 is within one standard error of the best (over
    ``questions`` questions; closer than that is noise), the best hit@1; ties broken by the
    smaller dense weight, the cheaper chunk scoring and the larger RRF constant."""
    best = max(p.hit_at_5 for p in curve)
    tolerance = math.sqrt(best * (1 - best) / max(questions, 1))
    near = [p for p in curve if p.hit_at_5 >= best - tolerance - 1e-9]
    return max(
        near,
        key=lambda p: (
            round(p.hit_at_1, 6),
            round(p.hit_at_5, 6),
            -p.dense_weight,
            p.dense_scoring == "chunk",
            p.rrf_k,
        ),
    )


MAX_ANSWERABLE_DECLINED = 0.10


def choose_threshold(
    curve: Sequence[ThresholdPoint], max_declined: float = MAX_ANSWERABLE_DECLINED
) -> ThresholdPoint:
    """The product's rule: decline as many unanswerable questions as possible while declining at
    most ``max_declined`` of the answerable ones (on validation articles)."""
    allowed = [p for p in curve if p.answerable_declined <= max_declined]
    if not allowed:
        return min(curve, key=lambda p: p.threshold)
    return max(allowed, key=lambda p: (p.unanswerable_declined, -p.threshold))
