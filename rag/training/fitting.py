"""Fitting the answer scorer on feature rows: the sentence scorer (stage 1), the answerability
model and the threshold, each judged on validation articles; and the figures the report keeps of
the fitted model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.answering.features import (
    ANSWERABILITY_FEATURES,
    BASE_FEATURES,
    answerability_features,
    candidate_features,
)
from rag.answering.question import analyse_question
from rag.answering.scorer import LogisticModel, answer_probabilities
from rag.training.cross_encoder import auc
from rag.training.logistic import ThresholdPoint, fit_logistic, threshold_curve
from rag.training.selection import THRESHOLDS, choose_threshold
from rag.training.sentence_choice import RatioCurve, answered_sets, ratio_curve
from rag.training.squad import ASKED, KINDS, LabelledSet

Log = Callable[[str], None]


@dataclass
class Rows:
    """Feature rows of one split, grouped by question."""

    features: list[np.ndarray]
    labels: list[np.ndarray]
    answerable: list[bool]
    question: list[str]
    sentences: list[list[str]]
    kind: list[str]

    def only(self, kinds: Sequence[str]) -> Rows:
        keep = [i for i, k in enumerate(self.kind) if k in kinds]
        return Rows(
            [self.features[i] for i in keep],
            [self.labels[i] for i in keep],
            [self.answerable[i] for i in keep],
            [self.question[i] for i in keep],
            [self.sentences[i] for i in keep],
            [self.kind[i] for i in keep],
        )

    def __add__(self, other: Rows) -> Rows:
        joined = Rows([], [], [], [], [], [])
        joined.extend(self)
        joined.extend(other)
        return joined

    def extend(self, other: Rows) -> None:
        self.features.extend(other.features)
        self.labels.extend(other.labels)
        self.answerable.extend(other.answerable)
        self.question.extend(other.question)
        self.sentences.extend(other.sentences)
        self.kind.extend(other.kind)


def collect_rows(sets: Sequence[LabelledSet]) -> Rows:
    rows = Rows([], [], [], [], [], [])
    for ls in sets:
        q = analyse_question(ls.question.question)
        feats = candidate_features(q, ls.query_vector, ls.candidates)  # type: ignore[arg-type]
        rows.features.append(feats.matrix)
        rows.labels.append(np.asarray(ls.labels, dtype=np.int64))
        rows.answerable.append(ls.question.answerable)
        rows.question.append(ls.question.question)
        rows.sentences.append([c.sentence.text for c in ls.candidates])
        rows.kind.append(ls.kind)
    return rows


def _stack(rows: Rows) -> tuple[np.ndarray, np.ndarray]:
    """Every labelled candidate's feature row and label (unknown ones, -1, left out)."""
    xs, ys = [], []
    for f, y in zip(rows.features, rows.labels, strict=True):
        keep = y >= 0
        xs.append(f[keep])
        ys.append(y[keep])
    return np.vstack(xs), np.concatenate(ys)


@dataclass(frozen=True)
class StageResult:
    """The sentence scorer on validation."""

    top1: float  # answerable questions (with a labelled answer candidate) whose best is right
    auc: float  # best probability: answerable-with-answer vs unanswerable


def evaluate_stage(
    best_prob: list[float],
    best_right: list[bool],
    answerable: list[bool],
    has_pos: list[bool],
) -> StageResult:
    bp = np.asarray(best_prob)
    br = np.asarray(best_right)
    ans = np.asarray(answerable)
    hp = np.asarray(has_pos)
    top1 = float(br[hp].mean()) if hp.any() else 0.0
    return StageResult(top1, auc(list(bp[ans & hp]), list(bp[~ans])))


def score_split(rows: Rows, first: LogisticModel) -> tuple[list[float], list[bool], list[bool]]:
    """Best probability per question, whether that sentence is right, whether any is."""
    best_p, best_right, has_pos = [], [], []
    for i, f in enumerate(rows.features):
        y = rows.labels[i]
        has_pos.append(bool((y == 1).any()))
        if len(y) == 0:
            best_p.append(0.0)
            best_right.append(False)
            continue
        p1 = first.predict(f)
        best = int(np.argmax(p1))
        best_p.append(float(p1[best]))
        best_right.append(bool(y[best] == 1))
    return best_p, best_right, has_pos


@dataclass(frozen=True)
class AnswerabilityResult:
    """One way of deciding whether to answer, on validation (``interactions`` ``None``: stage 1's
    best probability; otherwise an answerability model with or without interactions)."""

    interactions: bool | None
    auc_by_kind: dict[str, float]
    point: ThresholdPoint
    curve: list[ThresholdPoint]

    @property
    def name(self) -> str:
        if self.interactions is None:
            return "best sentence probability"
        return f"answerability model{' with interactions' if self.interactions else ''}"

    @property
    def mean_declined(self) -> float:
        values = list(self.point.declined_by_kind.values())
        return float(np.mean(values)) if values else 0.0


