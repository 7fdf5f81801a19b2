"""``rag train-answerer``: rebuild the bundled answer scorer from ``../shared`` with a fixed seed.

Stages (each caches its output in ``--work``; rerun a stage by deleting its file):

1. ``index``: the SQuAD training articles (``benchmarks/squad-train``) in two shapes, each
   ingested exactly as a user's documents would be: every paragraph a document (the retrieval
   settings are chosen here), and every article one long document of its paragraphs in order
   (:func:`rag.training.squad.long_documents`: chunks cross paragraph boundaries as in a speech
   or a cable). Every model is fitted, and the threshold chosen, on the candidates of both.
2. ``groups``: every question retrieved through the answering path's hybrid retrieval; its
   candidate sentences labelled (see :mod:`rag.training.squad`).
3. ``cross``: the cross-encoder trained on the training articles, checked on validation articles
   as it trains, exported to int8 ONNX.
4. ``fit``: the stage-1 logistic model on the training articles; the stage-2 model (features +
   cross-encoder) on the calibration articles, where the cross-encoder's scores are as unseen as
   at query time; the cross-encoder depth and the abstention threshold chosen on the validation
   articles. Writes ``scorer.json``, ``training-report.json`` and ``MODEL_CARD.md``.

Articles are split three ways (train / calibration / validation), whole articles each, so no
number is chosen on text the models learned from. ``eval/data`` and ``squad-politics`` are never
read here.
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import random
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from rag.answering.features import (
    ANSWERABILITY_FEATURES,
    BASE_FEATURES,
    CROSS_FEATURES,
    answerability_features,
    candidate_features,
    cross_features,
)
from rag.answering.question import analyse_question
from rag.answering.scorer import (
    CROSS_DIR,
    SCORER_FILE,
    CrossEncoder,
    LogisticModel,
    answer_probabilities,
)
from rag.loaders import LoadFailure, iter_documents
from rag.models import Document
from rag.retrieval import retrieve
from rag.settings import DenseScoring, RetrievalMode, Settings
from rag.system import QASystem
from rag.training.cross_encoder import CrossEncoderRecipe, TrainGroup, auc, export_onnx, train
from rag.training.logistic import ThresholdPoint, fit_logistic, threshold_curve
from rag.training.sentence_choice import RatioCurve, answered_sets, ratio_card, ratio_curve
from rag.training.squad import (
    ASKED,
    KINDS,
    SPLIT_SEED,
    LabelledSet,
    TrainQuestion,
    answer_removed,
    in_long_documents,
    labelled_sets,
    load_questions,
    long_documents,
    split_articles,
)

logger = logging.getLogger(__name__)

Log = Callable[[str], None]
RERANK_CHOICES = (0, 4, 8, 12, 16)
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


@dataclass(frozen=True)
class TrainingIndex:
    """One shape of the training collection: its index and its questions located in it."""

    shape: str
    folder: Path
    questions: list[TrainQuestion]


def ensure_index(folder: Path, documents: Iterable[Document | LoadFailure], log: Log) -> Path:
    if (folder / "manifest.json").is_file():
        return folder
    log(f"building the training index in {folder} …")
    report = QASystem.build(Settings(index_dir=folder), documents)
    log(f"indexed {report.documents} documents, {report.chunks} chunks")
    return folder


def training_indexes(
    squad: Path, questions: Sequence[TrainQuestion], work: Path, log: Log
) -> list[TrainingIndex]:
    """The training articles in two shapes, each its own index (built once into ``work``): every
    paragraph a document, as SQuAD (and ``squad-politics``) come, and every article one long
    document, as speeches, articles and cables come."""
    path = squad / "documents.jsonl"
    documents, spans = long_documents(path)
    return [
        TrainingIndex(
            "paragraphs",
            ensure_index(work / "squad-train-index", iter_documents([path]), log),
            list(questions),
        ),
        TrainingIndex(
            "long",
            ensure_index(work / "squad-long-index", documents, log),
            in_long_documents(questions, spans),
        ),
    ]


def open_system(index: Path, fused: FusionPoint | None = None) -> QASystem:
    """The index with the product's settings, or with the fusion ``fused`` chose."""
    settings = Settings(index_dir=index)
    if fused is not None:
        settings = settings.model_copy(
            update={
                "dense_weight": fused.dense_weight,
                "dense_scoring": fused.dense_scoring,
                "rrf_k": fused.rrf_k,
            }
        )
    return QASystem.open(settings)


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


