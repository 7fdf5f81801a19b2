"""``rag train-answerer``: rebuild the bundled answer scorer from ``../shared`` with a fixed seed.

Stages (each caches its output in ``--work``; rerun a stage by deleting its file):

1. ``index``: the SQuAD training paragraphs (``benchmarks/squad-train``) ingested into an index,
   exactly as a user's documents would be.
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
import random
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.answering.features import BASE_FEATURES, CROSS_FEATURES, candidate_features, cross_features
from rag.answering.question import analyse_question
from rag.answering.scorer import CROSS_DIR, SCORER_FILE, CrossEncoder, LogisticModel
from rag.settings import Settings
from rag.system import QASystem
from rag.training.cross_encoder import CrossEncoderRecipe, TrainGroup, auc, export_onnx, train
from rag.training.logistic import ThresholdPoint, fit_logistic, threshold_curve
from rag.training.squad import (
    SPLIT_SEED,
    LabelledSet,
    TrainQuestion,
    labelled_sets,
    load_questions,
    split_articles,
)

logger = logging.getLogger(__name__)

Log = Callable[[str], None]
RERANK_CHOICES = (0, 4, 8, 12, 16)
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.01), 2)


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


def ensure_index(shared: Path, work: Path, log: Log) -> Path:
    from rag.loaders import iter_documents

    folder = work / "squad-train-index"
    if (folder / "manifest.json").is_file():
        return folder
    log(f"building the training index in {folder} …")
    report = QASystem.build(
        Settings(index_dir=folder),
        iter_documents([shared / "benchmarks" / "squad-train" / "documents.jsonl"]),
    )
    log(f"indexed {report.documents} paragraphs")
    return folder


def open_system(index: Path) -> QASystem:
    return QASystem.open(Settings(index_dir=index))


def iter_sets(
    system: QASystem, questions: Sequence[TrainQuestion], log: Log
) -> Iterator[LabelledSet]:
    started = time.perf_counter()
    for i, ls in enumerate(labelled_sets(system, questions, k=system.settings.top_k), 1):
        if i % 1000 == 0:
            elapsed = time.perf_counter() - started
            log(f"  retrieved {i}/{len(questions)} questions ({elapsed:.0f} s)")
        yield ls


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


def collect_rows(sets: Sequence[LabelledSet]) -> Rows:
    rows = Rows([], [], [], [], [])
    for ls in sets:
        q = analyse_question(ls.question.question)
        feats = candidate_features(q, ls.query_vector, ls.candidates)  # type: ignore[arg-type]
        rows.features.append(feats.matrix)
        rows.labels.append(np.asarray(ls.labels))
        rows.answerable.append(ls.question.answerable)
        rows.question.append(ls.question.question)
        rows.sentences.append([c.sentence.text for c in ls.candidates])
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


@dataclass
class Fitted:
    first: LogisticModel
    seconds: dict[int, LogisticModel]
    results: list[StageResult]
    chosen: StageResult
    point: ThresholdPoint

    def spec(self) -> dict[str, Any]:
        return {
            "format": 1,
            "first": self.first.to_dict(),
            "second": self.seconds[self.chosen.rerank_top].to_dict()
            if self.chosen.rerank_top
            else None,
            "threshold": self.point.threshold,
            "rerank_top": self.chosen.rerank_top,
        }


def fit_stages(rows: dict[str, Rows], cross: CrossEncoder | None, log: Log) -> Fitted:
    """Stage 1 on training articles; stage 2 per depth on calibration articles; the depth and
    the threshold on validation articles."""
    x, y = _stack(rows["train"])
    val = rows["validation"]
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
        calib_rr = rerank_split(rows["calibration"], first, cross, depth)
        val_rr = rerank_split(val, first, cross, depth)
        for n in RERANK_CHOICES[1:]:
            index_sel, extra = second_stage_inputs(rows["calibration"], calib_rr, n)
            x2, y2 = _stack(rows["calibration"], extra, index_sel)
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
    return Fitted(first, seconds, results, chosen, choose_threshold(chosen.curve))


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
    questions = load_questions(shared / "benchmarks" / "squad-train" / "questions.jsonl")
    split = make_split(questions, recipe.seed + SPLIT_SEED - 13)
    log(
        f"articles: {len(split.train)} train, {len(split.calibration)} calibration, "
        f"{len(split.validation)} validation"
    )
    index = ensure_index(shared, work, log)
    system = open_system(index)
    groups_path = work / "groups.jsonl"
    if not groups_path.is_file():
        log("retrieving candidates for every question …")
        write_groups(system, questions, split, groups_path, log)

    cross_dir = out / CROSS_DIR
    curve: list[dict[str, float]] = []
    if train_cross:
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
    cross = (
        CrossEncoder(cross_dir, threads=recipe.threads)
        if (cross_dir / "model.onnx").is_file()
        else None
    )

    by_split: dict[str, list[LabelledSet]] = {"train": [], "calibration": [], "validation": []}
    log("computing features …")
    for ls in iter_sets(system, questions, log):
        by_split[split.of(ls.question.article)].append(ls)
    rows = {name: collect_rows(sets) for name, sets in by_split.items()}
    fitted = fit_stages(rows, cross, log)
    if fitted.chosen.rerank_top == 0 and cross_dir.is_dir():
        # Not better than the features alone on validation: not shipped, kept for the record.
        kept = work / "cross-encoder-not-chosen"
        shutil.rmtree(kept, ignore_errors=True)
        shutil.move(str(cross_dir), str(kept))
        log(f"the cross-encoder did not beat the features on validation; moved to {kept}")
    return write_model(out, fitted, rows, split, recipe, curve)


def write_model(
    out: Path,
    fitted: Fitted,
    rows: dict[str, Rows],
    split: Split,
    recipe: CrossEncoderRecipe,
    curve: list[dict[str, float]],
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
        "questions": {k: len(v.features) for k, v in rows.items()},
        "recipe": asdict(recipe),
        "cross_encoder_curve": curve,
        "stages": [
            {"rerank_top": r.rerank_top, "top1": round(r.top1, 4), "auc": round(r.auc, 4)}
            for r in results
        ],
        "chosen": {"rerank_top": chosen.rerank_top, "threshold": asdict(point)},
        "threshold_curve": [asdict(p) for p in chosen.curve],
    }
    (out / "training-report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(model_card(report), encoding="utf-8")
    return report


def model_card(report: dict[str, Any]) -> str:
    """The model card shipped beside the weights, from the training report."""
    split = report["split"]
    recipe = report["recipe"]
    chosen = report["chosen"]
    point = chosen["threshold"]
    stages = "\n".join(
        f"| {r['rerank_top'] or 'features only'} | {r['top1']:.3f} | {r['auc']:.3f} |"
        for r in report["stages"]
    )
    curve_rows = "\n".join(
        f"| {p['threshold']:.2f} | {p['answered_correct']:.3f} | {p['answerable_declined']:.3f} "
        f"| {p['unanswerable_declined']:.3f} | {p['precision']:.3f} |"
        for p in report["threshold_curve"]
        if round(p["threshold"] * 100) % 5 == 0
    )
    ce_curve = "\n".join(
        f"| {int(c['step'])} | {c['top1']:.3f} | {c['seconds']:.0f} |"
        for c in report["cross_encoder_curve"]
    )
    q = report["questions"]
    return f"""# Answer-sentence scorer — model card