@dataclass
class Fitted:
    first: LogisticModel
    stage: StageResult  # the sentence scorer on validation
    point: ThresholdPoint
    answerability: LogisticModel | None = None
    answerability_results: list[AnswerabilityResult] = field(default_factory=list)
    curve: list[ThresholdPoint] = field(default_factory=list)
    # The same stages fitted on lexical retrieval without a query vector.
    lexical: Fitted | None = None
    # Further answer sentences by ratio, on validation (rag.training.sentence_choice).
    sentences: RatioCurve | None = None

    def spec(self) -> dict[str, Any]:
        return {
            "format": 2,
            "lexical": self.lexical.spec() if self.lexical else None,
            "first": self.first.to_dict(),
            "answerability": self.answerability.to_dict() if self.answerability else None,
            "threshold": self.point.threshold,
            "extra_sentence_ratio": self.sentences.chosen().ratio if self.sentences else None,
        }


@dataclass(frozen=True)
class QuestionRows:
    """Per question: the answerability row, whether stage 1's best sentence is right, and the
    question's kind; questions without candidates have no row."""

    matrix: np.ndarray
    best_right: np.ndarray
    answerable: np.ndarray
    kind: np.ndarray
    has_row: np.ndarray


def question_rows(rows: Rows, first: LogisticModel) -> QuestionRows:
    feats: list[np.ndarray] = []
    right, has_row = [], []
    for f, y in zip(rows.features, rows.labels, strict=True):
        has_row.append(len(y) > 0)
        if len(y) == 0:
            right.append(False)
            continue
        logits = first.logits(f)
        feats.append(answerability_features(logits, f))
        right.append(bool(y[int(np.argmax(logits))] == 1))
    width = len(ANSWERABILITY_FEATURES)
    return QuestionRows(
        np.vstack(feats) if feats else np.zeros((0, width), dtype=np.float32),
        np.asarray(right),
        np.asarray(rows.answerable),
        np.asarray(rows.kind),
        np.asarray(has_row),
    )


def question_probabilities(qr: QuestionRows, model: LogisticModel | None) -> np.ndarray:
    """Probability of answering per question (0 without candidates)."""
    out = np.zeros(len(qr.has_row))
    if len(qr.matrix):
        out[qr.has_row] = answer_probabilities(model, qr.matrix)
    return out


def by_overlap(
    rows: Rows, first: LogisticModel, answerability: LogisticModel | None, threshold: float
) -> list[dict[str, Any]]:
    """Validation's answerable SQuAD questions in quartiles of how many of the question's content
    words their gold sentence shares (`overlap`, the best gold sentence): the nearest thing to a
    paraphrase test that SQuAD, whose questions mostly reuse their answer's words, gives. Per
    quartile: its overlap range, questions, best sentence right, answered right and declined at
    ``threshold``. Questions whose gold sentence was not retrieved are left out."""
    asked = rows.only(["asked"])
    qr = question_rows(asked, first)
    p = question_probabilities(qr, answerability)
    column = BASE_FEATURES.index("overlap")
    overlap = np.full(len(asked.labels), np.nan)
    for i, (f, y) in enumerate(zip(asked.features, asked.labels, strict=True)):
        if asked.answerable[i] and (y == 1).any():
            overlap[i] = float(f[y == 1, column].max())
    known = qr.answerable & ~np.isnan(overlap)
    if not known.any():
        return []
    bins = np.digitize(overlap, np.quantile(overlap[known], [0.25, 0.5, 0.75]))
    out: list[dict[str, Any]] = []
    for quartile in range(4):
        m = known & (bins == quartile)
        if not m.any():
            continue
        kept = p[m] >= threshold
        out.append(
            {
                "quartile": quartile + 1,
                "overlap_from": round(float(overlap[m].min()), 3),
                "overlap_to": round(float(overlap[m].max()), 3),
                "questions": int(m.sum()),
                "best_right": round(float(qr.best_right[m].mean()), 4),
                "answered_right": round(float((kept & qr.best_right[m]).mean()), 4),
                "declined": round(float(1.0 - kept.mean()), 4),
            }
        )
    return out


def evaluate_answerability(
    qr: QuestionRows, model: LogisticModel | None, interactions: bool | None
) -> AnswerabilityResult:
    p = question_probabilities(qr, model)
    good = p[qr.answerable & qr.best_right]
    aucs = {
        str(k): auc(list(good), list(p[~qr.answerable & (qr.kind == k)]))
        for k in KINDS
        if (~qr.answerable & (qr.kind == k)).any()
    }
    curve = threshold_curve(p, qr.best_right, qr.answerable, THRESHOLDS, qr.kind)
    return AnswerabilityResult(interactions, aucs, choose_threshold(curve), curve)


