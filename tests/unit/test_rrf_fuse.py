"""Reciprocal rank fusion on hand-made rankings (no index, no model)."""

from __future__ import annotations

import pytest

from rag.retrieval import rrf_fuse

W = {"rrf_k": 60, "dense_weight": 1.0, "lexical_weight": 1.0}


def test_an_item_in_both_lists_beats_items_in_one() -> None:
    fused = rrf_fuse([(1, 0.9), (2, 0.8)], [(2, 7.0), (3, 6.0)], **W)
    assert fused[0].chunk_id == 2


def test_scores_are_the_weighted_sum_of_reciprocal_ranks() -> None:
    fused = rrf_fuse([(7, 0.5)], [(7, 3.0)], rrf_k=10, dense_weight=0.5, lexical_weight=2.0)
    assert fused[0].score == pytest.approx(0.5 / 11 + 2.0 / 11)


def test_hits_keep_each_retrievers_rank_and_raw_score() -> None:
    (only,) = rrf_fuse([(4, 0.25)], [], **W)
    assert only.dense is not None and only.dense.rank == 1 and only.dense.score == 0.25
    assert only.lexical is None


def test_empty_inputs_give_nothing() -> None:
    assert rrf_fuse([], [], **W) == []


def test_zero_weight_removes_a_retrievers_influence() -> None:
    fused = rrf_fuse([(1, 0.9)], [(2, 9.0)], rrf_k=60, dense_weight=0.0, lexical_weight=1.0)
    assert [f.chunk_id for f in fused] == [2, 1]
    assert fused[1].score == 0.0


def test_ties_are_broken_by_dense_rank_then_id() -> None:
    # 5 is first in dense, 9 first in lexical: equal fused scores, dense rank decides.
    fused = rrf_fuse([(5, 0.9)], [(9, 3.0)], **W)
    assert [f.chunk_id for f in fused] == [5, 9]
    fused = rrf_fuse([], [(9, 3.0), (3, 3.0)], rrf_k=60, dense_weight=1.0, lexical_weight=0.0)
    assert [f.chunk_id for f in fused] == [3, 9]


def test_a_larger_k_flattens_the_ranks() -> None:
    steep = rrf_fuse([(1, 1.0), (2, 0.9)], [], rrf_k=1, dense_weight=1.0, lexical_weight=1.0)
    flat = rrf_fuse([(1, 1.0), (2, 0.9)], [], rrf_k=1000, dense_weight=1.0, lexical_weight=1.0)
    assert steep[0].score / steep[1].score > flat[0].score / flat[1].score


def test_every_input_id_appears_once() -> None:
    fused = rrf_fuse([(1, 0.1), (2, 0.1), (3, 0.1)], [(3, 1.0), (4, 1.0)], **W)
    assert sorted(f.chunk_id for f in fused) == [1, 2, 3, 4]


class _Sentences:
    """A snapshot that knows only each chunk's best sentence score."""

    def __init__(self, best: dict[int, float]) -> None:
        self.best = best

    def best_sentence_scores(self, query: object, chunk_ids: list[int]) -> dict[int, float]:
        return {c: self.best[c] for c in chunk_ids if c in self.best}


def test_dense_candidates_are_reordered_by_their_best_sentence() -> None:
    from rag.retrieval import by_best_sentence

    dense = [(1, 0.70), (2, 0.65), (3, 0.60), (4, 0.55)]
    snap = _Sentences({1: 0.40, 2: 0.81, 3: 0.62})  # chunk 4 has no sentence vectors
    reordered = by_best_sentence(snap, None, dense)  # type: ignore[arg-type]
    assert reordered == [(2, 0.65), (3, 0.60), (4, 0.55), (1, 0.70)]  # chunk cosines kept
    assert by_best_sentence(snap, None, []) == []  # type: ignore[arg-type]