def fusion_curve(
    system: QASystem,
    questions: Sequence[TrainQuestion],
    weights: Sequence[float] = DENSE_WEIGHTS,
    scorings: Sequence[DenseScoring] = DENSE_SCORINGS,
    rrf_ks: Sequence[int] = RRF_KS,
) -> list[FusionPoint]:
    """Gold paragraph in the top 1 / top 5 passages, per RRF constant, dense scoring and weight,
    for answerable questions."""
    asked = [q for q in questions if q.answerable]
    vectors = [system.encoder.encode_query(q.question) for q in asked]
    base = system.params(5, "hybrid")
    out: list[FusionPoint] = []
    with system.snapshot() as snap:
        for k in rrf_ks:
            for scoring in scorings:
                for w in weights:
                    params = replace(base, dense_weight=w, dense_scoring=scoring, rrf_k=k)
                    h1 = h5 = 0
                    for q, v in zip(asked, vectors, strict=True):
                        ids = [p.doc_id for p in retrieve(snap, q.question, v, params)]
                        h1 += bool(ids) and ids[0] == q.gold_doc_id
                        h5 += q.gold_doc_id in ids
                    n = max(1, len(asked))
                    out.append(FusionPoint(w, h1 / n, h5 / n, scoring, k))
    return out


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


def iter_sets(
    system: QASystem,
    questions: Sequence[TrainQuestion],
    log: Log,
    *,
    article_removed: bool = False,
    mode: RetrievalMode | None = None,
) -> Iterator[LabelledSet]:
    started = time.perf_counter()
    sets = labelled_sets(
        system, questions, k=system.settings.top_k, article_removed=article_removed, mode=mode
    )
    for i, ls in enumerate(sets, 1):
        if i % 1000 == 0:
            elapsed = time.perf_counter() - started
            log(f"  retrieved {i}/{len(questions)} questions ({elapsed:.0f} s)")
        yield ls


def iter_all_kinds(
    system: QASystem, questions: Sequence[TrainQuestion], log: Log, mode: RetrievalMode | None
) -> Iterator[LabelledSet]:
    """Each question as asked, and (when answerable) with its answer sentences removed; then each
    question asked of the collection without its article."""
    for ls in iter_sets(system, questions, log, mode=mode):
        yield ls
        if ls.question.answerable:
            yield answer_removed(ls)
    log("the same questions, each without its own article …")
    yield from iter_sets(system, questions, log, article_removed=True, mode=mode)


