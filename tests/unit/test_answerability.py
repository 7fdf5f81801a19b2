"""The answerability stage, the training-data variants behind it and the fusion-weight choice,
on small off-domain examples (no model, no index)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.answering.features import (
    ANSWERABILITY_FEATURES,
    BASE_FEATURES,
    LONE_CANDIDATE_GAP,
    answerability_features,
    candidate_features,
)
from rag.answering.fingerprint import FEATURE_MODULES, code_fingerprint
from rag.answering.question import analyse_question
from rag.answering.scorer import AnswerScorer, LogisticModel, ScorerSpec, bundled_model_dir
from rag.errors import ModelError
from rag.settings import DenseScoring, Settings
from rag.training.logistic import threshold_curve
from rag.training.selection import FusionPoint, choose_fusion
from rag.training.squad import (
    ANSWER_REMOVED,
    LabelledSet,
    TrainQuestion,
    answer_removed,
    article_of,
    in_long_documents,
    label,
    long_documents,
)
from tests.unit.answering_fakes import candidates_from

REPORT = (
    "The delegation arrived in Nairobi on Monday. "
    "The talks on the river treaty ended on 4 March 2021. "
    "Both sides agreed to share the flow data every month. "
    "The observers praised the result."
)


def constant_model(features: tuple[str, ...], weight_of: dict[str, float]) -> LogisticModel:
    n = len(features)
    weights = np.array([weight_of.get(f, 0.0) for f in features])
    return LogisticModel(features, np.zeros(n), np.ones(n), weights, 0.0)


def test_answerability_row_is_the_best_candidates_logit_lead_and_features() -> None:
    matrix = np.arange(3 * len(BASE_FEATURES), dtype=np.float32).reshape(3, -1)
    row = answerability_features(np.array([0.5, 2.0, 1.5]), matrix)
    assert row.shape == (len(ANSWERABILITY_FEATURES),)
    assert row[0] == 2.0 and row[1] == pytest.approx(0.5)
    assert np.array_equal(row[2:], matrix[1])
    lone = answerability_features(np.array([-1.0]), matrix[:1])
    assert lone[1] == LONE_CANDIDATE_GAP


def test_passage_cosine_is_absolute_and_shared_by_the_passage() -> None:
    cands = candidates_from("river", REPORT)  # the fake passage has a dense cosine of 0.5
    feats = candidate_features(analyse_question("When did the talks end?"), None, cands)
    assert np.all(feats.matrix[:, BASE_FEATURES.index("passage_cosine")] == 0.5)
    assert np.all(feats.matrix[:, BASE_FEATURES.index("best_passage_cosine")] == 0.5)


def write_spec(folder: Path, answerability: LogisticModel | None) -> None:
    first = constant_model(BASE_FEATURES, {"overlap_idf": 4.0})
    spec = {
        "format": 2,
        "first": first.to_dict(),
        "answerability": answerability.to_dict() if answerability else None,
        "threshold": 0.5,
        "extra_sentence_ratio": 0.8,
        "features_fingerprint": code_fingerprint(FEATURE_MODULES),
    }
    (folder / "scorer.json").write_text(json.dumps(spec), encoding="utf-8")


def test_the_answerability_model_decides_whether_to_answer(tmp_path: Path) -> None:
    # An answerability model that only trusts a large lead of the best sentence.
    lead_only = LogisticModel(
        ANSWERABILITY_FEATURES,
        np.zeros(len(ANSWERABILITY_FEATURES)),
        np.ones(len(ANSWERABILITY_FEATURES)),
        np.array([10.0 if f == "logit_gap" else 0.0 for f in ANSWERABILITY_FEATURES]),
        -20.0,
    )
    write_spec(tmp_path, lead_only)
    scorer = AnswerScorer.load(tmp_path, threads=1)
    cands = candidates_from("river", REPORT)
    clear = scorer.score(analyse_question("When did the river treaty talks end?"), None, cands)
    assert clear.candidates[0].sentence.text.startswith("The talks on the river treaty")
    assert clear.answer_probability > 0.99  # the best sentence leads by far
    vague = scorer.score(analyse_question("What colour were the flags?"), None, cands)
    assert float(vague.probabilities[0]) == pytest.approx(0.5)  # no sentence leads
    assert vague.answer_probability < 1e-6


def test_without_an_answerability_model_the_best_probability_decides(tmp_path: Path) -> None:
    write_spec(tmp_path, None)
    scorer = AnswerScorer.load(tmp_path, threads=1)
    q = analyse_question("When did the talks on the river treaty end?")
    result = scorer.score(q, None, candidates_from("river", REPORT))
    assert result.answer_probability == pytest.approx(float(result.probabilities[0]))
    assert scorer.score(q, None, []).answer_probability == 0.0


def test_an_answerability_model_for_other_features_is_refused(tmp_path: Path) -> None:
    write_spec(tmp_path, constant_model(("best_logit", "something_else"), {}))
    with pytest.raises(ModelError, match="train-answerer"):
        AnswerScorer.load(tmp_path, threads=1)


def test_answer_removed_takes_the_answer_out_of_the_evidence_and_its_context() -> None:
    cands = candidates_from("squad:Rivers:0", REPORT)
    q = TrainQuestion("q1", "When did the talks end?", ("4 March 2021",), True, "squad:Rivers:0")
    labels = [label(q, c) for c in cands]
    assert labels == [0, 1, 0, 0]
    removed = answer_removed(LabelledSet(q, cands, labels, None))
    assert removed.kind == ANSWER_REMOVED and not removed.question.answerable
    assert [c.sentence.ordinal for c in removed.candidates] == [0, 2, 3]
    assert removed.labels == [0, 0, 0]
    assert all("4 March 2021" not in (c.before or "") + (c.after or "") for c in removed.candidates)
    assert removed.candidates[2].before == cands[2].sentence.text  # other context is kept


def test_threshold_curve_reports_each_kind_of_unanswerable_question() -> None:
    p = np.array([0.9, 0.8, 0.2, 0.6, 0.1])
    right = np.array([True, True, False, False, False])
    answerable = np.array([True, True, False, False, False])
    kinds = np.array(["asked", "asked", "asked", "article_removed", "article_removed"])
    (point,) = threshold_curve(p, right, answerable, np.array([0.5]), kinds)
    assert point.declined_by_kind == {"article_removed": 0.5, "asked": 1.0}
    assert point.unanswerable_declined == pytest.approx(2 / 3)


def _point(
    w: float, h1: float, h5: float, scoring: DenseScoring = "chunk", k: int = 60
) -> FusionPoint:
    return FusionPoint(w, hit_at_1=h1, hit_at_5=h5, dense_scoring=scoring, rrf_k=k)


def test_fusion_weight_is_chosen_for_recall_then_precision() -> None:
    curve = [_point(0.1, 0.80, 0.93), _point(0.3, 0.76, 0.95), _point(0.5, 0.78, 0.95)]
    assert choose_fusion(curve, questions=100_000).dense_weight == 0.5


def test_recall_within_one_standard_error_of_the_best_is_a_tie_for_precision() -> None:
    best_recall = _point(1.0, 0.76, 0.959)
    sharper = _point(0.5, 0.79, 0.956)  # 0.3 points less: noise over 1,460 questions
    assert choose_fusion([best_recall, sharper], questions=1460) == sharper
    assert choose_fusion([best_recall, sharper], questions=100_000) == best_recall


def test_dense_scoring_is_chosen_like_the_weight_and_the_cheaper_one_wins_a_tie() -> None:
    chunk = _point(0.3, 0.76, 0.95, "chunk")
    better = _point(0.3, 0.79, 0.95, "sentence")
    assert choose_fusion([chunk, better], questions=1000) == better
    same = _point(0.3, 0.76, 0.95, "sentence")
    assert choose_fusion([same, chunk], questions=1000) == chunk


def test_the_rrf_constant_is_chosen_like_the_weight_and_the_larger_wins_a_tie() -> None:
    steep = _point(1.0, 0.79, 0.96, "sentence", k=10)
    assert choose_fusion([_point(0.3, 0.76, 0.95, "sentence"), steep], questions=1000) == steep
    flat = _point(1.0, 0.79, 0.96, "sentence", k=60)
    assert choose_fusion([steep, flat], questions=1000) == flat


def test_the_model_card_shows_the_curve_at_the_chosen_constant_and_the_best_of_each() -> None:
    from dataclasses import asdict

    from rag.training.card import fusion_card

    curve = [asdict(p) for p in (_point(0.3, 0.79, 0.95, k=60), _point(1.0, 0.76, 0.96, k=10))]
    at_k, by_k = fusion_card(curve, {"rrf_k": 10})
    assert at_k == "| chunk | 1.0 | 0.760 | 0.960 |"
    assert by_k.splitlines() == [
        "| 10 | chunk | 1.0 | 0.760 | 0.960 |",
        "| 60 | chunk | 0.3 | 0.790 | 0.950 |",
    ]


def test_the_model_card_shows_each_shape_of_the_validation_collection() -> None:
    from rag.training.card import shapes_card

    by_shape = {
        "paragraphs": {
            "answered_right": 0.714,
            "answerable_declined": 0.106,
            "declined_by_kind": {"asked": 0.103, "article_removed": 0.925},
        },
        "long": {
            "answered_right": 0.711,
            "answerable_declined": 0.094,
            "declined_by_kind": {"asked": 0.116, "article_removed": 0.921},
        },
    }
    card = shapes_card(by_shape, ["asked", "article_removed"])
    assert "| shape | answered right | answerable declined | SQuAD 2.0 unanswerable |" in card
    assert "| paragraphs | 0.714 | 0.106 | 0.103 | 0.925 |" in card
    assert "| long | 0.711 | 0.094 | 0.116 | 0.921 |" in card
    assert shapes_card({}, ["asked"]) == ""


PARAGRAPHS = [
    ("squad:Rivers:1", "Rivers", "The commission met again in 2019. It renewed the data rules."),
    ("squad:Rivers:0", "Rivers", "The river treaty was signed in 2019. Both banks ratified it."),
    ("squad:Deserts:0", "Deserts", "The survey crossed the dunes in 2019."),
]


def _long(tmp_path: Path) -> tuple[list[Any], dict[str, tuple[str, int, int]]]:
    path = tmp_path / "documents.jsonl"
    rows = [{"id": i, "title": t, "text": x} for i, t, x in PARAGRAPHS]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return long_documents(path)


def test_long_documents_join_each_articles_paragraphs_in_order(tmp_path: Path) -> None:
    documents, spans = _long(tmp_path)
    assert [d.id for d in documents] == ["long:Deserts", "long:Rivers"]
    rivers = documents[1]
    assert rivers.text.startswith("The river treaty") and "\n\nThe commission" in rivers.text
    for pid, _, text in PARAGRAPHS:
        doc_id, start, end = spans[pid]
        assert next(d for d in documents if d.id == doc_id).text[start:end] == text
    assert article_of("long:Rivers") == article_of("squad:Rivers:0") == "Rivers"


def test_in_a_long_document_only_the_gold_paragraphs_sentences_are_positive(
    tmp_path: Path,
) -> None:
    documents, spans = _long(tmp_path)
    (q,) = in_long_documents(
        [TrainQuestion("q", "When was the treaty signed?", ("2019",), True, "squad:Rivers:0")],
        spans,
    )
    assert (q.gold_doc_id, q.article) == ("long:Rivers", "Rivers")
    cands = candidates_from("long:Rivers", documents[1].text)
    # "2019" is in both paragraphs: the gold one's sentence is a positive, the other's unknown.
    assert [label(q, c) for c in cands] == [1, 0, -1, 0]
    passage = cands[0].passage
    assert q.found_in(passage)
    assert not q.found_in(passage.model_copy(update={"char_start": spans["squad:Rivers:1"][1]}))
    assert not q.found_in(passage.model_copy(update={"doc_id": "long:Deserts"}))


def test_bundled_model_and_settings_agree_with_the_training_report() -> None:
    folder = bundled_model_dir()
    report = json.loads((folder / "training-report.json").read_text(encoding="utf-8"))
    spec = ScorerSpec.read(folder)
    chosen = report["chosen"]
    assert spec.threshold == chosen["threshold"]["threshold"]
    assert (spec.answerability is not None) == chosen["answerability"]
    assert Settings().dense_weight == chosen["dense_weight"]
    assert Settings().dense_scoring == chosen.get("dense_scoring", "chunk")
    assert Settings().rrf_k == chosen.get("rrf_k", 60)
    assert Settings().abstain_threshold is None  # the model's own threshold by default
    assert spec.extra_sentence_ratio == report["further_sentences"]["chosen"]["ratio"]
    assert Settings().extra_sentence_ratio is None  # and its own ratio


def test_a_question_without_a_vector_is_scored_by_the_lexical_variant(tmp_path: Path) -> None:
    main = constant_model(BASE_FEATURES, {"cosine": 6.0})
    lexical = constant_model(BASE_FEATURES, {"overlap_idf": 6.0})
    spec = {
        "first": main.to_dict(),
        "threshold": 0.3,
        "extra_sentence_ratio": 0.7,
        "lexical": {
            "first": lexical.to_dict(),
            "threshold": 0.2,
            "extra_sentence_ratio": 0.9,
        },
        "features_fingerprint": code_fingerprint(FEATURE_MODULES),
    }
    (tmp_path / "scorer.json").write_text(json.dumps(spec), encoding="utf-8")
    scorer = AnswerScorer.load(tmp_path, threads=1)
    cands = candidates_from("river", REPORT)
    q = analyse_question("When did the river treaty talks end?")
    without = scorer.score(q, None, cands)
    assert without.threshold == 0.2  # the lexical variant's own threshold and ratio
    assert without.extra_sentence_ratio == 0.9
    assert without.candidates[0].sentence.ordinal == 1  # chosen by word overlap
    query = np.zeros(384, dtype=np.float32)
    for c in cands:
        object.__setattr__(c, "vector", np.eye(384, dtype=np.float32)[c.sentence.ordinal])
    query[3] = 1.0  # most similar to the last sentence
    with_vector = scorer.score(q, query, cands)
    assert (with_vector.threshold, with_vector.extra_sentence_ratio) == (0.3, 0.7)
    assert with_vector.candidates[0].sentence.ordinal == 3  # chosen by similarity


def test_the_policy_threshold_overrides_the_models_only_when_given() -> None:
    from rag.answering.base import answer_policy
    from rag.answering.extractive import ExtractiveAnswerer
    from tests.unit.test_scoring import FixedScorer

    cands = candidates_from("river", REPORT)
    probs = {"The talks on the riv": 0.4}  # keyed by the first 20 characters
    model_threshold = ExtractiveAnswerer(FixedScorer(probs), answer_policy(Settings()))
    assert model_threshold.answer("When did the talks end?", None, cands, []).abstained  # 0.5
    lenient = ExtractiveAnswerer(FixedScorer(probs), answer_policy(Settings(abstain_threshold=0.3)))
    assert not lenient.answer("When did the talks end?", None, cands, []).abstained


def test_bi_encoder_triples_and_cosine_ranking_use_the_asked_questions_only() -> None:
    from rag.training.bi_encoder import COSINE, cosine_top1, features_cosine, triples_from
    from rag.training.fitting import Rows

    def feats(cosines: list[float]) -> np.ndarray:
        m = np.zeros((len(cosines), len(BASE_FEATURES)), dtype=np.float32)
        m[:, COSINE] = cosines
        return m

    sents = ["The talks ended in March.", "Observers praised it.", "Flow data is shared."]
    rows = Rows(
        features=[feats([0.2, 0.9, 0.5]), feats([0.9, 0.1]), feats([0.3, 0.8, 0.1])],
        labels=[np.array([1, 0, 0]), np.array([0, 0]), np.array([0, 1, -1])],
        answerable=[True, False, True],
        question=["When did the talks end?", "When did the talks end?", "What is shared?"],
        sentences=[sents, sents[1:], sents],
        kind=["asked", "answer_removed", "asked"],
    )
    triples = triples_from(rows)
    assert [(t.positive, t.hard_negative) for t in triples] == [
        (sents[0], sents[1]),  # the most similar wrong candidate is the hard negative
        (sents[1], sents[0]),
    ]
    # By the recorded cosines the first question's best is wrong and the second's is right
    # (the unknown-label candidate is never counted as the answer).
    assert cosine_top1(rows, features_cosine(rows)) == 0.5


def test_training_schedule_warms_up_then_decays_and_batches_cycle() -> None:
    import random

    from rag.training.schedule import cycling_batches, warmup_cosine

    factor = warmup_cosine(2, 10)
    assert [factor(0), factor(1)] == [0.5, 1.0]
    assert factor(2) == pytest.approx(1.0) and factor(10) == pytest.approx(0.0)
    batches = cycling_batches("abc", 2, random.Random(0))
    seen = [next(batches) for _ in range(3)]
    assert all(len(b) == 2 for b in seen)
    assert sorted(seen[0] + seen[1][:1]) == ["a", "b", "c"]  # every item once per pass


def test_validation_by_overlap_puts_low_overlap_questions_in_the_first_quartile() -> None:
    from rag.training.fitting import Rows, by_overlap

    cos, ovl = BASE_FEATURES.index("cosine"), BASE_FEATURES.index("overlap")

    def question(overlap: float, gold_wins: bool) -> np.ndarray:
        m = np.zeros((2, len(BASE_FEATURES)), dtype=np.float32)
        m[0, ovl] = overlap  # the gold sentence
        m[:, cos] = [0.9, 0.2] if gold_wins else [0.2, 0.9]
        return m

    overlaps = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    features = [question(o, gold_wins=o > 0.25) for o in overlaps]
    labels = [np.array([1, 0]) for _ in overlaps]
    # left out: an unanswerable question, another kind, a question whose gold was not retrieved
    features += [question(0.9, True), question(0.9, True), question(0.05, True)]
    labels += [np.array([0, 0]), np.array([1, 0]), np.array([0, 0])]
    n = len(features)
    rows = Rows(
        features=features,
        labels=labels,
        answerable=[True] * 8 + [False, True, True],
        question=[f"q{i}" for i in range(n)],
        sentences=[["gold", "other"]] * n,
        kind=["asked"] * 9 + ["answer_removed", "asked"],
    )
    first = constant_model(BASE_FEATURES, {"cosine": 10.0})
    quartiles = by_overlap(rows, first, None, threshold=0.5)
    assert [q["questions"] for q in quartiles] == [2, 2, 2, 2]
    assert [q["overlap_from"] for q in quartiles] == [0.1, 0.3, 0.5, 0.7]
    assert [q["best_right"] for q in quartiles] == [0.0, 1.0, 1.0, 1.0]
    assert [q["answered_right"] for q in quartiles] == [0.0, 1.0, 1.0, 1.0]
    assert all(q["declined"] == 0.0 for q in quartiles)  # every best probability is sigmoid(9)
    declined_all = by_overlap(rows, first, None, threshold=0.9999)
    assert [q["declined"] for q in declined_all] == [1.0] * 4
    assert [q["answered_right"] for q in declined_all] == [0.0] * 4
