"""SQuAD-derived training data: questions, article-level splits and labelled candidate sentences.

Candidates are produced by the very pipeline that answers questions (hybrid retrieval of the top
passages, then their sentences), so the models learn the distribution they will see. A sentence is
a positive when it lies in the question's gold paragraph (a paragraph of its own, or a stretch of
one of :func:`long_documents`) and contains a gold answer string;
sentences elsewhere that happen to contain the answer are left out (neither label is safe);
every candidate of an unanswerable question is a negative.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from index.records import Sentence
from rag.answering import Candidate
from rag.filters import Filters
from rag.models import Document, Passage
from rag.settings import RetrievalMode
from rag.system import QASystem

SPLIT_SEED = 20261128


@dataclass(frozen=True)
class TrainQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    answerable: bool
    gold_doc_id: str
    #: Where the gold paragraph lies in ``gold_doc_id`` (characters); None: the whole document.
    gold_span: tuple[int, int] | None = None

    @property
    def article(self) -> str:
        return article_of(self.gold_doc_id)

    def holds(self, doc_id: str, start: int, end: int) -> bool:
        """Whether characters ``start:end`` of ``doc_id`` overlap the gold paragraph."""
        if doc_id != self.gold_doc_id:
            return False
        return self.gold_span is None or (start < self.gold_span[1] and end > self.gold_span[0])

    def found_in(self, passage: Passage) -> bool:
        """Whether a retrieved passage is the gold paragraph's and holds a gold answer."""
        return self.holds(passage.doc_id, passage.char_start, passage.char_end) and (
            contains_answer(passage.text, self.answers)
        )


#: How a question was put to the collection (see :func:`labelled_sets`, :func:`answer_removed`).
ASKED = "asked"
ARTICLE_REMOVED = "article_removed"
ANSWER_REMOVED = "answer_removed"
KINDS = (ASKED, ARTICLE_REMOVED, ANSWER_REMOVED)


@dataclass
class LabelledSet:
    """One question with its retrieved candidates and their labels (1, 0; -1 = unknown)."""

    question: TrainQuestion
    candidates: list[Candidate]
    labels: list[int]
    query_vector: object = field(repr=False)
    passages: list[Passage] = field(repr=False, default_factory=list)
    kind: str = ASKED

    @property
    def has_positive(self) -> bool:
        return any(label == 1 for label in self.labels)


#: Document ids of :func:`long_documents`: ``long:<article>``.
LONG_PREFIX = "long:"


def article_of(doc_id: str) -> str:
    """``squad:<article>:<paragraph>`` or ``long:<article>`` → ``<article>``."""
    if doc_id.startswith(LONG_PREFIX):
        return doc_id[len(LONG_PREFIX) :]
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


def long_documents(path: Path) -> tuple[list[Document], dict[str, tuple[str, int, int]]]:
    """One document per article of ``documents.jsonl`` (its paragraphs joined in order by blank
    lines), so that chunks cross paragraph boundaries as they do in a speech or a cable; and where
    each paragraph landed: paragraph id → (document id, start, end)."""
    by_article: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                _, article, number = row["id"].split(":")
                by_article[article].append((int(number), row))
    documents: list[Document] = []
    spans: dict[str, tuple[str, int, int]] = {}
    for article, rows in sorted(by_article.items()):
        doc_id, text = f"{LONG_PREFIX}{article}", ""
        for _, row in sorted(rows, key=lambda r: r[0]):
            text += "\n\n" if text else ""
            spans[row["id"]] = (doc_id, len(text), len(text) + len(row["text"]))
            text += row["text"]
        documents.append(Document(id=doc_id, title=rows[0][1]["title"], text=text))
    return documents, spans


def in_long_documents(
    questions: Sequence[TrainQuestion], spans: dict[str, tuple[str, int, int]]
) -> list[TrainQuestion]:
    """The questions with their gold paragraph located in the documents of
    :func:`long_documents`."""
    out = []
    for q in questions:
        doc_id, start, end = spans[q.gold_doc_id]
        out.append(replace(q, gold_doc_id=doc_id, gold_span=(start, end)))
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
    sentence = candidate.sentence
    hit = contains_answer(sentence.text, question.answers)
    if question.holds(sentence.doc_id, sentence.char_start, sentence.char_end):
        return 1 if hit else 0
    return -1 if hit else 0


def labelled_sets(
    system: QASystem,
    questions: Sequence[TrainQuestion],
    *,
    k: int,
    article_removed: bool = False,
    mode: RetrievalMode | None = None,
) -> Iterator[LabelledSet]:
    """Retrieve and label the candidates of each question, as the answering path would see them.

    With ``article_removed`` each question is asked of the collection *without its own article*
    (a filter keeps every other paragraph): the documents then do not hold the answer, the
    situation of an analyst's question about something the collection never covers, so every
    candidate is a negative and the question counts as unanswerable.

    ``mode="lexical"`` asks without a query vector, as the product asks a question the embedding
    model cannot read (another language): BM25 retrieval and no similarity features.
    """
    doc_ids: list[str] = []
    if article_removed:
        doc_ids = [d.id for d in system.list_documents()[0]]
    filters: dict[str, Filters] = {}
    for q in questions:
        flt = None
        if article_removed:
            flt = filters.get(q.article)
            if flt is None:
                keep = [d for d in doc_ids if article_of(d) != q.article]
                flt = filters[q.article] = Filters(doc_ids=keep)
        # The very step ``ask()`` takes (language fallback included): training sees what
        # serving sees.
        ev = system.evidence(q.question, k=k, filters=flt, mode=mode)
        vector, passages, candidates = ev.query_vector, ev.passages, ev.candidates
        if article_removed:
            q = replace(q, answerable=False)
        labels = [label(q, c) for c in candidates]
        kind = ARTICLE_REMOVED if article_removed else ASKED
        yield LabelledSet(q, candidates, labels, vector, passages, kind)


def answer_removed(ls: LabelledSet) -> LabelledSet:
    """An answerable question's evidence with every sentence that holds its answer taken out (and
    out of its neighbours' context): the topic is there, the answer is not — the near miss an
    analyst's question often is. Every remaining candidate is a negative."""
    gone = {
        (c.sentence.doc_id, c.sentence.ordinal)
        for c, y in zip(ls.candidates, ls.labels, strict=True)
        if y != 0
    }

    def without(s: Sentence | None) -> Sentence | None:
        return None if s is not None and (s.doc_id, s.ordinal) in gone else s

    kept = [
        replace(c, prev=without(c.prev), next=without(c.next))
        for c, y in zip(ls.candidates, ls.labels, strict=True)
        if y == 0
    ]
    return LabelledSet(
        replace(ls.question, answerable=False),
        kept,
        [0] * len(kept),
        ls.query_vector,
        ls.passages,
        ANSWER_REMOVED,
    )
