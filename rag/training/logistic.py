"""Fitting the scorer's logistic models (Newton's method with an L2 penalty), and choosing the
abstention threshold on validation data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.answering.scorer import LogisticModel, sigmoid, with_interactions


def fit_logistic(
    matrix: np.ndarray,
    labels: np.ndarray,
    features: Sequence[str],
    *,
    l2: float = 1.0,
    iterations: int = 50,
    interactions: bool = False,
) -> LogisticModel:
    """Maximum a-posteriori logistic regression on standardised features (and, with
    ``interactions``, on their pairwise products too)."""
    x = matrix.astype(np.float64)
    if interactions:
        x = with_interactions(x)
    y = labels.astype(np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    for _ in range(iterations):
        p = sigmoid(z @ w)
        grad = z.T @ (p - y) + penalty * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return LogisticModel(tuple(features), mean, scale, w[:-1], float(w[-1]), interactions)


@dataclass(frozen=True)
class ThresholdPoint:
    threshold: float
    answered_correct: float  # answerable questions whose best sentence is right and kept
    answerable_declined: float
    unanswerable_declined: float
    precision: float  # right answers / answers given
    balanced: float  # mean of answered-correct and unanswerable-declined
    # Unanswerable questions declined, by how they were made (when the curve was given kinds).
    declined_by_kind: dict[str, float] = field(default_factory=dict)


def threshold_curve(
    best_prob: np.ndarray,
    best_correct: np.ndarray,
    answerable: np.ndarray,
    thresholds: np.ndarray,
    kinds: np.ndarray | None = None,
) -> list[ThresholdPoint]:
    """For each threshold, what abstaining below it does to answerable and unanswerable
    questions (one row per question: its probability, whether its best sentence is right, and
    optionally how the question was made)."""
    out: list[ThresholdPoint] = []
    n_ans = max(1, int(answerable.sum()))
    n_un = max(1, int((~answerable).sum()))
    groups = sorted(set(kinds[~answerable].tolist())) if kinds is not None else []
    for t in thresholds:
        keep = best_prob >= t
        right = keep & answerable & best_correct
        answered = int(keep.sum())
        answered_correct = float(right.sum() / n_ans)
        unanswerable_declined = float((~keep & ~answerable).sum() / n_un)
        by_kind = (
            {
                str(g): float(
                    (~keep & ~answerable & (kinds == g)).sum()
                    / ((~answerable) & (kinds == g)).sum()
                )
                for g in groups
            }
            if kinds is not None
            else {}
        )
        out.append(
            ThresholdPoint(
                threshold=round(float(t), 4),
                answered_correct=answered_correct,
                answerable_declined=float((~keep & answerable).sum() / n_ans),
                unanswerable_declined=unanswerable_declined,
                precision=float(right.sum() / answered) if answered else 1.0,
                balanced=(answered_correct + unanswerable_declined) / 2,
                declined_by_kind=by_kind,
            )
        )
    return out
