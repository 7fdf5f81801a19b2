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
import random
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rag.answering.fingerprint import FEATURE_MODULES, code_fingerprint
from rag.answering.scorer import CROSS_DIR, SCORER_FILE, CrossEncoder
from rag.settings import Settings
from rag.training.card import answerability_report, lexical_summary, model_card, stages_report
from rag.training.cross_encoder import CrossEncoderRecipe, export_onnx, train
from rag.training.fitting import (
    Fitted,
    Log,
    Rows,
    by_overlap,
    decision_summary,
    fit_stages,
    sentence_ratio_curve,
)
from rag.training.selection import FusionPoint, Split, choose_fusion, make_split
from rag.training.squad import KINDS, SPLIT_SEED, load_questions
from rag.training.stages import (
    both_shapes,
    fusion_curve,
    open_system,
    read_groups,
    training_indexes,
    write_groups,
)

logger = logging.getLogger(__name__)


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
    # The code that computed these features, checked at load (a silent drift otherwise).
    spec["features_fingerprint"] = code_fingerprint(FEATURE_MODULES)
    previous = out / SCORER_FILE
    if previous.is_file():  # keep the reader's settings (`rag train-reader` chose them)
        reader = json.loads(previous.read_text(encoding="utf-8")).get("reader")
        if reader:
            spec["reader"] = reader
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


def _bundled_minilm() -> str:
    from rag.embedding import default_model_path

    return default_model_path()
