"""How many sentences an answer cites, chosen on validation articles.

The answerer cites its best sentence, plus further ones (up to ``answer_max_sentences``) whose
probability reaches ``extra_sentence_ratio`` of the best one's. The ratio trades finding a gold
sentence (a second sentence rescues a question whose best sentence is wrong) against citing
sentences that do not answer. It is chosen on the validation questions that the answerer
answers (answerable, as asked, at the chosen threshold) by the mean per-question F1 of the cited
sentences against the gold ones; ties go to the higher ratio (fewer sentences). The sentences a
cited one needs to be understood (a leading "This …", a list it announces) and the one-speaker
rule of who-questions are left out: they add the same sentences at every ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rag.answering.extractive import reaches
from rag.answering.scorer import LogisticModel

#: The ratios compared: 0.30, 0.35, …, 1.00 (1.00: the best sentence alone, unless another ties).
RATIOS = tuple(round(0.3 + 0.05 * i, 2) for i in range(15))


@dataclass(frozen=True)
class RatioPoint:
    """One ratio on validation, over the answerable questions the answerer answers."""

    ratio: float
    questions: int
    found: float  # a gold sentence is among those cited
    precision: float  # cited sentences (with a known label) that are gold, per question
    f1: float  # per question, cited against gold sentences
    sentences: float  # cited, per question


def cited(probabilities: np.ndarray, ratio: float, max_sentences: int) -> np.ndarray:
    """The indices the answerer cites: the best, then others in order of probability that reach
    ``ratio`` of the best's, ``max_sentences`` in all."""
    order = np.argsort(-probabilities, kind="stable")
    best = probabilities[order[0]]
    extra = [int(j) for j in order[1:max_sentences] if reaches(probabilities[j], best, ratio)]
    return np.asarray([int(order[0]), *extra], dtype=np.int64)


def answered_sets(
    features: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    answered: Sequence[bool],
    first: LogisticModel,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(stage 1's probabilities, labels) of each question that is ``answered`` and has a gold
    sentence among its candidates (labels: 1 gold, 0 not, -1 unknown)."""
    return [
        (first.predict(f), y)
        for f, y, kept in zip(features, labels, answered, strict=True)
        if kept and (y == 1).any()
    ]


def ratio_point(
    answered: Sequence[tuple[np.ndarray, np.ndarray]], ratio: float, max_sentences: int
) -> RatioPoint:
    found = precision = f1 = sentences = 0.0
    for p, y in answered:
        chosen = y[cited(p, ratio, max_sentences)]
        right = int((chosen == 1).sum())
        known = int((chosen >= 0).sum())
        gold = int((y == 1).sum())
        found += right > 0
        precision += right / known if known else 1.0
        f1 += 2 * right / (known + gold)
        sentences += len(chosen)
    n = max(len(answered), 1)
    return RatioPoint(
        ratio, len(answered), found / n, precision / n, round(f1 / n, 6), sentences / n
    )


@dataclass(frozen=True)
class RatioCurve:
    """Every ratio compared, at ``max_sentences``."""

    max_sentences: int
    points: tuple[RatioPoint, ...]

    def chosen(self) -> RatioPoint:
        """The best mean F1; ties go to the higher ratio (fewer sentences cited)."""
        return max(self.points, key=lambda p: (p.f1, p.ratio))

    def report(self) -> dict[str, Any]:
        return {
            "max_sentences": self.max_sentences,
            "chosen": asdict(self.chosen()),
            "curve": [asdict(p) for p in self.points],
        }


def ratio_curve(
    answered: Sequence[tuple[np.ndarray, np.ndarray]], max_sentences: int
) -> RatioCurve:
    return RatioCurve(max_sentences, tuple(ratio_point(answered, r, max_sentences) for r in RATIOS))


def ratio_card(report: dict[str, Any] | None) -> str:
    """The model card's paragraph and table on further answer sentences."""
    if not report:
        return ""
    chosen = report["chosen"]
    rows = "\n".join(
        f"| {p['ratio']:.2f} | {p['found']:.3f} | {p['precision']:.3f} | {p['f1']:.4f} | "
        f"{p['sentences']:.2f} |"
        for p in report["curve"]
        if round(p["ratio"] * 100) % 10 == 0 or p["ratio"] == chosen["ratio"]
    )
    return f"""
**Further answer sentences** (validation: the {chosen["questions"]:,} answerable questions,
as asked, that are answered at the threshold and have a gold sentence among the candidates, both
shapes). A further sentence is cited when its probability reaches the ratio below of the best
one's ({report["max_sentences"]} sentences at most); the ratio with the best mean F1 of the cited
sentences against the gold ones is chosen (ties: the higher ratio), **{chosen["ratio"]}**:

| ratio | gold sentence cited | precision | F1 | sentences |
|---|---|---|---|---|
{rows}
"""
