"""The recipe's data stages: the training collection indexed in two shapes, and the feature rows
of the candidates retrieved for every question of every split (cached as ``rows-*.pkl``); each
cached in the work folder."""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from rag.answering.features import BASE_FEATURES
from rag.loaders import LoadFailure, iter_documents
from rag.models import Document
from rag.settings import DenseScoring, RetrievalMode, Settings
from rag.system import QASystem
from rag.training.fitting import Log, Rows, collect_rows
from rag.training.selection import DENSE_SCORINGS, DENSE_WEIGHTS, RRF_KS, FusionPoint, Split
from rag.training.squad import (
    LabelledSet,
    TrainQuestion,
    answer_removed,
    in_long_documents,
    labelled_sets,
    long_documents,
)


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
    out: list[FusionPoint] = []
    for k in rrf_ks:
        for scoring in scorings:
            for w in weights:
                update = {"dense_weight": w, "dense_scoring": scoring, "rrf_k": k}
                swept = system.with_settings(system.settings.model_copy(update=update))
                h1 = h5 = 0
                for q, v in zip(asked, vectors, strict=True):
                    hits = swept.search(q.question, k=5, mode="hybrid", query_vector=v)
                    ids = [p.doc_id for p in hits]
                    h1 += bool(ids) and ids[0] == q.gold_doc_id
                    h5 += q.gold_doc_id in ids
                n = max(1, len(asked))
                out.append(FusionPoint(w, h1 / n, h5 / n, scoring, k))
    return out


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