def fit_answerability(
    fit_rows: Rows, val_rows: Rows, first: LogisticModel, log: Log
) -> tuple[LogisticModel | None, AnswerabilityResult, list[AnswerabilityResult]]:
    """Stage 1's best probability, or an answerability model (with or without pairwise
    interactions) fitted on training and calibration questions of every kind; the one that declines
    most unanswerable questions of every kind on validation (mean over kinds) at the product's
    threshold rule wins."""
    fit_q = question_rows(fit_rows, first)
    val_q = question_rows(val_rows, first)
    labels = (fit_q.answerable & fit_q.best_right)[fit_q.has_row].astype(np.float64)
    options: list[tuple[LogisticModel | None, AnswerabilityResult]] = [
        (None, evaluate_answerability(val_q, None, None))
    ]
    for interactions in (False, True):
        model = fit_logistic(
            fit_q.matrix, labels, ANSWERABILITY_FEATURES, interactions=interactions
        )
        options.append((model, evaluate_answerability(val_q, model, interactions)))
    for _, r in options:
        declined = ", ".join(f"{k} {v:.3f}" for k, v in r.point.declined_by_kind.items())
        log(
            f"{r.name}: threshold {r.point.threshold}, answerable declined "
            f"{r.point.answerable_declined:.3f}; unanswerable declined: {declined}"
        )
    best = max(options, key=lambda o: round(o[1].mean_declined, 4))
    return best[0], best[1], [r for _, r in options]


def fit_stages(rows: dict[str, Rows], log: Log) -> Fitted:
    """Stage 1 on training articles (with or without pairwise interactions, whichever does better
    on validation); the answerability model on training and calibration articles; the threshold
    on validation articles."""
    asked = {name: r.only([ASKED]) for name, r in rows.items()}
    x, y = _stack(asked["train"])
    val = asked["validation"]
    firsts: list[tuple[StageResult, LogisticModel]] = []
    for interactions in (False, True):
        model = fit_logistic(x, y, BASE_FEATURES, interactions=interactions)
        bp, br, hp = score_split(val, model)
        firsts.append((evaluate_stage(bp, br, val.answerable, hp), model))
        log(
            f"stage 1 ({'with' if interactions else 'no'} interactions): val top1 "
            f"{firsts[-1][0].top1:.3f}, auc {firsts[-1][0].auc:.3f}"
        )
    stage, first = max(firsts, key=lambda t: t[0].top1 + t[0].auc)
    answerable, picked, options = fit_answerability(
        rows["train"] + rows["calibration"], rows["validation"], first, log
    )
    return Fitted(first, stage, picked.point, answerable, options, picked.curve)


def sentence_ratio_curve(
    validation: dict[str, Rows], fitted: Fitted, max_sentences: int, log: Log
) -> RatioCurve:
    """Further answer sentences by ratio over every shape's validation questions, as asked, that
    ``fitted`` answers at its threshold."""
    answered = []
    for rows in validation.values():
        asked = rows.only([ASKED])
        probabilities = question_probabilities(
            question_rows(asked, fitted.first), fitted.answerability
        )
        kept = probabilities >= fitted.point.threshold
        answered += answered_sets(asked.features, asked.labels, kept.tolist(), fitted.first)
    curve = ratio_curve(answered, max_sentences)
    chosen = curve.chosen()
    log(
        f"further answer sentences: ratio {chosen.ratio} (validation F1 {chosen.f1:.4f}, "
        f"{chosen.sentences:.2f} sentences, gold cited {chosen.found:.3f})"
    )
    return curve


def decision_summary(
    rows: Rows, first: LogisticModel, answerability: LogisticModel | None, threshold: float
) -> dict[str, Any]:
    """At ``threshold``, on one set of rows (e.g. one shape's validation rows): answerable
    questions answered with a gold sentence and declined, and the share of each kind of
    unanswerable question declined."""
    qr = question_rows(rows, first)
    kept = question_probabilities(qr, answerability) >= threshold
    answerable = qr.answerable & (qr.kind == ASKED)
    declined = {
        str(k): round(float((~kept)[~qr.answerable & (qr.kind == k)].mean()), 4)
        for k in KINDS
        if (~qr.answerable & (qr.kind == k)).any()
    }
    return {
        "answered_right": round(float((kept & qr.best_right)[answerable].mean()), 4),
        "answerable_declined": round(float((~kept)[answerable].mean()), 4),
        "declined_by_kind": declined,
    }
