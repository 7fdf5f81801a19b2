"""The feature scorer refitted on policy-qa: the floor the trained reader is compared with.

    python -m bench.policy_refit --index ~/.cache/rag-eval/article_corpora-<key> \\
        --shared ../shared --out /tmp/policy-refit
    RAG_READER=false rag eval-policy-qa --split validation --model-dir /tmp/policy-refit

The shipped feature scorer learned from SQuAD alone. Here its two stages (the sentence model and
the answerability model) are fitted again, with the recipe's own functions
(:func:`rag.training.fitting.fit_stages`), on rows the evidence step gives for policy-qa
``train.jsonl`` (each answerable question also as an answer-removed copy, the near miss) and
chosen on ``validation.jsonl``; the model folder written to ``--out`` is the bundled one with
those stages swapped in (reader off), for ``rag eval-policy-qa --model-dir``.

It then probes a stack on validation: the top-1 of the bundled reader's logits plus ``a`` times
the refitted sentence model's, over the reader's candidates, for a few ``a`` (printed; not
shipped). SQuAD rows are left out: they need the 40-minute training indexes of
``rag train-answerer``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.answering import Candidate, Evidence
from rag.answering.features import candidate_features
from rag.answering.question import analyse_question
from rag.answering.reader import reader_inputs
from rag.answering.scorer import (
    READER_DIR,
    SCORER_FILE,
    AnswerScorer,
    CrossEncoder,
    LogisticModel,
    bundled_model_dir,
)
from rag.settings import Settings
from rag.system import QASystem
from rag.training.fitting import Rows, fit_stages
from rag.training.reader_data import (
    PolicyQuestion,
    evidence_spans,
    load_policy_questions,
    policy_label,
)
from rag.training.squad import ANSWER_REMOVED, ASKED

STACK_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)


Labelled = tuple[PolicyQuestion, Evidence, np.ndarray]


def labelled(system: QASystem, questions: list[PolicyQuestion]) -> list[Labelled]:
    """Each question with its evidence and its candidates' labels (1: an evidence sentence)."""
    out: list[Labelled] = []
    for q in questions:
        doc = system.get_document(q.doc_id)
        spans = evidence_spans(doc.text, q.evidence) if doc is not None else []
        ev = system.evidence(q.question)
        labels = np.asarray([policy_label(q, spans, c) for c in ev.candidates], dtype=np.int64)
        out.append((q, ev, labels))
    return out


def policy_rows(asked: Sequence[Labelled], *, removed: bool) -> Rows:
    rows = Rows([], [], [], [], [], [])

    def add(
        q: PolicyQuestion,
        ev: Evidence,
        cands: list[Candidate],
        y: np.ndarray,
        answerable: bool,
        kind: str,
    ) -> None:
        analysis = ev.analysis or analyse_question(q.question)
        feats = candidate_features(analysis, ev.query_vector, cands)
        rows.features.append(feats.matrix)
        rows.labels.append(y)
        rows.answerable.append(answerable)
        rows.question.append(q.question)
        rows.sentences.append([c.sentence.text for c in cands])
        rows.kind.append(kind)

    for q, ev, y in asked:
        cands = ev.candidates
        add(q, ev, cands, y, q.answerable, ASKED)
        if removed and q.answerable and y.any():  # the topic is there, the answer is not
            keep = [i for i, label in enumerate(y) if label == 0]
            add(q, ev, [cands[i] for i in keep], y[keep], False, ANSWER_REMOVED)
    return rows


def probe_stack(asked: Sequence[Labelled], refit: LogisticModel) -> None:
    """Top-1 among answerable validation questions whose evidence sentence is in the reader's
    candidates: the reader's logits plus ``a`` times the refitted sentence model's."""
    scorer = AnswerScorer.load(threads=1, use_reader=True)
    reader = CrossEncoder(bundled_model_dir() / READER_DIR, threads=2)
    assert scorer.spec.reader is not None
    top = scorer.spec.reader.top
    reads: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    for q, ev, labels in asked:
        if not q.answerable:
            continue
        analysis = ev.analysis or analyse_question(q.question)
        vector = ev.query_vector
        cands = scorer.first_stage(analysis, vector, ev.candidates)[:top]
        label_of = {id(c): int(y) for c, y in zip(ev.candidates, labels, strict=True)}
        y = np.asarray([label_of[id(c)] for c in cands])
        if not y.any():
            continue
        logits = reader.score(q.question, reader_inputs(cands))
        own = refit.logits(candidate_features(analysis, vector, cands).matrix)
        reads.append((q.category, y, np.asarray(logits), own))
    for a in STACK_WEIGHTS:
        right = [float(y[int(np.argmax(r + a * f))] == 1) for _, y, r, f in reads]
        para = [ok for ok, (c, *_) in zip(right, reads, strict=True) if c == "paraphrase"]
        print(
            f"a {a}: top-1 {np.mean(right):.3f} of {len(right)}; "
            f"paraphrase {np.mean(para):.3f} of {len(para)}"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", required=True, help="an article+corpora index (rag eval's cache)")
    p.add_argument("--shared", default="../shared", help="shared material")
    p.add_argument("--out", required=True, help="the model folder to write")
    p.add_argument("--no-stack", action="store_true", help="skip the stack probe")
    args = p.parse_args(argv)
    folder = Path(args.shared) / "benchmarks" / "policy-qa"
    train = load_policy_questions(folder / "train.jsonl")
    with QASystem.open(Settings(index_dir=Path(args.index))) as system:
        validation = labelled(system, load_policy_questions(folder / "validation.jsonl"))
        rows = {
            "train": policy_rows(labelled(system, train), removed=True),
            "calibration": Rows([], [], [], [], [], []),
            "validation": policy_rows(validation, removed=False),
        }
        fitted = fit_stages(rows, print)
        out = Path(args.out)
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(bundled_model_dir(), out)
        spec = json.loads((out / SCORER_FILE).read_text(encoding="utf-8"))
        new = fitted.spec()
        spec.update(
            first=new["first"], answerability=new["answerability"], threshold=new["threshold"]
        )
        spec["reader"] = dict(spec["reader"] or {}, default=False)
        (out / SCORER_FILE).write_text(json.dumps(spec, indent=2), encoding="utf-8")
        print(f"wrote {out}: threshold {new['threshold']}, validation {fitted.stage}")
        if not args.no_stack:
            probe_stack(validation, fitted.first)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