def write_groups(
    system: QASystem, questions: Sequence[TrainQuestion], split: Split, path: Path, log: Log
) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for ls in iter_sets(system, questions, log):
            keep = [
                (c.sentence.text, y)
                for c, y in zip(ls.candidates, ls.labels, strict=True)
                if y >= 0
            ]
            row = {
                "id": ls.question.id,
                "question": ls.question.question,
                "split": split.of(ls.question.article),
                "answerable": ls.question.answerable,
                "sentences": [k[0] for k in keep],
                "labels": [k[1] for k in keep],
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def read_groups(path: Path, split: str) -> list[TrainGroup]:
    out: list[TrainGroup] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["split"] == split and row["sentences"]:
                out.append(
                    TrainGroup(row["question"], tuple(row["sentences"]), tuple(row["labels"]))
                )
    return out


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


def _stack(
    rows: Rows, extra: list[np.ndarray] | None = None, index: list[np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for i, (f, y) in enumerate(zip(rows.features, rows.labels, strict=True)):
        sel = index[i] if index is not None else np.arange(len(y))
        x = f[sel]
        if extra is not None:
            x = np.hstack([x, extra[i]])
        keep = y[sel] >= 0
        xs.append(x[keep])
        ys.append(y[sel][keep])
    return np.vstack(xs), np.concatenate(ys)


@dataclass(frozen=True)
class StageResult:
    rerank_top: int
    top1: float  # answerable questions (with a labelled answer candidate) whose best is right
    auc: float  # best probability: answerable-with-answer vs unanswerable
    curve: list[ThresholdPoint]


def evaluate_stage(
    best_prob: list[float],
    best_right: list[bool],
    answerable: list[bool],
    has_pos: list[bool],
    rerank_top: int,
) -> StageResult:
    bp = np.asarray(best_prob)
    br = np.asarray(best_right)
    ans = np.asarray(answerable)
    hp = np.asarray(has_pos)
    top1 = float(br[hp].mean()) if hp.any() else 0.0
    a = auc(list(bp[ans & hp]), list(bp[~ans]))
    return StageResult(rerank_top, top1, a, threshold_curve(bp, br, ans, THRESHOLDS))


@dataclass(frozen=True)
class Reranked:
    """Per question: the stage-1 order of its candidates and the cross-encoder's logits for the
    first ``len(logits)`` of them (computed once for the deepest choice, sliced for the rest)."""

    order: np.ndarray
    logits: np.ndarray


def rerank_split(
    rows: Rows, first: LogisticModel, cross: CrossEncoder | None, depth: int
) -> list[Reranked]:
    out: list[Reranked] = []
    for i, f in enumerate(rows.features):
        order = np.argsort(-first.predict(f), kind="stable") if len(f) else np.zeros(0, int)
        top = order[:depth]
        logits = (
            cross.score(rows.question[i], [rows.sentences[i][j] for j in top])
            if cross is not None and depth > 0
            else np.zeros(0, dtype=np.float32)
        )
        out.append(Reranked(order, logits))
    return out


def second_stage_inputs(
    rows: Rows, reranked: Sequence[Reranked], n: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    index_sel = [r.order[:n] for r in reranked]
    extra = [
        cross_features(r.logits[:n])
        if len(r.order)
        else np.zeros((0, len(CROSS_FEATURES)), dtype=np.float32)
        for r in reranked
    ]
    return index_sel, extra


def score_split(
    rows: Rows,
    first: LogisticModel,
    second: LogisticModel | None,
    reranked: Sequence[Reranked] | None,
    rerank_top: int,
) -> tuple[list[float], list[bool], list[bool]]:
    """Best probability per question, whether that sentence is right, whether any is."""
    best_p, best_right, has_pos = [], [], []
    for i, f in enumerate(rows.features):
        y = rows.labels[i]
        has_pos.append(bool((y == 1).any()))
        if len(y) == 0:
            best_p.append(0.0)
            best_right.append(False)
            continue
        if second is None or reranked is None or rerank_top <= 0:
            p1 = first.predict(f)
            best = int(np.argmax(p1))
            best_p.append(float(p1[best]))
        else:
            top = reranked[i].order[:rerank_top]
            logits = reranked[i].logits[:rerank_top]
            p2 = second.predict(np.hstack([f[top], cross_features(logits)]))
            best = int(top[int(np.argmax(p2))])
            best_p.append(float(p2.max()))
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
    seconds: dict[int, LogisticModel]
    results: list[StageResult]
    chosen: StageResult
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
            "second": self.seconds[self.chosen.rerank_top].to_dict()
            if self.chosen.rerank_top
            else None,
            "answerability": self.answerability.to_dict() if self.answerability else None,
            "threshold": self.point.threshold,
            "rerank_top": self.chosen.rerank_top,
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


def fit_stages(rows: dict[str, Rows], cross: CrossEncoder | None, log: Log) -> Fitted:
    """Stage 1 on training articles; stage 2 per depth on calibration articles; the depth, the
    answerability model and the threshold on validation articles."""
    asked = {name: r.only([ASKED]) for name, r in rows.items()}
    x, y = _stack(asked["train"])
    val = asked["validation"]
    firsts: list[tuple[StageResult, LogisticModel]] = []
    for interactions in (False, True):
        model = fit_logistic(x, y, BASE_FEATURES, interactions=interactions)
        bp, br, hp = score_split(val, model, None, None, 0)
        firsts.append((evaluate_stage(bp, br, val.answerable, hp, 0), model))
        log(
            f"stage 1 ({'with' if interactions else 'no'} interactions): val top1 "
            f"{firsts[-1][0].top1:.3f}, auc {firsts[-1][0].auc:.3f}"
        )
    best_first, first = max(firsts, key=lambda t: t[0].top1 + t[0].auc)
    results: list[StageResult] = [best_first]
    seconds: dict[int, LogisticModel] = {}
    if cross is not None:
        depth = max(RERANK_CHOICES)
        calib_rr = rerank_split(asked["calibration"], first, cross, depth)
        val_rr = rerank_split(val, first, cross, depth)
        for n in RERANK_CHOICES[1:]:
            index_sel, extra = second_stage_inputs(asked["calibration"], calib_rr, n)
            x2, y2 = _stack(asked["calibration"], extra, index_sel)
            seconds[n] = fit_logistic(
                x2, y2, BASE_FEATURES + CROSS_FEATURES, interactions=first.interactions
            )
            bp, br, hp = score_split(val, first, seconds[n], val_rr, n)
            results.append(evaluate_stage(bp, br, val.answerable, hp, n))
            log(f"rerank top {n}: val top1 {results[-1].top1:.3f}, auc {results[-1].auc:.3f}")
    best_key = max(r.top1 + r.auc for r in results)
    chosen = min(
        (r for r in results if r.top1 + r.auc >= best_key - 0.01), key=lambda r: r.rerank_top
    )
    if chosen.rerank_top:
        # The answerability model reads stage 1's logit; with a cross-encoder stage the threshold
        # applies to stage 2's probability (asked questions only, as before).
        point = choose_threshold(chosen.curve)
        return Fitted(first, seconds, results, chosen, point, curve=chosen.curve)
    answerable, picked, options = fit_answerability(
        rows["train"] + rows["calibration"], rows["validation"], first, log
    )
    return Fitted(first, seconds, results, chosen, picked.point, answerable, options, picked.curve)


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


def run(
    shared: Path,
    work: Path,
    out: Path,
    *,
    recipe: CrossEncoderRecipe,
    train_cross: bool = True,
    log: Log = logger.info,
) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    squad = shared / "benchmarks" / "squad-train"
    questions = load_questions(squad / "questions.jsonl")
    split = make_split(questions, recipe.seed + SPLIT_SEED - 13)
    log(
        f"articles: {len(split.train)} train, {len(split.calibration)} calibration, "
        f"{len(split.validation)} validation"
    )
    shapes = training_indexes(squad, questions, work, log)
    index = shapes[0].folder
    validation = [q for q in questions if split.of(q.article) == "validation"]
    with open_system(index) as system:
        fusion = fusion_curve(system, validation)
    fused = choose_fusion(fusion, sum(q.answerable for q in validation))
    log(
        f"RRF dense weight {fused.dense_weight}, dense scoring by {fused.dense_scoring}, "
        f"k {fused.rrf_k} "
        f"(validation hit@5 {fused.hit_at_5:.3f}, hit@1 {fused.hit_at_1:.3f})"
    )
    cross_dir = out / CROSS_DIR
    curve: list[dict[str, float]] = []
    if train_cross:
        groups_path = work / "groups.jsonl"
        if not groups_path.is_file():
            log("retrieving candidates for every question …")
            with open_system(index, fused) as system:
                write_groups(system, questions, split, groups_path, log)
        train_groups = read_groups(groups_path, "train")
        val_groups = read_groups(groups_path, "validation")
        val_sample = random.Random(recipe.seed).sample(val_groups, min(120, len(val_groups)))
        log(f"training the cross-encoder on {len(train_groups)} questions ({recipe.steps} steps) …")

        def progress(step: int, loss: float, metrics: dict[str, float] | None) -> None:
            if metrics is not None:
                log(
                    f"  step {step}: loss {loss:.3f}, val top1 {metrics['top1']:.3f}, "
                    f"auc {metrics['auc']:.3f} ({metrics['seconds']:.0f} s)"
                )

        base = Settings().model_path or _bundled_minilm()
        model, curve = train(base, train_groups, val_sample, recipe, on_progress=progress)
        export_onnx(model, cross_dir)
        (cross_dir / "training-curve.json").write_text(
            json.dumps(curve, indent=2), encoding="utf-8"
        )
    elif (cross_dir / "training-curve.json").is_file():
        curve = json.loads((cross_dir / "training-curve.json").read_text(encoding="utf-8"))
    cross = (
        CrossEncoder(cross_dir, threads=recipe.threads)
        if (cross_dir / "model.onnx").is_file()
        else None
    )

    config = f"w{fused.dense_weight}-{fused.dense_scoring}-k{fused.rrf_k}"
    rows, validation_by_shape = both_shapes(shapes, fused, split, work, config, None, log)
    fitted = fit_stages(rows, cross, log)
    max_sentences = Settings().answer_max_sentences
    fitted.sentences = sentence_ratio_curve(validation_by_shape, fitted, max_sentences, log)
    log("the lexical-only variant (questions the embedding model cannot read) …")
    lexical_rows, lexical_validation = both_shapes(
        shapes, fused, split, work, "lexical", "lexical", log
    )
    fitted.lexical = fit_stages(lexical_rows, None, log)
    fitted.lexical.sentences = sentence_ratio_curve(
        lexical_validation, fitted.lexical, max_sentences, log
    )
    if fitted.chosen.rerank_top == 0 and cross_dir.is_dir():
        # Not better than the features alone on validation: not shipped, kept for the record.
        kept = work / "cross-encoder-not-chosen"
        shutil.rmtree(kept, ignore_errors=True)
        shutil.move(str(cross_dir), str(kept))
        log(f"the cross-encoder did not beat the features on validation; moved to {kept}")
    by_shape = {
        name: decision_summary(r, fitted.first, fitted.answerability, fitted.point.threshold)
        for name, r in validation_by_shape.items()
    }
    return write_model(out, fitted, rows, split, recipe, curve, fusion, fused, by_shape)


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


def both_shapes(
    shapes: Sequence[TrainingIndex],
    fused: FusionPoint,
    split: Split,
    work: Path,
    config: str,
    mode: RetrievalMode | None,
    log: Log,
) -> tuple[dict[str, Rows], dict[str, Rows]]:
    """Feature rows of every question asked of each shape's index, joined per split; and each
    shape's validation rows on their own."""
    joined = {name: Rows([], [], [], [], [], []) for name in ("train", "calibration", "validation")}
    validation: dict[str, Rows] = {}
    for ti in shapes:
        log(f"{ti.shape}:")
        with open_system(ti.folder, fused) as system:
            cache = work / f"rows-{ti.shape}-{config}.pkl"
            rows = feature_rows(system, ti.questions, split, cache, log, mode)
        for name, part in rows.items():
            joined[name].extend(part)
        validation[ti.shape] = rows["validation"]
    return joined, validation


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


def feature_rows(
    system: QASystem,
    questions: Sequence[TrainQuestion],
    split: Split,
    cache: Path,
    log: Log,
    mode: RetrievalMode | None = None,
) -> dict[str, Rows]:
    """Feature rows per split for every question of every kind (cached in ``cache``, keyed by the
    feature names: delete it after changing how features are computed)."""
    if cache.is_file():
        with cache.open("rb") as handle:
            cached = pickle.load(handle)
        if cached.get("features") == BASE_FEATURES:
            log(f"feature rows read from {cache}")
            return cast(dict[str, Rows], cached["rows"])
    log(
        f"computing features ({mode or 'hybrid'} retrieval) for every question, as asked and as "
        "unanswerable variants …"
    )
    rows = rows_by_split(system, questions, split, log, mode)
    tmp = cache.with_suffix(".tmp")
    with tmp.open("wb") as handle:
        pickle.dump({"features": BASE_FEATURES, "rows": rows}, handle)
    tmp.replace(cache)
    return rows


def rows_by_split(
    system: QASystem,
    questions: Sequence[TrainQuestion],
    split: Split,
    log: Log,
    mode: RetrievalMode | None = None,
) -> dict[str, Rows]:
    """Feature rows of every question of every kind (as asked, answer removed, article
    removed), grouped by the split its article belongs to."""
    rows = {name: Rows([], [], [], [], [], []) for name in ("train", "calibration", "validation")}
    for ls in iter_all_kinds(system, questions, log, mode):
        rows[split.of(ls.question.article)].extend(collect_rows([ls]))
    return rows


def answerability_report(results: Sequence[AnswerabilityResult]) -> list[dict[str, Any]]:
    return [
        {
            "name": r.name,
            "auc_by_kind": {k: round(v, 4) for k, v in r.auc_by_kind.items()},
            "threshold": asdict(r.point),
        }
        for r in results
    ]


def stages_report(results: Sequence[StageResult]) -> list[dict[str, Any]]:
    return [
        {"rerank_top": r.rerank_top, "top1": round(r.top1, 4), "auc": round(r.auc, 4)}
        for r in results
    ]


def lexical_summary(fitted: Fitted) -> dict[str, Any]:
    """What the report keeps of the lexical-only variant."""
    return {
        "stages": stages_report(fitted.results),
        "answerability": answerability_report(fitted.answerability_results),
        "chosen": {
            "answerability": fitted.answerability is not None,
            "threshold": asdict(fitted.point),
            "extra_sentence_ratio": fitted.sentences.chosen().ratio if fitted.sentences else None,
        },
    }


def write_model(
    out: Path,
    fitted: Fitted,
    rows: dict[str, Rows],
    split: Split,
    recipe: CrossEncoderRecipe,
    curve: list[dict[str, float]],
    fusion: Sequence[FusionPoint],
    fused: FusionPoint,
    by_shape: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    spec = fitted.spec()
    chosen, point, results = fitted.chosen, fitted.point, fitted.results
    out.mkdir(parents=True, exist_ok=True)
    (out / SCORER_FILE).write_text(json.dumps(spec, indent=2), encoding="utf-8")
    report = {
        "split": {
            "train": sorted(split.train),
            "calibration": sorted(split.calibration),
            "validation": sorted(split.validation),
        },
        "questions": {
            name: {kind: r.kind.count(kind) for kind in KINDS} for name, r in rows.items()
        },
        "recipe": asdict(recipe),
        "fusion": [asdict(f) for f in fusion],
        "answerability": answerability_report(fitted.answerability_results),
        "cross_encoder_curve": curve,
        "stages": stages_report(results),
        "chosen": {
            "dense_weight": fused.dense_weight,
            "dense_scoring": fused.dense_scoring,
            "rrf_k": fused.rrf_k,
            "rerank_top": chosen.rerank_top,
            "answerability": spec["answerability"] is not None,
            "answerability_interactions": bool(
                fitted.answerability and fitted.answerability.interactions
            ),
            "threshold": asdict(point),
        },
        "threshold_curve": [asdict(p) for p in fitted.curve],
        "by_shape": by_shape,
        "by_overlap": by_overlap(
            rows["validation"], fitted.first, fitted.answerability, point.threshold
        ),
        "lexical": lexical_summary(fitted.lexical) if fitted.lexical else None,
        "further_sentences": fitted.sentences.report() if fitted.sentences else None,
    }
    (out / "training-report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(model_card(report), encoding="utf-8")
    return report


KIND_NAMES = {
    "asked": "SQuAD 2.0 unanswerable",
    "article_removed": "article removed",
    "answer_removed": "answer removed",
}


def model_card(report: dict[str, Any]) -> str:
    """The model card shipped beside the weights, from the training report."""
    split = report["split"]
    recipe = report["recipe"]
    chosen = report["chosen"]
    point = chosen["threshold"]
    kinds = [k for k in KIND_NAMES if k in point.get("declined_by_kind", {})]
    stages = "\n".join(
        f"| {r['rerank_top'] or 'features only'} | {r['top1']:.3f} | {r['auc']:.3f} |"
        for r in report["stages"]
    )
    shapes = shapes_card(report.get("by_shape") or {}, kinds)
    fusion, by_k = fusion_card(report.get("fusion", []), chosen)
    answerability = "\n".join(
        f"| {a['name']} | "
        + " | ".join(f"{a['auc_by_kind'].get(k, 0.0):.3f}" for k in kinds)
        + f" | {a['threshold']['threshold']} | {a['threshold']['answerable_declined']:.3f} | "
        + " | ".join(f"{a['threshold']['declined_by_kind'].get(k, 0.0):.3f}" for k in kinds)
        + " |"
        for a in report.get("answerability", [])
    )
    kind_heads = " | ".join(KIND_NAMES[k] for k in kinds)
    kind_rule = "|---" * len(kinds)
    curve_rows = "\n".join(
        f"| {p['threshold']:.2f} | {p['answered_correct']:.3f} | {p['answerable_declined']:.3f} | "
        + " | ".join(f"{p['declined_by_kind'].get(k, 0.0):.3f}" for k in kinds)
        + " |"
        for p in report["threshold_curve"]
        if round(p["threshold"] * 1000) % 50 == 0
        or (p["threshold"] <= 0.1 and round(p["threshold"] * 1000) % 10 == 0)
    )
    ce_curve = "\n".join(
        f"| {int(c['step'])} | {c['top1']:.3f} | {c['seconds']:.0f} |"
        for c in report["cross_encoder_curve"]
    )
    q = {
        name: sum(v.values()) if isinstance(v, dict) else v
        for name, v in report["questions"].items()
    }
    declined = ", ".join(
        f"{point['declined_by_kind'].get(k, 0.0):.3f} of {KIND_NAMES[k]}" for k in kinds
    )
    decided = (
        "the answerability model"
        if chosen.get("answerability")
        else "the best sentence's probability"
    )
    lexical = lexical_card(report.get("lexical"), kinds)
    overlap = overlap_card(report.get("by_overlap") or [])
    further = ratio_card(report.get("further_sentences"))
    return f"""# Answer-sentence scorer — model card

**What it does.** Gives each candidate sentence of the retrieved passages a probability that it
answers the question, and the question a probability that its best sentence answers it at all.
The answerer cites the best sentence(s), or abstains when that second probability is under the
threshold below.

**Parts.**
1. Sentence scorer — logistic regression over {len(BASE_FEATURES)} general features and their
   pairwise products (`rag/answering/features.py`: bi-encoder cosine of the sentence and of its
   passage, with ranks and gaps; the passage's fused, dense and lexical ranks; content-word overlap
   weighted by rarity among the candidates; overlap in the neighbouring sentences; coverage of the
   question's names; question dates/numbers missing from the evidence; expected answer type found
   or missing; position; length; the length of the sentence's document). No word lists of
   places, people or topics.
2. Answerability model (when chosen) — logistic regression over the best sentence's logit, its
   lead over the runner-up and its feature row; its probability is what the threshold is
   compared with.
3. Cross-encoder stage (when `rerank_top` > 0) — all-MiniLM-L6-v2 cut to its first
   {recipe["layers"]} layers, mean pooling, one linear unit, int8 ONNX, reading the question with
   each of the `rerank_top` best candidates; a second logistic regression over the features plus
   its score gives the final probability.

**Data.** `../shared/benchmarks/squad-train` (SQuAD 1.1/2.0 dev pages, Wikipedia, CC BY-SA 4.0;
disjoint from `squad-politics`). Each question was run through the product's own hybrid
retrieval (top 5 passages) in each of two indexes of the same 34 articles: the 1,537 paragraphs
each a document (as SQuAD comes), and each article one long document of its paragraphs in order
(chunks cross paragraph boundaries, as in a speech or a cable); every sentence of those passages
is a candidate, and every model is fitted on both. Positive: a sentence of the gold paragraph
that contains a gold answer string; negative: every other candidate (same paragraph, same
article, BM25 and dense neighbours) and every candidate of an unanswerable question; sentences
of other paragraphs that contain the answer string are left out. Unanswerable questions come in
three kinds: SQuAD 2.0's own (adversarial rewrites), each question asked of the collection
**without its article** (the collection never covers the topic), and each answerable question
with **its answer sentences removed** from the evidence (the topic is there, the answer is not).

**Splits (whole articles).** train {len(split["train"])} articles ({q["train"]} question
variants) — the sentence scorer, the answerability model and the cross-encoder; calibration
{len(split["calibration"])} articles ({q["calibration"]}) — the cross-encoder stage, and the
answerability model with the training articles; validation {len(split["validation"])} articles
({q["validation"]}) — the fusion weight, the stage choices and the threshold. Validation
articles: {", ".join(split["validation"])}. The article's evaluation set and `squad-politics`
were never used to choose anything.

**Retrieval fusion** (validation, answerable questions, the paragraph index; gold paragraph in
the top 1 / top 5):
chosen dense weight **{chosen.get("dense_weight", "–")}**, dense scoring
**{chosen.get("dense_scoring", "chunk")}** (the order of FAISS's candidates: `chunk` by each
chunk's own vector, `sentence` by its best sentence's) and RRF constant
**{chosen.get("rrf_k", 60)}** — chosen for recall, since the answerer re-reads every sentence
of the top passages: among the points whose hit@5 lies within one standard error of the best,
the best hit@1. At the chosen constant:

| dense scoring | dense weight | hit@1 | hit@5 |
|---|---|---|---|
{fusion}

The best of each RRF constant (over both scorings and every weight):

| RRF constant | dense scoring | dense weight | hit@1 | hit@5 |
|---|---|---|---|---|
{by_k}

**Sentence scorer, validation** (top-1: the best sentence is a gold sentence, among answerable
questions whose gold sentence was retrieved; AUC: best probability, answerable vs SQuAD
unanswerable):

| cross-encoder depth | top-1 | AUC |
|---|---|---|
{stages}

Cross-encoder learning curve (top-1 on 120 validation questions, candidates ranked by it alone):

| step | top-1 | seconds |
|---|---|---|
{ce_curve}

**Whether to answer, validation** (AUC: answerable questions answered with a gold sentence vs
each kind of unanswerable question; then, at the threshold rule below, the share of answerable
questions declined and of each kind of unanswerable one declined):

| decided by | AUC {kind_heads} | threshold | answerable declined | declined {kind_heads} |
|---{kind_rule}|---|---{kind_rule}|
{answerability}

**Chosen:** depth {chosen["rerank_top"]}, {decided},
threshold **{point["threshold"]}** — the rule: decline as many unanswerable questions as possible
while declining at most 10% of answerable ones. At it, on validation:
{point["answered_correct"]:.3f} of answerable questions answered with a gold sentence,
{point["answerable_declined"]:.3f} of answerable declined; declined: {declined}.
{shapes}
{lexical}
{overlap}{further}
Abstention on validation, by threshold:

| threshold | answered right | answerable declined | {kind_heads} |
|---|---|---{kind_rule}|
{curve_rows}

**Limits.** SQuAD 2.0's unanswerable questions are adversarial rewrites of answerable ones
("What did X *not* do…"); the features separate them little better than chance (AUC above), so
most are answered. Questions about what the collection never covers, and questions whose answer
sentence is missing, are declined far more reliably. Paraphrases that share few words with the
answer lean on the bi-encoder's cosine alone: the lowest overlap quartile above is where the
scorer is weakest. English only: the bi-encoder and the cross-encoder
are English models.
"""


def fusion_card(fusion: Sequence[dict[str, Any]], chosen: dict[str, Any]) -> tuple[str, str]:
    """The fusion curve at the chosen RRF constant, and the best point of each constant."""

    def k_of(f: dict[str, Any]) -> int:
        return int(f.get("rrf_k", 60))  # reports from before the constant was compared: 60

    def row(f: dict[str, Any]) -> str:
        return (
            f"| {f.get('dense_scoring', 'chunk')} | {f['dense_weight']} | {f['hit_at_1']:.3f} | "
            f"{f['hit_at_5']:.3f} |"
        )

    at_k = "\n".join(row(f) for f in fusion if k_of(f) == k_of(chosen))
    by_k = "\n".join(
        f"| {k} "
        + row(
            max((f for f in fusion if k_of(f) == k), key=lambda f: (f["hit_at_5"], f["hit_at_1"]))
        )
        for k in sorted({k_of(f) for f in fusion})
    )
    return at_k, by_k


def shapes_card(by_shape: dict[str, dict[str, Any]], kinds: Sequence[str]) -> str:
    """The chosen model's validation figures on each shape of the collection, at its threshold."""
    if not by_shape:
        return ""
    rows = "\n".join(
        f"| {shape} | {s['answered_right']:.3f} | {s['answerable_declined']:.3f} | "
        + " | ".join(f"{s['declined_by_kind'].get(k, 0.0):.3f}" for k in kinds)
        + " |"
        for shape, s in by_shape.items()
    )
    return f"""
The same, on each shape of the validation collection:

| shape | answered right | answerable declined | {" | ".join(KIND_NAMES[k] for k in kinds)} |
|---|---|---|{"---|" * len(kinds)}
{rows}
"""


def overlap_card(quartiles: Sequence[dict[str, Any]]) -> str:
    """The model card's table of validation figures by question-answer word overlap."""
    if not quartiles:
        return ""
    rows = "\n".join(
        f"| Q{q['quartile']} | {q['overlap_from']:.2f}–{q['overlap_to']:.2f} | {q['questions']} | "
        f"{q['best_right']:.3f} | {q['answered_right']:.3f} | {q['declined']:.3f} |"
        for q in quartiles
    )
    return f"""**By wording shared with the answer** (validation, answerable SQuAD questions whose
gold sentence was retrieved, in quartiles of the share of the question's content words that the
gold sentence holds; at the chosen threshold). Paraphrased questions sit in the first row:

| quartile | words shared | questions | best sentence right | answered right | declined |
|---|---|---|---|---|---|
{rows}
"""


def lexical_card(lexical: dict[str, Any] | None, kinds: Sequence[str]) -> str:
    """The model card's paragraph on the lexical-only variant."""
    if not lexical:
        return ""
    top = lexical["stages"][0]
    point = lexical["chosen"]["threshold"]
    declined = ", ".join(
        f"{point['declined_by_kind'].get(k, 0.0):.3f} of {KIND_NAMES[k]}" for k in kinds
    )
    options = "; ".join(
        f"{a['name']}: threshold {a['threshold']['threshold']}, declined "
        + ", ".join(f"{a['threshold']['declined_by_kind'].get(k, 0.0):.3f}" for k in kinds)
        for a in lexical["answerability"]
    )
    decided = (
        "the answerability model"
        if lexical["chosen"]["answerability"]
        else "the best sentence's probability"
    )
    chosen_ratio = lexical["chosen"].get("extra_sentence_ratio")
    ratio = (
        f" Further answer sentences: ratio **{chosen_ratio}** (chosen as below)."
        if chosen_ratio is not None
        else ""
    )
    return f"""**Lexical-only variant.** A question the embedding model cannot read (another
language than English, or `mode=lexical`) is retrieved by BM25 alone and has no similarity
features, so the same stages are fitted a second time on candidates retrieved that way, and used
for such questions. On validation: top-1 {top["top1"]:.3f}, AUC {top["auc"]:.3f}; {options}. Chosen:
{decided}, threshold **{point["threshold"]}** — {point["answered_correct"]:.3f} of answerable
questions answered with a gold sentence, {point["answerable_declined"]:.3f} declined; declined:
{declined}.{ratio}
"""


def _bundled_minilm() -> str:
    from rag.embedding import default_model_path

    return default_model_path()
