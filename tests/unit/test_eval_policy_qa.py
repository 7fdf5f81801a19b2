"""The policy-qa evaluation on a tiny hand-made set and fake answers: gold matching, scoring,
aggregates, floors and goals, the report, and the command (no index, no model)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from eval import cli as eval_cli
from eval.dataset import EvalSetError
from eval.policy_qa import (
    PolicyQAMetrics,
    PolicyQARecord,
    PolicyQuestion,
    aggregate_by_category,
    aggregate_policy_qa,
    check_targets,
    contains_answer,
    evaluate_policy_qa,
    failed_policy_record,
    gold_found,
    load_policy_qa,
    policy_qa_path,
    score_policy_answer,
)
from eval.report import policy_qa_markdown, write_outputs
from index.errors import RagError
from rag.models import Answer, AnswerSentence, Citation, Passage
from rag.settings import Settings
from rag.system import QASystem

DOCS = {
    "un:AAA_2021": "Freedonia pledged 40 million dollars to the “Green Harbour” fund. "
    "It also joined the coastal pact.",
    "hsg:treaty": "The envoys signed the Treaty of Elsewhere in June 1899 after long talks.",
}
# "Freedonia pledged 40 million dollars to the “Green Harbour” fund." is [0, 65).
PLEDGE = (0, 65)
TREATY = (0, 72)


def _texts(doc_id: str) -> str | None:
    return DOCS.get(doc_id)


def _q(
    qid: str,
    category: str = "factual",
    *,
    doc_id: str = "un:AAA_2021",
    answers: tuple[str, ...] = ("40 million dollars",),
    all_required: bool = False,
) -> PolicyQuestion:
    answerable = category not in ("near-miss", "false-premise")
    return PolicyQuestion.model_validate(
        {
            "id": qid,
            "doc_id": doc_id,
            "category": category,
            "question": f"Made-up question {qid} about Freedonia?",
            "answers": list(answers) if answerable else [],
            "evidence": [],
            "answerable": answerable,
            "all_required": all_required,
            "answer_type": "other",
        }
    )


def _citation(
    marker: int, doc_id: str, span: tuple[int, int], quote: str | None = None
) -> Citation:
    text = DOCS[doc_id]
    return Citation(
        marker=marker,
        doc_id=doc_id,
        title="t",
        source="s",
        char_start=span[0],
        char_end=span[1],
        quote=text[span[0] : span[1]] if quote is None else quote,
    )


def _passage(doc_id: str, rank: int = 1) -> Passage:
    text = DOCS[doc_id]
    return Passage(
        chunk_id=rank,
        doc_id=doc_id,
        title="t",
        source="s",
        char_start=0,
        char_end=len(text),
        text=text,
        sentence_start=0,
        sentence_end=1,
        rank=rank,
        score=1.0 / rank,
    )


def _answer(
    citations: list[Citation] | None = None,
    *,
    short: str | None = None,
    abstained: bool = False,
    passages: list[Passage] | None = None,
    text: str | None = None,
) -> Answer:
    cites = citations or []
    if text is None:
        text = " ".join(f"{c.quote} [{c.marker}]" for c in cites) or "The documents do not say."
    return Answer(
        question="q",
        answer=text,
        short_answer=short,
        abstained=abstained,
        sentences=[AnswerSentence(text=c.quote, markers=[c.marker]) for c in cites],
        citations=cites,
        passages=passages or [],
        answerer="extractive",
        mode="hybrid",
    )


def _score(question: PolicyQuestion, answer: Answer, latency: float = 10.0) -> PolicyQARecord:
    return score_policy_answer(question, answer, doc_text=_texts, latency_ms=latency)


PLEDGE_ANSWER = _answer(
    [_citation(1, "un:AAA_2021", PLEDGE)],
    passages=[_passage("hsg:treaty", 1), _passage("un:AAA_2021", 2)],
)


# --- matching -------------------------------------------------------------------------------------
def test_matching_ignores_case_and_whitespace() -> None:
    assert contains_answer("Pledged 40   MILLION\ndollars.", "40 million dollars")
    assert not contains_answer("Pledged 40 billion dollars.", "40 million dollars")


def test_a_gold_string_with_curly_quotes_also_matches_without_them() -> None:
    assert contains_answer("joined the Green Harbour fund", "“Green Harbour”")
    assert contains_answer('joined the "Green Harbour" fund', "“Green Harbour”")
    assert contains_answer("joined the “Green Harbour” fund", "“Green Harbour”")
    assert contains_answer("Freedonia’s pledge", "Freedonia's pledge")


def test_a_gold_string_matches_whole_words_only() -> None:
    assert not contains_answer("in 20221", "2022")
    assert not contains_answer("a threefold rise", "three")
    assert contains_answer("in 2022.", "2022")
    assert contains_answer("rose to 67% by 2030", "67%")


def test_any_gold_answer_suffices_unless_all_are_required() -> None:
    text = "France and Spain objected."
    assert gold_found(text, ["Italy", "Spain"])
    assert not gold_found(text, ["Italy", "Spain"], all_required=True)
    assert gold_found(text, ["France", "Spain"], all_required=True)
    assert not gold_found(text, [])


# --- scoring one answer ---------------------------------------------------------------------------
def test_a_right_answer_citing_the_gold_document() -> None:
    record = _score(_q("a1"), PLEDGE_ANSWER)
    assert record.correct is True and record.answered and record.passed
    assert record.gold_doc_cited is True
    assert record.gold_doc_rank == 2
    assert (record.citations, record.valid_citations) == (1, 1)
    assert "[1]" not in record.answer


def test_the_short_answer_counts_and_markers_do_not_split_a_gold_string() -> None:
    cite = _citation(1, "hsg:treaty", TREATY)
    assert _score(_q("a2", answers=("June 1899",)), _answer([cite], short="June 1899")).correct
    answer = _answer([cite], text="The envoys signed [1] the Treaty of Elsewhere in June 1899.")
    assert _score(_q("a3", answers=("signed the Treaty",)), answer).correct


def test_declining_an_answerable_question_is_wrong_and_cites_nothing() -> None:
    answer = _answer([_citation(1, "un:AAA_2021", PLEDGE)], abstained=True)
    record = _score(_q("a4"), answer)
    assert record.correct is False and not record.answered
    assert record.gold_doc_cited is False and record.cited_docs == []
    assert record.valid_citations == 1  # its citations are still checked


def test_an_answer_from_another_document_is_wrong() -> None:
    record = _score(_q("a5"), _answer([_citation(1, "hsg:treaty", TREATY)]))
    assert record.correct is False and record.gold_doc_cited is False


def test_an_unanswerable_question_passes_only_by_declining() -> None:
    question = _q("u1", "near-miss")
    assert _score(question, _answer(abstained=True)).passed
    answered = _score(question, PLEDGE_ANSWER)
    assert not answered.passed and answered.correct is None


def test_a_wrong_quote_is_an_invalid_citation() -> None:
    bad = _citation(1, "un:AAA_2021", (1, 66), quote=DOCS["un:AAA_2021"][0:65])
    assert _score(_q("a6"), _answer([bad])).valid_citations == 0


# --- aggregates -----------------------------------------------------------------------------------
def _records() -> list[PolicyQARecord]:
    """6 answerable (3 right), 3 unanswerable (2 declined), latencies 10..90 ms."""
    treaty = _answer([_citation(1, "hsg:treaty", TREATY)])
    declined = _answer(abstained=True)
    cases: list[tuple[PolicyQuestion, Answer | str]] = [
        (_q("f1"), PLEDGE_ANSWER),  # right, cites gold
        (_q("f2"), treaty),  # wrong, answered
        (_q("p1", "paraphrase"), PLEDGE_ANSWER),  # right
        (_q("p2", "paraphrase"), declined),  # declined
        (_q("l1", "list", answers=("pledged", "coastal pact"), all_required=True), PLEDGE_ANSWER),
        (_q("t1", "number-date", doc_id="hsg:treaty", answers=("1899",)), treaty),  # right
        (_q("n1", "near-miss"), declined),
        (_q("n2", "near-miss"), treaty),  # answered an unanswerable one
        (_q("x1", "false-premise"), "IndexNotFoundError: gone"),  # raised
    ]
    records = []
    for i, (question, answer) in enumerate(cases, start=1):
        if isinstance(answer, str):
            records.append(failed_policy_record(question, answer, 10.0 * i))
        else:
            records.append(_score(question, answer, 10.0 * i))
    return records


def test_the_aggregate_figures() -> None:
    m = aggregate_policy_qa(_records())
    assert (m.questions, m.answerable, m.unanswerable, m.errors) == (9, 6, 3, 1)
    assert (m.answered, m.abstained, m.correct) == (6, 2, 3)
    assert m.accuracy == pytest.approx(3 / 6)
    assert m.precision == pytest.approx(3 / 6)  # 5 answerable answered + 1 unanswerable answered
    assert m.unanswerable_declined == pytest.approx(1 / 3)  # the one that raised did not decline
    assert m.answerable_declined == pytest.approx(1 / 6)
    assert m.gold_doc_cited == pytest.approx(4 / 6)  # f1, p1, l1, t1
    assert m.gold_doc_retrieved == pytest.approx(3 / 6)  # only PLEDGE_ANSWER has passages
    assert m.citation_validity == 1.0
    assert m.latency_p50_ms == pytest.approx(50.0)
    assert m.latency_p95_ms == pytest.approx(86.0)


def test_per_category_figures_in_order() -> None:
    per = aggregate_by_category(_records())
    assert list(per) == [
        "factual",
        "paraphrase",
        "list",
        "number-date",
        "near-miss",
        "false-premise",
    ]
    assert per["paraphrase"].accuracy == pytest.approx(0.5)
    assert per["paraphrase"].answerable_declined == pytest.approx(0.5)
    assert per["list"].accuracy == 0.0  # 'coastal pact' is not in the pledge sentence
    assert per["near-miss"].unanswerable_declined == pytest.approx(0.5)
    assert per["near-miss"].accuracy is None
    assert per["false-premise"].errors == 1
    assert "position" not in per  # no questions of it


def test_empty_groups_are_undefined_not_zero() -> None:
    m = aggregate_policy_qa([])
    assert m.accuracy is None and m.precision is None and m.latency_p50_ms is None


def test_floors_and_goals() -> None:
    metrics = PolicyQAMetrics(
        accuracy=0.7,
        precision=0.95,
        unanswerable_declined=0.5,
        answerable_declined=0.05,
        gold_doc_cited=0.85,
        citation_validity=1.0,
    )
    per = {"paraphrase": PolicyQAMetrics(accuracy=0.75), "position": PolicyQAMetrics()}
    got = {t.label: (t.floor_met, t.goal_met) for t in check_targets(metrics, per)}
    assert got["accuracy"] == (True, False)
    assert got["paraphrase accuracy"] == (True, True)
    assert got["position accuracy"] == (False, False)  # undefined meets nothing
    assert got["precision"] == (True, True)
    assert got["near-miss + false-premise declined"] == (False, False)
    assert got["answerable declined"] == (True, True)  # lower is better
    assert got["gold document cited"] == (True, False)
    assert got["citation validity"] == (True, True)


# --- loading --------------------------------------------------------------------------------------
def _line(qid: str, category: str = "factual", answerable: bool = True, **extra: Any) -> str:
    row = {
        "id": qid,
        "doc_id": "un:AAA_2021",
        "category": category,
        "question": "Made-up question?",
        "answers": ["40 million dollars"] if answerable else [],
        "evidence": [],
        "answerable": answerable,
        "all_required": False,
        "answer_type": "number",
        **extra,
    }
    return json.dumps(row)


def _shared(tmp_path: Path, lines: list[str], split: str = "validation") -> Path:
    folder = tmp_path / "shared" / "benchmarks" / "policy-qa"
    folder.mkdir(parents=True)
    (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "shared"


def test_loading_a_split(tmp_path: Path) -> None:
    shared = _shared(tmp_path, [_line("a"), "", _line("b", "near-miss", answerable=False)])
    questions = load_policy_qa(policy_qa_path(shared, "validation"))
    assert [q.id for q in questions] == ["a", "b"]
    assert questions[1].answerable is False
    with pytest.raises(RagError):
        policy_qa_path(shared, "train")  # missing file
    with pytest.raises(EvalSetError):
        policy_qa_path(shared, "test")


@pytest.mark.parametrize(
    "bad",
    [
        _line("a", "position", answerable=False),  # an answerable category marked unanswerable
        _line("a", "near-miss"),  # an unanswerable kind marked answerable
        _line("a", answers=[" "]),  # answerable without a gold answer
        _line("a", category="opinion"),
        "{not json",
    ],
)
def test_a_bad_line_is_refused_with_its_number(tmp_path: Path, bad: str) -> None:
    shared = _shared(tmp_path, [_line("ok"), bad])
    with pytest.raises(EvalSetError, match=r"validation\.jsonl:2"):
        load_policy_qa(policy_qa_path(shared, "validation"))


# --- running, with a fake system ------------------------------------------------------------------
@dataclass
class _Doc:
    text: str


@dataclass
class _Stats:
    model: str = "fake-encoder"
    documents: int = 2
    chunks: int = 2


@dataclass
class FakeSystem:
    """Answers from a table of question → answer (or error); records how it was asked."""

    answers: dict[str, Answer | RagError]
    settings: Settings = field(
        default_factory=lambda: Settings(index_dir=Path("/nowhere"), answer_model_dir=None)
    )
    asked: list[tuple[str, int | None, str | None]] = field(default_factory=list)
    closed: bool = False

    def ask(self, question: str, *, k: int | None = None, mode: str | None = None) -> Answer:
        self.asked.append((question, k, mode))
        answer = self.answers[question]
        if isinstance(answer, RagError):
            raise answer
        return answer

    def get_document(self, doc_id: str) -> _Doc | None:
        text = DOCS.get(doc_id)
        return _Doc(text) if text is not None else None

    def stats(self) -> _Stats:
        return _Stats()

    def warm_up(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _fake(questions: list[PolicyQuestion]) -> FakeSystem:
    table: dict[str, Answer | RagError] = {}
    for q in questions:
        if q.id == "f1":
            table[q.question] = PLEDGE_ANSWER
        elif q.id == "x1":
            table[q.question] = RagError("broken")
        else:
            table[q.question] = _answer(abstained=True)
    return FakeSystem(table)


def test_evaluate_policy_qa_asks_every_question_through_ask() -> None:
    questions = [_q("f1"), _q("p1", "paraphrase"), _q("n1", "near-miss"), _q("x1", "near-miss")]
    system = _fake(questions)
    seen: list[str] = []
    report = evaluate_policy_qa(
        cast(QASystem, system), questions, on_progress=lambda r: seen.append(r.id)
    )
    assert seen == ["f1", "p1", "n1", "x1"]
    assert [a[1:] for a in system.asked] == [(None, None)] * 4  # the system's own defaults
    m = report.metrics
    assert (m.accuracy, m.precision, m.unanswerable_declined, m.errors) == (0.5, 1.0, 0.5, 1)
    assert report.answer_model == "bundled" and report.model == "fake-encoder"
    assert [f.id for f in report.failures] == ["p1", "x1"]
    assert report.per_category["near-miss"].questions == 2
    assert not report.floors_met


def test_the_report_renders_and_round_trips(tmp_path: Path) -> None:
    questions = [_q("f1"), _q("p1", "paraphrase"), _q("n1", "near-miss")]
    report = evaluate_policy_qa(cast(QASystem, _fake(questions)), questions, split="validation")
    text = policy_qa_markdown(report, show_failures=True)
    assert "# Benchmark: policy-qa (validation)" in text
    assert "| accuracy | 0.500 | ≥ 0.650 | ≥ 0.800 | no |" in text
    assert "| answerable declined | 0.500 | ≤ 0.150 | ≤ 0.080 | no |" in text
    assert "| near-miss | 1 | 0 |  |  | 1.000 |" in text
    assert "| position accuracy | – | ≥ 0.550 | ≥ 0.750 | – |" in text
    assert "## Failing questions (1)" in text and "(declined)" in text
    assert "Failing questions" not in policy_qa_markdown(report)
    md, js = write_outputs(tmp_path, "policy-qa-validation", text, report)
    assert md.read_text(encoding="utf-8") == text
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["metrics"]["accuracy"] == 0.5 and len(data["records"]) == 3


# --- the command ----------------------------------------------------------------------------------
def _parse(argv: list[str]) -> argparse.Namespace:
    from rag.cli import build_parser

    return build_parser(with_plugins=True).parse_args(argv)


def test_the_command_and_its_defaults() -> None:
    args = _parse(["eval-policy-qa"])
    assert args.handler is eval_cli.cmd_eval_policy_qa
    assert (args.split, args.corpus, args.k, args.mode, args.model_dir) == (
        "validation",
        "article+corpora",
        None,
        None,
        None,
    )
    assert _parse(["eval", "--model-dir", "m"]).model_dir == "m"
    assert _parse(["eval-squad", "--model-dir", "m"]).model_dir == "m"


def test_model_dir_sets_the_answer_model(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path)
    assert eval_cli.with_model_dir(settings, None) is settings
    assert eval_cli.with_model_dir(settings, str(tmp_path)).answer_model_dir == tmp_path
    with pytest.raises(EvalSetError, match="no such folder"):
        eval_cli.with_model_dir(settings, str(tmp_path / "missing"))


def test_the_command_runs_a_limited_sample_and_writes_its_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [_line("f1"), _line("f2"), _line("n1", "near-miss", answerable=False)]
    shared = _shared(tmp_path, lines)
    questions = load_policy_qa(policy_qa_path(shared, "validation"))
    system = _fake(questions)
    opened: list[tuple[str, str | None]] = []

    def fake_open(args: argparse.Namespace, settings: Settings, corpus: str, _shared: Any) -> Any:
        opened.append((corpus, args.model_dir))
        return system

    monkeypatch.setattr(eval_cli, "_open_system", fake_open)
    out = tmp_path / "out"
    argv = ["eval-policy-qa", "--shared", str(shared), "--limit", "2", "--out", str(out), "-q"]
    args = _parse([*argv, "--k", "7", "--mode", "lexical"])
    code = eval_cli.cmd_eval_policy_qa(args, Settings(index_dir=tmp_path))
    assert code == eval_cli.EXIT_OK
    assert opened == [("article+corpora", None)] and system.closed
    assert len(system.asked) == 2 and system.asked[0][1:] == (7, "lexical")
    assert "# Benchmark: policy-qa (validation)" in capsys.readouterr().out
    report = json.loads((out / "policy-qa-validation.json").read_text(encoding="utf-8"))
    assert report["questions"] == 2 and report["sample_seed"] is not None
    assert (out / "policy-qa-validation.md").is_file()


def test_the_command_refuses_a_bad_k(tmp_path: Path) -> None:
    args = _parse(["eval-policy-qa", "--k", "0"])
    with pytest.raises(EvalSetError, match="--k"):
        eval_cli.cmd_eval_policy_qa(args, Settings(index_dir=tmp_path))
