"""The learned scorer's parts without a model: features, logistic stages, thresholds, and the
answerer's assembly on off-domain sentences with a stand-in scorer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.answering.base import answer_policy
from rag.answering.evidence import Candidate
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.features import BASE_FEATURES, candidate_features
from rag.answering.question import QuestionAnalysis, analyse_question
from rag.answering.scorer import AnswerScorer, LogisticModel, ScoredCandidates, ScorerSpec
from rag.errors import ModelError
from rag.settings import Settings
from rag.training.logistic import fit_logistic, threshold_curve
from rag.training.selection import choose_threshold
from tests.unit.answering_fakes import candidates_from, unit_vectors

SPEECH = (
    "The General Assembly opened its debate in New York. "
    "“Multilateralism is not a slogan,” said António Guterres, the Secretary-General. "
    "Recep Tayyip Erdoğan said that Türkiye would keep mediating between the parties. "
    "The grain corridor carried 33 million tonnes before it closed in July 2023."
)


def col(matrix: np.ndarray, name: str) -> np.ndarray:
    return matrix[:, BASE_FEATURES.index(name)]


def test_features_reward_overlap_type_and_similarity() -> None:
    cands = candidates_from("ungd:1", SPEECH)
    query = unit_vectors(cands)
    q = analyse_question("When did the grain corridor close?")
    feats = candidate_features(q, query, cands)
    assert feats.matrix.shape == (4, len(BASE_FEATURES))
    overlap = col(feats.matrix, "overlap_idf")
    assert int(np.argmax(overlap)) == 3  # grain, corridor, close
    assert col(feats.matrix, "type_found")[3] == 1.0 and feats.typed[3] == ["July 2023"]
    assert col(feats.matrix, "type_missing")[1] == 1.0
    assert col(feats.matrix, "cosine")[0] == pytest.approx(1.0, abs=1e-5)
    assert col(feats.matrix, "cosine_rank")[0] == 1.0
    assert np.all(col(feats.matrix, "best_cosine") == col(feats.matrix, "cosine").max())


def test_features_flag_question_specifics_missing_from_the_evidence() -> None:
    cands = candidates_from("ungd:1", SPEECH)
    q = analyse_question("What did the corridor carry in 2019?")
    feats = candidate_features(q, None, cands)
    assert col(feats.matrix, "missing_specifics")[3] == 1.0
    assert np.all(col(feats.matrix, "cosine") == 0.0)  # no vectors: no similarity


def test_each_candidate_knows_how_long_its_document_is() -> None:
    note = "The corridor closed in July 2023."
    cands = candidates_from("ungd:1", SPEECH) + candidates_from("note:1", note, rank=2)
    feats = candidate_features(analyse_question("When did the corridor close?"), None, cands)
    length = col(feats.matrix, "document_length")
    assert length[:4] == pytest.approx([np.log1p(len(SPEECH))] * 4)
    assert length[4] == pytest.approx(np.log1p(len(note))) and length[4] < length[0]


def test_features_of_no_candidates() -> None:
    feats = candidate_features(analyse_question("Why?"), None, [])
    assert feats.matrix.shape == (0, len(BASE_FEATURES)) and feats.typed == []


def test_logistic_fit_recovers_a_separating_feature_and_round_trips() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 1] + 0.1 * rng.normal(size=400) > 0).astype(float)
    model = fit_logistic(x, y, ("a", "b", "c"))
    assert abs(model.weights[1]) > 5 * max(abs(model.weights[0]), abs(model.weights[2]))
    p = model.predict(x)
    assert ((p > 0.5) == (y == 1)).mean() > 0.9
    again = LogisticModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert np.allclose(again.predict(x), p, atol=1e-4)


def test_malformed_models_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        LogisticModel.from_dict(
            {"features": ["a"], "mean": [0, 1], "scale": [1], "weights": [1], "bias": 0}
        )
    (tmp_path / "scorer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="train-answerer"):
        ScorerSpec.read(tmp_path)


def test_a_model_with_the_removed_stacked_stage_is_refused(tmp_path: Path) -> None:
    """Models from before the stacked cross-encoder stage was removed carry ``second`` and
    ``rerank_top``: unused (null, 0) they load; a stage 2 in use is refused, not ignored."""
    first = LogisticModel(
        BASE_FEATURES,
        np.zeros(len(BASE_FEATURES)),
        np.ones(len(BASE_FEATURES)),
        np.zeros(len(BASE_FEATURES)),
        0.0,
    )
    raw = {"first": first.to_dict(), "threshold": 0.5, "extra_sentence_ratio": 0.8}
    spec = ScorerSpec.from_dict({**raw, "second": None, "rerank_top": 0})
    assert spec.first.features == BASE_FEATURES and spec.threshold == 0.5
    for used in ({"second": first.to_dict(), "rerank_top": 8}, {"rerank_top": 8}):
        with pytest.raises(ModelError, match="stacked cross-encoder") as info:
            ScorerSpec.from_dict({**raw, **used})
        assert "train-answerer" in (info.value.hint or "")


def test_threshold_rule_declines_at_most_a_tenth_of_answerable_questions() -> None:
    best = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.35, 0.25, 0.15])
    right = np.array([True] * 10 + [False] * 3)
    answerable = np.array([True] * 10 + [False] * 3)
    curve = threshold_curve(best, right, answerable, np.array([0.1, 0.2, 0.3, 0.4]))
    point = choose_threshold(curve)
    assert point.answerable_declined <= 0.1
    assert point.threshold == 0.2 and point.unanswerable_declined == pytest.approx(1 / 3)


class FixedScorer(AnswerScorer):
    """Stand-in for the trained model: a probability per sentence, chosen by the test."""

    def __init__(self, probabilities: dict[str, float], extra_sentence_ratio: float = 0.8) -> None:
        self.probabilities = probabilities
        self.extra_sentence_ratio = extra_sentence_ratio  # the stand-in model's own
        self.rerank_top = 0

    @property
    def threshold(self) -> float:
        return 0.5

    def score(
        self, q: QuestionAnalysis, query_vector: np.ndarray | None, candidates: list[Candidate]
    ) -> ScoredCandidates:
        p = np.array([self.probabilities.get(c.sentence.text[:20], 0.05) for c in candidates])
        order = np.argsort(-p, kind="stable")
        feats = candidate_features(q, query_vector, candidates)
        return ScoredCandidates(
            [candidates[i] for i in order],
            p[order],
            [feats.typed[i] for i in order],
            float(p.max()) if len(p) else 0.0,
            self.threshold,
            self.extra_sentence_ratio,
        )


def answerer(probabilities: dict[str, float]) -> ExtractiveAnswerer:
    policy = answer_policy(Settings(abstain_threshold=0.5))
    return ExtractiveAnswerer(FixedScorer(probabilities), policy)


def test_who_question_names_the_speaker_of_the_chosen_sentence() -> None:
    cands = candidates_from("ungd:1", SPEECH)
    probs = {"“Multilateralism is ": 0.6, "Recep Tayyip Erdoğan": 0.9}
    answer = answerer(probs).answer(
        "Who said Türkiye would keep mediating?", None, cands, [cands[0].passage]
    )
    assert not answer.abstained
    assert answer.short_answer == "Recep Tayyip Erdoğan"
    assert [c.speaker for c in answer.citations] == ["Recep Tayyip Erdoğan"]  # not Guterres too


def test_two_sentences_when_both_are_likely_and_the_short_answer_is_pinned() -> None:
    cands = candidates_from("ungd:1", SPEECH)
    probs = {"The grain corridor c": 0.9, "The General Assembly": 0.8}
    answer = answerer(probs).answer("When did the corridor close?", None, cands, [])
    assert len(answer.citations) == 2
    assert answer.short_answer == "July 2023"
    assert answer.answer.endswith("[2]") and answer.confidence == pytest.approx(0.9)
    for c in answer.citations:
        assert SPEECH[c.char_start : c.char_end] == c.quote


def test_the_models_ratio_decides_further_sentences_unless_the_policy_sets_one() -> None:
    cands = candidates_from("ungd:1", SPEECH)
    probs = {"The grain corridor c": 0.9, "The General Assembly": 0.6}
    question = "When did the corridor close?"
    scorer = FixedScorer(probs, extra_sentence_ratio=0.7)  # 0.6 < 0.7 × 0.9: one sentence
    model = ExtractiveAnswerer(scorer, answer_policy(Settings(abstain_threshold=0.5)))
    assert len(model.answer(question, None, cands, []).citations) == 1
    policy = answer_policy(Settings(abstain_threshold=0.5, extra_sentence_ratio=0.6))
    assert len(ExtractiveAnswerer(scorer, policy).answer(question, None, cands, []).citations) == 2


def test_abstains_below_the_threshold_and_says_why() -> None:
    cands = candidates_from("ungd:1", SPEECH)
    answer = answerer({"The grain corridor c": 0.3}).answer("How much wheat?", None, cands, [])
    assert answer.abstained and answer.citations == []
    assert "0.300 < threshold 0.500" in answer.warnings[0]


def test_a_leading_pronoun_brings_its_antecedent() -> None:
    text = "The mission opened an office in Juba. It closed the office in 2021 after attacks."
    cands = candidates_from("doc", text)
    answer = answerer({"It closed the office": 0.9}).answer(
        "When was the office closed?", None, cands, []
    )
    assert [c.quote[:11] for c in answer.citations] == ["The mission", "It closed t"]
