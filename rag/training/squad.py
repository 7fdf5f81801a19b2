"""SQuAD-derived training data: questions, article-level splits and labelled candidate sentences.

Candidates are produced by the very pipeline that answers questions (hybrid retrieval of the top
passages, then their sentences), so the models learn the distribution they will see. A sentence is
a positive when it lies in the question's gold paragraph and contains a gold answer string;
sentences elsewhere that happen to contain the answer are left out (neither label is safe);
every candidate of an unanswerable question is a negative.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.answering.evidence import Candidate, gather_candidates
from rag.models import Passage
from rag.retrieval import retrieve
from rag.system import QASystem

SPLIT_SEED = 20261128


@dataclass(frozen=True)
class TrainQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    answerable: bool
    gold_doc_id: str

    @property
    def article(self) -> str:
        return article_of(self.gold_doc_id)


@dataclass
class LabelledSet:
    """One question with its retrieved candidates and their labels (1, 0; -1 = unknown)."""

    question: TrainQuestion
    candidates: list[Candidate]
    labels: list[int]
    query_vector: object = field(repr=False)
    passages: list[Passage] = field(repr=False, default_factory=list)

    @property
    def has_positive(self) -> bool:
        return any(label == 1 for label in self.labels)


def article_of(doc_id: str) -> str:
    """``squad:<article>:<paragraph>`` → ``<article>``."""
    parts = doc_id.split(":")
    return parts[1] if len(parts) >= 3 else doc_id


def load_questions(path: Path) -> list[TrainQuestion]:
    out: list[TrainQuestion] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            out.append(
                TrainQuestion(
                    id=str(row["id"]),
                    question=str(row["question"]),
                    answers=tuple(str(a) for a in row.get("answers") or ()),
                    answerable=bool(row["answerable"]),
                    gold_doc_id=str(row["gold_doc_id"]),
                )
            )
    return out


def split_articles(
    articles: Sequence[str], *, validation_fraction: float = 0.2, seed: int = SPLIT_SEED
) -> tuple[set[str], set[str]]:
    """Whole articles go to training or validation, never both."""
    names = sorted(set(articles))
    random.Random(seed).shuffle(names)
    n_val = max(1, round(len(names) * validation_fraction))
    return set(names[n_val:]), set(names[:n_val])


_SPACE_RE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _SPACE_RE.sub(" ", text.lower()).strip()


def contains_answer(sentence: str, answers: Sequence[str]) -> bool:
    s = _norm(sentence)
    return any(a and _norm(a) in s for a in answers)


def label(question: TrainQuestion, candidate: Candidate) -> int:
    if not question.answerable:
        return 0
    hit = contains_answer(candidate.sentence.text, question.answers)
    if candidate.sentence.doc_id == question.gold_doc_id:
        return 1 if hit else 0
    return -1 if hit else 0


def labelled_sets(
    system: QASystem, questions: Sequence[TrainQuestion], *, k: int
) -> Iterator[LabelledSet]:
    """Retrieve and label the candidates of each question, as the answering path would see them."""
    params = system.params(k, None)
    for q in questions:
        vector = system.encoder.encode_query(q.question)
        with system.snapshot() as snap:
            passages = retrieve(snap, q.question, vector, params)
            candidates = gather_candidates(snap, passages)
        labels = [label(q, c) for c in candidates]
        yield LabelledSet(q, candidates, labels, vector, passages)
