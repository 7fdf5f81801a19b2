"""Choosing how the answerer uses the exported reader, on validation groups only.

The exported int8 reader (the model the query path runs) scores every validation group cut to its
``top`` candidates, as ``ask()`` shows them. Then:

- **threshold**: the P(answer) below which the answerer declines, chosen to maximise the share of
  right decisions — an answerable question answered with a gold sentence, an unanswerable one
  declined — over the policy-qa validation groups (the domain) and the SQuAD validation groups,
  each set weighing half;
- **extra_sentence_ratio**: the share of the best sentence's probability a further sentence
  needs to be cited, chosen by the mean F1 of the cited sentences against the gold ones over the
  answerable groups answered at that threshold.

Nothing here reads a set that is reported: policy-qa's ``validation.jsonl`` and the SQuAD
validation articles are the recipe's validation data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.answering.extractive import reaches
from rag.answering.reader import listwise_probabilities
from rag.answering.scorer import CrossEncoder
from rag.training.reader_data import ReaderGroup

THRESHOLDS = tuple(round(float(t), 3) for t in np.arange(0.05, 0.96, 0.025))
RATIOS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


@dataclass(frozen=True)
class Read:
    """One validation group as the reader saw it."""

    source: str
    answerable: bool
    labels: tuple[int, ...]
    shares: np.ndarray
    p_answer: float

    @property
    def best_is_gold(self) -> bool:
        return bool(self.labels) and self.labels[int(np.argmax(self.shares))] == 1


def read_groups(reader: CrossEncoder, groups: Sequence[ReaderGroup], top: int) -> list[Read]:
    assert reader.null_logit is not None
    out = []
    for g in groups:
        texts, labels = g.as_read(top)
        logits = reader.score(g.question, list(texts))
        shares, p_answer = listwise_probabilities(logits, reader.null_logit)
        out.append(Read(g.source, g.answerable, tuple(labels), shares, p_answer))
    return out


def right_decisions(reads: Sequence[Read], threshold: float) -> float:
    """Share of right decisions: answered with a gold sentence, or declined when unanswerable."""
    if not reads:
        return 0.0
    right = sum(
        (r.p_answer >= threshold and r.best_is_gold) if r.answerable else (r.p_answer < threshold)
        for r in reads
    )
    return right / len(reads)


def threshold_curve(policy: Sequence[Read], squad: Sequence[Read]) -> list[dict[str, float]]:
    rows = []
    for t in THRESHOLDS:
        p, s = right_decisions(policy, t), right_decisions(squad, t)
        answerable = [r for r in policy if r.answerable]
        rows.append(
            {
                "threshold": t,
                "policy_right": round(p, 4),
                "squad_right": round(s, 4),
                "mean": round((p + s) / 2 if squad else p, 4),
                "policy_answerable_declined": round(
                    sum(r.p_answer < t for r in answerable) / max(1, len(answerable)), 4
                ),
                "policy_unanswerable_declined": round(
                    sum(r.p_answer < t for r in policy if not r.answerable)
                    / max(1, sum(not r.answerable for r in policy)),
                    4,
                ),
            }
        )
    return rows


def choose_threshold(curve: Sequence[dict[str, float]]) -> float:
    """The threshold of the best mean share of right decisions (ties: the lower threshold)."""
    best = max(row["mean"] for row in curve)
    return min(row["threshold"] for row in curve if row["mean"] == best)


def cited_f1(r: Read, ratio: float, max_sentences: int = 3) -> float:
    """F1 of the sentences the answerer would cite (the best, then those whose probability
    reaches ``ratio`` of its, at most ``max_sentences``) against the gold ones."""
    best = float(r.shares.max())
    order = [int(i) for i in np.argsort(-r.shares, kind="stable")]
    cited = {i for i in order if reaches(float(r.shares[i]), best, ratio)}
    cited = set([i for i in order if i in cited][:max_sentences])
    gold = {i for i, y in enumerate(r.labels) if y == 1}
    hit = len(cited & gold)
    if not hit:
        return 0.0
    precision, recall = hit / len(cited), hit / len(gold)
    return 2 * precision * recall / (precision + recall)


def ratio_curve(reads: Sequence[Read], threshold: float) -> list[dict[str, float]]:
    answered = [r for r in reads if r.answerable and r.p_answer >= threshold and 1 in r.labels]
    return [
        {
            "ratio": ratio,
            "mean_f1": round(
                float(np.mean([cited_f1(r, ratio) for r in answered])) if answered else 0.0, 4
            ),
        }
        for ratio in RATIOS
    ]


def choose_ratio(curve: Sequence[dict[str, float]]) -> float:
    best = max(row["mean_f1"] for row in curve)
    return max(row["ratio"] for row in curve if row["mean_f1"] == best)