**What it does.** Gives each candidate sentence of the retrieved passages a calibrated
probability that it answers the question. The answerer cites the best sentence(s), or abstains
when the best probability is under the threshold below.

**Parts.**
1. Stage 1 — logistic regression over {len(BASE_FEATURES)} general features
   (`rag/answering/features.py`: bi-encoder cosine and its rank and gap, the passage's fused, dense
   and lexical ranks, content-word overlap weighted by rarity among the candidates, overlap in the
   neighbouring sentences, coverage of the question's names, question dates/numbers missing from
   the evidence, expected answer type found or missing, position, length). No word lists of
   places, people or topics.
2. Stage 2 (when `rerank_top` > 0) — a cross-encoder (all-MiniLM-L6-v2 cut to its first
   {recipe["layers"]} layers, mean pooling, one linear unit; int8 ONNX) reads the question with
   each of the `rerank_top` best stage-1 candidates; a second logistic regression over the
   features plus the cross-encoder's score gives the final probability.

**Data.** `../shared/benchmarks/squad-train` (SQuAD 1.1/2.0 dev pages, Wikipedia, CC BY-SA 4.0;
disjoint from `squad-politics`). Each question was run through the product's own hybrid
retrieval (top 5 passages of an index of the 1,537 paragraphs); every sentence of those passages
is a candidate. Positive: a sentence of the gold paragraph that contains a gold answer string;
negative: every other candidate (same paragraph, same article, BM25 and dense neighbours) and
every candidate of an unanswerable question; sentences of other paragraphs that contain the
answer string are left out.

**Splits (whole articles).** train {len(split["train"])} articles ({q["train"]} questions) —
stage 1 and the cross-encoder; calibration {len(split["calibration"])} articles
({q["calibration"]} questions) — stage 2, where the cross-encoder's scores are as unseen as at
query time; validation {len(split["validation"])} articles ({q["validation"]} questions) —
the depth `rerank_top` and the threshold. Validation articles: {", ".join(split["validation"])}.
The article's evaluation set and `squad-politics` were never used to choose anything.

**Recipe.** `rag train-answerer` (fixed seed {recipe["seed"]}); cross-encoder: {recipe["steps"]}
steps of {recipe["questions_per_batch"]} questions × {recipe["candidates_per_question"]}
candidates, listwise softmax loss, AdamW (body {recipe["learning_rate"]}, head
{recipe["head_learning_rate"]}), word embeddings frozen, max {recipe["max_length"]} tokens,
2 CPU threads.

**Validation figures** (top-1: the best sentence is a gold sentence, among answerable questions
whose gold sentence was retrieved; AUC: best probability, answerable vs unanswerable):

| cross-encoder depth | top-1 | AUC |
|---|---|---|
{stages}

Cross-encoder learning curve (top-1 on 120 validation questions, candidates ranked by it alone):

| step | top-1 | seconds |
|---|---|---|
{ce_curve}

**Chosen:** depth {chosen["rerank_top"]}, threshold **{point["threshold"]}** — the rule: decline as
many unanswerable questions as possible while declining at most 10% of answerable ones. At it, on
validation: {point["answered_correct"]:.3f} of answerable questions answered with a gold sentence,
{point["answerable_declined"]:.3f} of answerable declined, {point["unanswerable_declined"]:.3f} of
unanswerable declined, precision {point["precision"]:.3f}.

Precision/recall of abstention on validation, by threshold:

| threshold | answered right | answerable declined | unanswerable declined | precision |
|---|---|---|---|---|
{curve_rows}

**Limits.** SQuAD 2.0's unanswerable questions are adversarial rewrites of answerable ones
("What did X *not* do…"); the features separate them barely better than chance (AUC above), so
most are answered. Off-topic questions and questions whose names are absent from the documents
are declined far more reliably. English only: the bi-encoder and the cross-encoder are English
models.
"""


def _bundled_minilm() -> str:
    from rag.embedding import default_model_path

    return default_model_path()
