"""Choosing how many sentences an answer cites, on made-up validation questions (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answering.scorer import LogisticModel
from rag.training.sentence_choice import (
    RATIOS,
    answered_sets,
    cited,
    ratio_card,
    ratio_curve,
    ratio_point,
)


def test_the_best_then_others_that_reach_the_ratio_up_to_the_cap() -> None:
    p = np.array([0.2, 0.9, 0.7, 0.65, 0.1])
    assert cited(p, 1.0, 3).tolist() == [1]
    assert cited(p, 0.75, 3).tolist() == [1, 2]  # 0.7 ≥ 0.675, 0.65 is not
    assert cited(p, 0.5, 3).tolist() == [1, 2, 3]
    assert cited(p, 0.1, 2).tolist() == [1, 2]  # never more than the cap


def _question(p: list[float], y: list[int]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(p), np.asarray(y)


def test_f1_precision_and_sentences_of_one_ratio() -> None:
    answered = [
        _question([0.9, 0.8, 0.1], [0, 1, 0]),  # the best is wrong, the runner-up is gold
        _question([0.9, 0.5, 0.1], [1, 0, 0]),  # the best is gold, far ahead
    ]
    one = ratio_point(answered, 1.0, 3)
    assert (one.found, one.precision, one.f1, one.sentences) == (0.5, 0.5, 0.5, 1.0)
    two = ratio_point(answered, 0.85, 3)  # the runner-up of the first question joins
    assert two.found == 1.0 and two.sentences == 1.5
    assert two.precision == pytest.approx((0.5 + 1.0) / 2)
    assert two.f1 == pytest.approx((2 * 1 / 3 + 1.0) / 2)


def test_unknown_labels_count_neither_way() -> None:
    point = ratio_point([_question([0.9, 0.85], [1, -1])], 0.5, 3)
    assert point.precision == 1.0 and point.f1 == 1.0 and point.sentences == 2.0


def test_the_best_f1_is_chosen_and_a_tie_goes_to_fewer_sentences() -> None:
    answered = [
        _question([0.9, 0.8, 0.1], [0, 1, 0]),
        _question([0.9, 0.85, 0.1], [1, 0, 0]),
        _question([0.9, 0.2, 0.1], [1, 0, 0]),
    ]
    curve = ratio_curve(answered, 3)
    assert [p.ratio for p in curve.points] == list(RATIOS)
    best = max(p.f1 for p in curve.points)
    chosen = curve.chosen()
    assert chosen.f1 == best
    assert chosen.ratio == max(p.ratio for p in curve.points if p.f1 == best)
    report = curve.report()
    assert report["chosen"]["ratio"] == chosen.ratio and len(report["curve"]) == len(RATIOS)
    assert f"**{chosen.ratio}**" in ratio_card(report)


def test_only_answered_questions_with_a_gold_candidate_count() -> None:
    first = LogisticModel(("x",), np.zeros(1), np.ones(1), np.array([1.0]), 0.0)
    features = [np.array([[3.0], [1.0]]), np.array([[-3.0], [-4.0]]), np.array([[3.0], [2.0]])]
    labels = [np.array([1, 0]), np.array([1, 0]), np.array([0, 0])]
    kept = answered_sets(features, labels, [True, False, True], first)
    assert len(kept) == 1  # the second is declined, the third has no gold sentence
    p, y = kept[0]
    assert p[0] == pytest.approx(1 / (1 + np.exp(-3.0))) and y.tolist() == [1, 0]
