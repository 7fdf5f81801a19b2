"""Retrieval over long documents: dense candidates by chunk vector or by best sentence.

    python -m bench.long_documents [--shared ../shared] [--work DIR] [--split validation]
                                   [--shape long|paragraphs] [--distractors] [--answerer]

SQuAD paragraphs are one chunk each, so the training index cannot show what a chunk vector loses
on a long document. Here each of the 34 articles of ``benchmarks/squad-train`` becomes one
document (its paragraphs joined in order), so chunks cross paragraph boundaries as they do in a
speech or a cable (``--shape paragraphs``: every paragraph a document, as the recipe's first
index). For the answerable questions of the chosen split (the recipe's split of whole articles),
a passage is a hit when it overlaps the gold paragraph and contains a gold answer. Reports hit@1
and hit@5 per dense scoring (``chunk`` / ``sentence``), FAISS depth and RRF dense weight, and for
dense retrieval alone.

``--distractors`` puts the two shared foreign-policy corpora (1,383 documents, no question of
any evaluation set) into the same index, so the training articles must be found among them.
``--answerer`` also asks the split's questions (as asked, with their answer sentences removed,
and without their article) with the shipped settings and reports the bundled answer scorer at its
threshold: answerable questions answered with a gold sentence and declined, and the share of
each kind of unanswerable question declined. Writes ``bench/results/long_documents[-…].json``.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.common import machine, write_result
from eval.corpora import DISTRACTOR_FILES, shared_file
from index.records import Document
from rag.answering.scorer import ScorerSpec, bundled_model_dir
from rag.loaders import LoadFailure, iter_documents
from rag.settings import DenseScoring, Settings
from rag.system import QASystem
from rag.training.fitting import decision_summary
from rag.training.selection import Split, make_split
from rag.training.squad import TrainQuestion, in_long_documents, load_questions, long_documents
from rag.training.stages import rows_by_split

#: (dense scoring, FAISS depth, dense weight); a weight of None is dense retrieval alone.
CONFIGS: tuple[tuple[DenseScoring, int, float | None], ...] = tuple(
    (scoring, depth, weight)
    for scoring in ("chunk", "sentence")
    for depth in (40, 200)
    for weight in (0.3, 0.5, 1.0, None)
)


def retrieval_hits(system: QASystem, asked: Sequence[TrainQuestion]) -> list[dict[str, Any]]:
    """hit@1 and hit@5 of the answerable questions under every configuration of CONFIGS."""
    hits = {c: [0, 0] for c in CONFIGS}
    for q in asked:
        vector = system.encoder.encode_query(q.question)
        for scoring, depth, weight in CONFIGS:
            update = {
                "dense_scoring": scoring,
                "dense_depth": depth,
                "dense_weight": 1.0 if weight is None else weight,
            }
            swept = system.with_settings(system.settings.model_copy(update=update))
            passages = swept.search(
                q.question,
                k=5,
                mode="dense" if weight is None else "hybrid",
                query_vector=vector,
            )
            right = [q.found_in(p) for p in passages]
            hits[(scoring, depth, weight)][0] += bool(right) and right[0]
            hits[(scoring, depth, weight)][1] += any(right)
    n = max(1, len(asked))
    return [
        {
            "dense_scoring": scoring,
            "dense_depth": depth,
            "dense_weight": weight if weight is not None else "dense only",
            "hit_at_1": round(h1 / n, 3),
            "hit_at_5": round(h5 / n, 3),
        }
        for (scoring, depth, weight), (h1, h5) in hits.items()
    ]


def answerer_figures(
    system: QASystem, questions: Sequence[TrainQuestion], split: Split, which: str
) -> dict[str, Any]:
    """The bundled scorer at its threshold, as the recipe's per-shape validation table measures
    it (questions as asked, with their answer sentences removed, and without their article)."""
    rows = rows_by_split(system, questions, split, lambda _: None)[which]
    spec = ScorerSpec.read(bundled_model_dir())
    summary = decision_summary(rows, spec.first, spec.answerability, spec.threshold)
    return {"threshold": spec.threshold, **summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).parents[2] / "shared")
    parser.add_argument("--work", type=Path, help="keep the index here")
    parser.add_argument("--split", choices=("train", "calibration", "validation"))
    parser.add_argument("--shape", choices=("long", "paragraphs"), default="long")
    parser.add_argument("--distractors", action="store_true", help="add the shared corpora")
    parser.add_argument("--answerer", action="store_true", help="also the bundled scorer")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    squad = args.shared / "benchmarks" / "squad-train"
    questions = load_questions(squad / "questions.jsonl")
    split = make_split(questions)
    documents: Iterable[Document | LoadFailure]
    if args.shape == "long":
        documents, spans = long_documents(squad / "documents.jsonl")
        questions = in_long_documents(questions, spans)
    else:
        documents = iter_documents([squad / "documents.jsonl"])
    if args.distractors:
        corpora = [shared_file(args.shared, rel) for rel in DISTRACTOR_FILES]
        documents = itertools.chain(documents, iter_documents(corpora))
    which = args.split or "validation"
    in_split = [q for q in questions if split.of(q.article) == which]
    asked = [q for q in in_split if q.answerable]

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-long-"))
    settings = Settings(index_dir=work / "index")
    result: dict[str, Any] = {"machine": machine(), "split": which, "questions": len(asked)}
    try:
        if not (settings.index_dir / "manifest.json").is_file():
            QASystem.build(settings, documents)
        with QASystem.open(settings) as system:
            rows = retrieval_hits(system, asked)
            if args.answerer:
                result["answerer"] = answerer_figures(system, in_split, split, which)
            counts = system.stats().counts
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    result |= {"documents": counts.get("documents"), "chunks": counts.get("chunks")}
    result["results"] = rows
    for row in rows:
        print(row)
    name = "long_documents" if args.shape == "long" else "paragraphs"
    write_result(result, args.out, name + ("-distractors" if args.distractors else ""))


if __name__ == "__main__":
    main()
