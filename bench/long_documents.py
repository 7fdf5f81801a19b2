"""Retrieval over long documents: dense candidates by chunk vector or by best sentence.

    python -m bench.long_documents [--shared ../shared] [--work DIR] [--split validation]

SQuAD paragraphs are one chunk each, so the training index cannot show what a chunk vector loses
on a long document. Here each of the 34 articles of ``benchmarks/squad-train`` becomes one
document (its paragraphs joined in order), so chunks cross paragraph boundaries as they do in a
speech or a cable. For the answerable questions of the chosen split (the recipe's split of whole
articles), a passage is a hit when it overlaps the gold paragraph and contains a gold answer.
Reports hit@1 and hit@5 per dense scoring (``chunk`` / ``sentence``), FAISS depth and RRF dense
weight, and for dense retrieval alone. Writes ``bench/results/long_documents.json``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from bench.common import machine, write_result
from rag.retrieval import retrieve
from rag.settings import DenseScoring, Settings
from rag.system import QASystem
from rag.training.recipe import make_split
from rag.training.squad import in_long_documents, load_questions, long_documents

#: (dense scoring, FAISS depth, dense weight); a weight of None is dense retrieval alone.
CONFIGS: tuple[tuple[DenseScoring, int, float | None], ...] = tuple(
    (scoring, depth, weight)
    for scoring in ("chunk", "sentence")
    for depth in (40, 200)
    for weight in (0.3, 0.5, 1.0, None)
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).parents[2] / "shared")
    parser.add_argument("--work", type=Path, help="keep the long-document index here")
    parser.add_argument("--split", choices=("train", "calibration", "validation"))
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    squad = args.shared / "benchmarks" / "squad-train"
    documents, spans = long_documents(squad / "documents.jsonl")
    questions = in_long_documents(load_questions(squad / "questions.jsonl"), spans)
    split = make_split(questions)
    which = args.split or "validation"
    asked = [q for q in questions if q.answerable and split.of(q.article) == which]

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-long-"))
    settings = Settings(index_dir=work / "index")
    try:
        if not (settings.index_dir / "manifest.json").is_file():
            QASystem.build(settings, documents)
        hits = {c: [0, 0] for c in CONFIGS}
        with QASystem.open(settings) as system, system.snapshot() as snap:
            base = system.params(5, "hybrid")
            for q in asked:
                vector = system.encoder.encode_query(q.question)
                for scoring, depth, weight in CONFIGS:
                    params = replace(
                        base,
                        mode="dense" if weight is None else "hybrid",
                        dense_scoring=scoring,
                        dense_depth=depth,
                        dense_weight=1.0 if weight is None else weight,
                    )
                    right = [q.found_in(p) for p in retrieve(snap, q.question, vector, params)]
                    hits[(scoring, depth, weight)][0] += bool(right) and right[0]
                    hits[(scoring, depth, weight)][1] += any(right)
            counts = snap.counts()
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    n = max(1, len(asked))
    rows = [
        {
            "dense_scoring": scoring,
            "dense_depth": depth,
            "dense_weight": weight if weight is not None else "dense only",
            "hit_at_1": round(h1 / n, 3),
            "hit_at_5": round(h5 / n, 3),
        }
        for (scoring, depth, weight), (h1, h5) in hits.items()
    ]
    result = {
        "machine": machine(),
        "split": which,
        "questions": len(asked),
        "documents": counts.get("documents"),
        "chunks": counts.get("chunks"),
        "results": rows,
    }
    for row in rows:
        print(row)
    write_result(result, args.out, "long_documents")


if __name__ == "__main__":
    main()
