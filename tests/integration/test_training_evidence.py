"""Training sees what serving sees: the reader's and the scorer's training candidates are the
candidates of ``QASystem.evidence``, the step ``ask()`` answers from (real model, FAISS, SQLite
over the article among the fixture statements)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rag.answering import analyse_question
from rag.answering.reader import reader_input
from rag.answering.scorer import AnswerScorer
from rag.settings import Settings
from rag.system import QASystem
from rag.training.reader_data import PolicyQuestion, policy_groups
from rag.training.squad import TrainQuestion, labelled_sets

pytestmark = pytest.mark.integration

ARTICLE_ID = "japan-sweden-security-cooperation.txt"
QUESTION = "Which Nordic country did the Japanese defence minister travel to in spring?"


@pytest.fixture(scope="module")
def system(corpus_index: Settings) -> Iterator[QASystem]:
    qa = QASystem.open(corpus_index)
    yield qa
    qa.close()


def test_scorer_training_candidates_are_asks_evidence(system: QASystem) -> None:
    q = TrainQuestion("q1", QUESTION, ("Sweden",), True, ARTICLE_ID)
    (labelled,) = labelled_sets(system, [q], k=5)
    ev = system.evidence(QUESTION, k=5)
    assert [c.sentence for c in labelled.candidates] == [c.sentence for c in ev.candidates]
    assert [p.chunk_id for p in labelled.passages] == [p.chunk_id for p in ev.passages]


def test_reader_training_groups_are_asks_evidence_in_stage_one_order(system: QASystem) -> None:
    scorer = AnswerScorer.load(threads=1)
    ev = system.evidence(QUESTION)
    ranked = scorer.first_stage(analyse_question(QUESTION), ev.query_vector, ev.candidates)
    q = PolicyQuestion("p1", ARTICLE_ID, "near-miss", QUESTION, (), (), False, False)
    (group,) = policy_groups(system, scorer, [q], top=6, answer_removed_share=0.0)
    # An unanswerable question: nothing is a positive and nothing is injected, so the group is
    # exactly the top of ask()'s candidates as stage 1 orders them.
    assert group.texts == tuple(reader_input(c) for c in ranked[:6])
    assert not group.injected


def test_policy_labels_follow_the_evidence_sentence(system: QASystem) -> None:
    doc = system.get_document(ARTICLE_ID)
    assert doc is not None
    scorer = AnswerScorer.load(threads=1)
    ev = system.evidence(QUESTION)
    best = scorer.first_stage(analyse_question(QUESTION), ev.query_vector, ev.candidates)[0]
    q = PolicyQuestion(
        "p2", ARTICLE_ID, "factual", QUESTION, ("x",), (best.sentence.text,), True, False
    )
    (group,) = policy_groups(system, scorer, [q], top=6, answer_removed_share=0.0)
    assert group.labels[0] == 1 and sum(group.labels) >= 1
    assert not group.injected


def test_the_evidence_step_adds_the_top_documents_nearest_sentences(system: QASystem) -> None:
    plain = system.evidence(QUESTION)
    assert not any(c.near for c in plain.candidates)  # the feature scorer reads passages only
    ev = system.evidence(QUESTION, nearest=4)
    near = [c for c in ev.candidates if c.near]
    top_doc = ev.candidates[0].document.id
    assert len(near) == 4 and {c.document.id for c in near} == {top_doc}
    # The passages' candidates are all still there, in their order; the added ones follow.
    assert [c.sentence for c in ev.candidates[: len(plain.candidates)]] == [
        c.sentence for c in plain.candidates
    ]
    added = ev.candidates[len(plain.candidates) :]
    assert all(c.near and not c.in_passage for c in added)
    # Nearest by the stored sentence vectors: no sentence of the document is nearer the question
    # than the farthest one marked.
    with system.snapshot() as snap:
        sentences, vectors = snap.sentences(top_doc, 0, 10**6)
    assert vectors is not None and ev.query_vector is not None
    cosine = {
        s.ordinal: float(v @ ev.query_vector) for s, v in zip(sentences, vectors, strict=True)
    }
    marked = {c.sentence.ordinal for c in near}
    assert (
        min(cosine[o] for o in marked)
        >= max(v for o, v in cosine.items() if o not in marked) - 1e-6
    )


def test_reader_groups_hold_what_the_reader_reads_first(system: QASystem) -> None:
    import numpy as np

    from rag.answering.scorer import read_order

    scorer = AnswerScorer.load(threads=1)
    ev = system.evidence(QUESTION, nearest=3)
    ranked = scorer.first_stage(analyse_question(QUESTION), ev.query_vector, ev.candidates)
    read = [ranked[int(i)] for i in read_order(ranked, np.arange(len(ranked)), 4)]
    q = PolicyQuestion("p3", ARTICLE_ID, "near-miss", QUESTION, (), (), False, False)
    (group,) = policy_groups(
        system, scorer, [q], top=8, read=4, nearest=3, answer_removed_share=0.0
    )
    assert group.read == len(read) and 4 < len(read) <= 7
    assert group.as_read(10)[0] == tuple(reader_input(c) for c in read)
