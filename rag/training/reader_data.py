"""Training groups for the reader: each question with the candidates ``ask()`` would show it.

Every group comes from :meth:`rag.system.QASystem.evidence` — the very step ``ask()`` takes — and
is ordered by the shipped feature scorer (stage 1), whose ``top`` best candidates are what the
reader reads at query time. Labels:

- ``policy-qa`` (foreign-policy questions over the corpora): a candidate is a positive when it
  lies in the question's document and overlaps one of its verbatim evidence sentences. Hard
  negatives come from the product's own retrieval (the same document's other sentences, BM25 and
  dense neighbours) and, for a UN statement, from the same country's statements of other years
  (asked with a ``country`` filter) — the confusion a position question invites.
- ``squad`` (SQuAD questions and their paraphrases): a sentence of the gold paragraph holding a
  gold answer (:func:`rag.training.squad.label`); sentences elsewhere holding the answer string
  are left out.
- Unanswerable questions (policy-qa near-miss and false-premise, SQuAD 2.0's) have no positive:
  their target is the no-answer slot. So do *answer-removed* copies of answerable questions (the
  topic is there, the answer is not).

An answerable question whose positive was not retrieved keeps its gold sentence as an injected
positive, so the reader still learns to read it.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.records import Document
from rag.answering import Candidate, Evidence
from rag.answering.question import analyse_question
from rag.answering.reader import CONTEXT_SEPARATOR, document_context, reader_input
from rag.answering.scorer import AnswerScorer, read_order
from rag.system import QASystem
from rag.training.squad import TrainQuestion, label

logger = logging.getLogger(__name__)

#: Candidates per group from the passages, in stage-1 order.
GROUP_TOP = 16
#: Of them, how many the reader reads at query time (the bundled reader's ``top``).
READ_TOP = 10
#: Same-country statements of other years added as negatives to a UN question's group.
OTHER_YEARS = 4


@dataclass(frozen=True)
class ReaderGroup:
    """One question, its candidates as the reader reads them, their labels (1 answers, 0 not)."""

    id: str
    source: str  # policy-qa, squad, paraphrase
    category: str
    question: str
    texts: tuple[str, ...]
    labels: tuple[int, ...]
    answerable: bool
    injected: bool = False  # the positive was not retrieved and was added from the document
    #: How many of the first candidates the reader reads at query time (None: groups built
    #: before the nearest sentences were read, cut to the recipe's ``eval_top``).
    read: int | None = None

    def as_read(self, top: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """The texts and labels the reader reads at query time."""
        n = top if self.read is None else self.read
        return self.texts[:n], self.labels[:n]

    @property
    def has_positive(self) -> bool:
        return 1 in self.labels

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ReaderGroup:
        return cls(
            id=str(raw["id"]),
            source=str(raw["source"]),
            category=str(raw["category"]),
            question=str(raw["question"]),
            texts=tuple(raw["texts"]),
            labels=tuple(int(v) for v in raw["labels"]),
            answerable=bool(raw["answerable"]),
            injected=bool(raw.get("injected", False)),
            read=int(raw["read"]) if raw.get("read") is not None else None,
        )


def read_groups(path: Path) -> list[ReaderGroup]:
    with path.open(encoding="utf-8") as handle:
        return [ReaderGroup.from_dict(json.loads(line)) for line in handle if line.strip()]


def write_groups(path: Path, groups: Iterable[ReaderGroup]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as handle:
        for g in groups:
            handle.write(g.to_json() + "\n")
            n += 1
    tmp.replace(path)
    return n


# --- policy-qa -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyQuestion:
    id: str
    doc_id: str
    category: str
    question: str
    answers: tuple[str, ...]
    evidence: tuple[str, ...]
    answerable: bool
    all_required: bool

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PolicyQuestion:
        return cls(
            id=str(raw["id"]),
            doc_id=str(raw["doc_id"]),
            category=str(raw["category"]),
            question=str(raw["question"]),
            answers=tuple(str(a) for a in raw.get("answers") or ()),
            evidence=tuple(str(e) for e in raw.get("evidence") or ()),
            answerable=bool(raw["answerable"]),
            all_required=bool(raw.get("all_required", False)),
        )


def load_policy_questions(path: Path) -> list[PolicyQuestion]:
    with path.open(encoding="utf-8") as handle:
        return [PolicyQuestion.from_dict(json.loads(line)) for line in handle if line.strip()]


def evidence_spans(text: str, evidence: Sequence[str]) -> list[tuple[int, int]]:
    """Where each verbatim evidence sentence lies in ``text`` (whitespace may differ)."""
    spans: list[tuple[int, int]] = []
    for sentence in evidence:
        words = sentence.split()
        if not words:
            continue
        match = re.search(r"\s+".join(re.escape(w) for w in words), text)
        if match:
            spans.append(match.span())
    return spans


def overlaps(a: tuple[int, int], b: tuple[int, int], share: float = 0.5) -> bool:
    """Whether the spans overlap by at least ``share`` of the shorter one."""
    inter = min(a[1], b[1]) - max(a[0], b[0])
    shorter = max(1, min(a[1] - a[0], b[1] - b[0]))
    return inter > 0 and inter / shorter >= share


def policy_label(q: PolicyQuestion, spans: Sequence[tuple[int, int]], c: Candidate) -> int:
    if not q.answerable or c.sentence.doc_id != q.doc_id:
        return 0
    span = (c.sentence.char_start, c.sentence.char_end)
    return int(any(overlaps(span, s) for s in spans))


def ranked(scorer: AnswerScorer, ev: Evidence) -> list[Candidate]:
    """The evidence's candidates in the feature scorer's order (stage 1), best first."""
    analysis = ev.analysis or analyse_question(ev.question)
    return scorer.first_stage(analysis, ev.query_vector, ev.candidates)


def read_first(
    scorer: AnswerScorer, ev: Evidence, read: int, top: int
) -> tuple[list[Candidate], int]:
    """The evidence's candidates as a group holds them: first those the reader reads at query
    time (stage 1's ``read`` best of the passages' sentences and the ``near`` ones,
    :func:`rag.answering.scorer.read_order`), then the passages' next best up to ``top`` in
    all; and how many are read."""
    read = min(read, top)
    order = ranked(scorer, ev)
    taken = [int(i) for i in read_order(order, np.arange(len(order)), read)]
    skip = set(taken)
    rest = [c for i, c in enumerate(order) if c.in_passage and i not in skip]
    return [order[i] for i in taken] + rest[: top - read], len(taken)


def _same_text(a: str, b: str) -> bool:
    na, nb = " ".join(a.lower().split()), " ".join(b.lower().split())
    return na in nb or nb in na


def policy_groups(
    system: QASystem,
    scorer: AnswerScorer,
    questions: Sequence[PolicyQuestion],
    *,
    top: int = GROUP_TOP,
    read: int = READ_TOP,
    nearest: int = 0,
    answer_removed_share: float = 0.3,
    seed: int = 7,
    on_question: Callable[[int], None] | None = None,
) -> Iterator[ReaderGroup]:
    rng = random.Random(seed)
    docs: dict[str, Document | None] = {}
    for n, q in enumerate(questions, start=1):
        if on_question is not None:
            on_question(n)
        if q.doc_id not in docs:
            docs[q.doc_id] = system.get_document(q.doc_id)
        doc = docs[q.doc_id]
        spans = evidence_spans(doc.text, q.evidence) if doc is not None else []
        ev = system.evidence(q.question, nearest=nearest)
        cands, n_read = read_first(scorer, ev, read, top)
        texts = [reader_input(c) for c in cands]
        labels = [policy_label(q, spans, c) for c in cands]
        country = doc.metadata.get("country") if doc is not None else None
        if isinstance(country, str):
            other = system.evidence(
                q.question, filters={"country": country}, query_vector=ev.query_vector, nearest=0
            )
            added = 0
            for c in ranked(scorer, other):
                if added >= OTHER_YEARS:
                    break
                if c.sentence.doc_id == q.doc_id or any(
                    _same_text(c.sentence.text, e) for e in q.evidence
                ):
                    continue
                t = reader_input(c)
                if t not in texts:
                    texts.append(t)
                    labels.append(0)
                    added += 1
        injected = False
        if q.answerable and 1 not in labels and doc is not None and q.evidence:
            context = document_context(doc)
            for e in q.evidence:
                texts.append(f"{context}{CONTEXT_SEPARATOR}{' '.join(e.split())}")
                labels.append(1)
            injected = True
        if q.answerable and 1 not in labels:
            continue  # nothing to learn from: no evidence sentence could be located
        yield ReaderGroup(
            q.id,
            "policy-qa",
            q.category,
            q.question,
            tuple(texts),
            tuple(labels),
            q.answerable,
            injected,
            n_read,
        )
        if q.answerable and rng.random() < answer_removed_share:
            kept = [(t, y) for t, y in zip(texts, labels, strict=True) if y == 0]
            if len(kept) >= 2:
                yield ReaderGroup(
                    f"{q.id}:answer-removed",
                    "policy-qa",
                    "answer-removed",
                    q.question,
                    tuple(t for t, _ in kept),
                    tuple(0 for _ in kept),
                    False,
                )


# --- SQuAD ----------------------------------------------------------------------------------------


def squad_groups(
    system: QASystem,
    scorer: AnswerScorer,
    questions: Sequence[TrainQuestion],
    *,
    source: str,
    top: int = GROUP_TOP,
    read: int = READ_TOP,
    nearest: int = 0,
    answer_removed_share: float = 0.2,
    seed: int = 11,
    on_question: Callable[[int], None] | None = None,
) -> Iterator[ReaderGroup]:
    rng = random.Random(seed)
    for n, q in enumerate(questions, start=1):
        if on_question is not None:
            on_question(n)
        ev = system.evidence(q.question, nearest=nearest)
        cands, n_read = read_first(scorer, ev, read, top)
        pairs = [(reader_input(c), label(q, c), n < n_read) for n, c in enumerate(cands)]
        pairs = [p for p in pairs if p[1] >= 0]  # answer string elsewhere: neither label
        n_read = sum(1 for p in pairs if p[2])
        texts = [t for t, _, _ in pairs]
        labels = [y for _, y, _ in pairs]
        category = "squad" if q.answerable else "unanswerable"
        if q.answerable and 1 not in labels:
            continue
        if len(texts) < 2:
            continue
        yield ReaderGroup(
            q.id,
            source,
            category,
            q.question,
            tuple(texts),
            tuple(labels),
            q.answerable,
            read=n_read,
        )
        if q.answerable and rng.random() < answer_removed_share:
            kept = [t for t, y in zip(texts, labels, strict=True) if y == 0]
            if len(kept) >= 2:
                yield ReaderGroup(
                    f"{q.id}:answer-removed",
                    source,
                    "answer-removed",
                    q.question,
                    tuple(kept),
                    tuple(0 for _ in kept),
                    False,
                )


def load_paraphrases(path: Path, by_id: dict[str, TrainQuestion]) -> list[TrainQuestion]:
    """The paraphrased squad-train questions as training questions of the original's gold
    paragraph and answers."""
    out: list[TrainQuestion] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            original = by_id.get(str(row["id"]))
            if original is None:
                continue
            out.append(
                TrainQuestion(
                    id=f"{row['id']}:paraphrase",
                    question=str(row["question"]),
                    answers=tuple(str(a) for a in row.get("answers") or original.answers),
                    answerable=True,
                    gold_doc_id=original.gold_doc_id,
                )
            )
    return out
