"""Quality floors: the full article evaluation set through the real system (hybrid retrieval).

The floors sit a little below the scores measured when they were set (hybrid, k=5, default
settings, the learned answer scorer v4: hit@5 0.94, accuracy 0.64, abstention recall 0.59, citation
validity 1.0) and are the ones docs/evaluation.md quotes (`tests/unit/test_docs.py` checks that):
hit@5 >= 0.92, accuracy >= 0.60, abstention recall >= 0.50, citation validity 1.0. An answerer or
retrieval change that loses ground fails here. The hit@5 floor was lowered from 0.95 when dense
candidates came to be ordered by their best sentence (chosen on validation articles: hit@1 0.761 ->
0.786, hit@5 0.945 -> 0.947 there); on this set hit@1 rose 0.78 -> 0.80 and hit@5 fell 0.96 -> 0.94
(a019, a paraphrase, left the top 5). With answerer v4 (fitted on paragraphs and long documents,
with the document's length as a feature; chosen on validation articles, where at most 10% of
answerable questions declined it declines more unanswerable ones) this set's abstention recall rose
0.41 -> 0.59 and its accuracy fell 0.70 -> 0.64, so the accuracy floor moved from 0.65 to 0.60 and
the abstention floor from 0.35 to 0.50. Raise them as the system improves. (Nothing was tuned on
these questions: the scorer and its threshold come from SQuAD-derived validation data, see
rag/answering/model/MODEL_CARD.md.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from eval.dataset import load_eval_set
from eval.harness import ConfigResult, EvalConfig, run_eval, sweep
from rag.cli import main as rag_main
from rag.settings import Settings
from rag.system import QASystem

HIT_AT_5_FLOOR = 0.92
ACCURACY_FLOOR = 0.60
ABSTENTION_RECALL_FLOOR = 0.50


@pytest.fixture(scope="module")
def system(article_index: Settings) -> Iterator[QASystem]:
    qa = QASystem.open(article_index)
    yield qa
    qa.close()


@pytest.fixture(scope="module")
def hybrid(system: QASystem) -> ConfigResult:
    report = run_eval(system, load_eval_set(), [EvalConfig(name="hybrid", mode="hybrid", k=5)])
    return report.result("hybrid")


def test_every_question_was_answered_or_declined(hybrid: ConfigResult) -> None:
    assert hybrid.overall.questions == 77
    assert hybrid.overall.errors == 0
    assert hybrid.overall.answered + hybrid.overall.abstained == 77


def test_retrieval_finds_the_evidence_in_the_top_5(hybrid: ConfigResult) -> None:
    missed = [r.id for r in hybrid.records if r.answerable and not r.hit_at_5]
    assert hybrid.overall.hit_at_5 is not None
    assert hybrid.overall.hit_at_5 >= HIT_AT_5_FLOOR, f"evidence not retrieved for {missed}"


def test_every_citation_quotes_its_document_exactly(hybrid: ConfigResult) -> None:
    assert sum(r.citations for r in hybrid.records) > 0
    assert hybrid.overall.citation_validity == 1.0


def test_answer_accuracy_floor(hybrid: ConfigResult) -> None:
    wrong = [f.id for f in hybrid.failures if f.expected != "abstain"]
    assert hybrid.overall.accuracy is not None
    assert hybrid.overall.accuracy >= ACCURACY_FLOOR, f"wrong or declined: {wrong}"


def test_abstention_recall_floor(hybrid: ConfigResult) -> None:
    answered = [f.id for f in hybrid.failures if f.expected == "abstain"]
    assert hybrid.overall.abstention_recall is not None
    assert hybrid.overall.abstention_recall >= ABSTENTION_RECALL_FLOOR, f"answered: {answered}"


def test_threshold_sweep_trades_answers_for_abstentions(system: QASystem) -> None:
    questions = load_eval_set()
    report = sweep(system, questions, "abstain_threshold", [0.0, 1.0])
    lenient, strict = (row.metrics for row in report.rows)
    assert strict.answered == 0  # no probability reaches 1: every question is declined
    assert strict.abstention_recall == 1.0 and strict.accuracy == 0.0
    assert lenient.answered > strict.answered
    assert system.settings.abstain_threshold != 1.0  # the override did not leak


def test_rag_eval_command_writes_reports(article_index: Settings, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = rag_main(
        [
            "eval",
            "--index",
            str(article_index.index_dir),
            "--configs",
            "lexical@3",
            "--limit",
            "12",
            "--show-failures",
            "-q",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    markdown = (out / "results.md").read_text(encoding="utf-8")
    assert "| lexical@3 | lexical | 3 | 12 |" in markdown
    assert "## Per category (lexical@3)" in markdown
    assert '"eval_set": "article_qa.v1"' in (out / "results.json").read_text(encoding="utf-8")
