"""``rag train-answerer``: rebuild the bundled answer scorer from ``../shared`` with a fixed seed.

Stages (each caches its output in ``--work``; rerun a stage by deleting its file):

1. ``index``: the SQuAD training articles (``benchmarks/squad-train``) in two shapes, each
   ingested exactly as a user's documents would be: every paragraph a document (the retrieval
   settings are chosen here), and every article one long document of its paragraphs in order
   (:func:`rag.training.squad.long_documents`: chunks cross paragraph boundaries as in a speech
   or a cable). Every model is fitted, and the threshold chosen, on the candidates of both.
2. ``rows``: every question retrieved through the answering path's hybrid retrieval (and, for
   the lexical-only variant, BM25 alone), as asked and as unanswerable variants; its candidate
   sentences labelled (see :mod:`rag.training.squad`) and their features computed.
3. ``fit``: the sentence scorer (stage 1) on the training articles; the answerability model on
   the training and calibration articles; the abstention threshold and the further-sentence ratio
   chosen on the validation articles. Writes ``scorer.json`` (keeping the reader's settings of a
   previous one), ``training-report.json`` and ``MODEL_CARD.md``. The reader is trained apart
   (``rag train-reader``).

Articles are split three ways (train / calibration / validation), whole articles each, so no
number is chosen on text the models learned from. ``eval/data`` and ``squad-politics`` are never
read here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rag.answering.fingerprint import FEATURE_MODULES, code_fingerprint
from rag.answering.scorer import SCORER_FILE
from rag.settings import Settings
from rag.training.card import answerability_report, lexical_summary, model_card, stages_report
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
from rag.training.stages import both_shapes, fusion_curve, open_system, training_indexes

logger = logging.getLogger(__name__)


def run(
    shared: Path,
    work: Path,
    out: Path,
    *,
    seed: int = 13,
    log: Log = logger.info,
) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    squad = shared / "benchmarks" / "squad-train"
    questions = load_questions(squad / "questions.jsonl")
    split = make_split(questions, seed + SPLIT_SEED - 13)
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
    config = f"w{fused.dense_weight}-{fused.dense_scoring}-k{fused.rrf_k}"
    rows, validation_by_shape = both_shapes(shapes, fused, split, work, config, None, log)
    fitted = fit_stages(rows, log)
    max_sentences = Settings().answer_max_sentences
    fitted.sentences = sentence_ratio_curve(validation_by_shape, fitted, max_sentences, log)
    log("the lexical-only variant (questions the embedding model cannot read) …")
    lexical_rows, lexical_validation = both_shapes(
        shapes, fused, split, work, "lexical", "lexical", log
    )
    fitted.lexical = fit_stages(lexical_rows, log)
    fitted.lexical.sentences = sentence_ratio_curve(
        lexical_validation, fitted.lexical, max_sentences, log
    )
    by_shape = {
        name: decision_summary(r, fitted.first, fitted.answerability, fitted.point.threshold)
        for name, r in validation_by_shape.items()
    }
    return write_model(out, fitted, rows, split, seed, fusion, fused, by_shape)


def write_model(
    out: Path,
    fitted: Fitted,
    rows: dict[str, Rows],
    split: Split,
    seed: int,
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
    point = fitted.point
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
        "recipe": {"seed": seed},
        "fusion": [asdict(f) for f in fusion],
        "answerability": answerability_report(fitted.answerability_results),
        "stages": stages_report([fitted.stage]),
        "chosen": {
            "dense_weight": fused.dense_weight,
            "dense_scoring": fused.dense_scoring,
            "rrf_k": fused.rrf_k,
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
