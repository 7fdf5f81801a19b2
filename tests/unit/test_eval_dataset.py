"""The packaged evaluation set, its loader's checks and the answer-matching rule."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from eval.dataset import (
    CATEGORIES,
    DEFAULT_EVAL_SET_PATH,
    EvalQuestion,
    EvalSet,
    EvalSetError,
    answer_matches,
    default_article_text,
    evidence_spans,
    load_eval_set,
    normalize_answer_text,
)
from index.errors import RagError


@pytest.fixture(scope="module")
def eval_set() -> EvalSet:
    return load_eval_set()


@pytest.fixture(scope="module")
def article() -> str:
    return default_article_text()


def _lines() -> list[dict[str, object]]:
    return [json.loads(line) for line in DEFAULT_EVAL_SET_PATH.read_text("utf-8").splitlines()]


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text(
        "\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8"
    )
    return path


def _question(answers: list[str], *, all_required: bool = False) -> EvalQuestion:
    return EvalQuestion(
        id="t001",
        category="list" if all_required else "factual",
        question="q?",
        answers=answers,
        all_required=all_required,
        answerable=True,
        answer_type="other",
        evidence=["x"],
    )


# --- the packaged set ------------------------------------------------------------------------


def test_packaged_set_loads_with_enough_questions(eval_set: EvalSet) -> None:
    assert eval_set.version == "article_qa.v1"
    assert len(eval_set.questions) >= 60
    assert len({q.id for q in eval_set.questions}) == len(eval_set.questions)


def test_every_category_is_present(eval_set: EvalSet) -> None:
    groups = eval_set.by_category()
    assert list(groups) == list(CATEGORIES)
    for category, questions in groups.items():
        assert questions, f"no {category} questions"
        assert all(q.category == category for q in questions)


def test_lines_have_exactly_the_documented_fields() -> None:
    expected = {
        "id",
        "category",
        "question",
        "answers",
        "all_required",
        "answerable",
        "answer_type",
        "evidence",
    }
    for row in _lines():
        assert set(row) == expected, row.get("id")


def test_answerability_follows_category(eval_set: EvalSet) -> None:
    unanswerable = {"near_miss", "false_premise", "off_topic"}
    for q in eval_set.questions:
        assert q.answerable == (q.category not in unanswerable), q.id
        if q.category in {"false_premise", "off_topic"}:
            assert q.evidence == [], q.id


def test_gold_answers_are_found_in_their_evidence(eval_set: EvalSet, article: str) -> None:
    for q in eval_set.questions:
        if q.answerable:
            assert answer_matches(" ".join(q.evidence), q), q.id
            spans = evidence_spans(q, article)
            assert [article[s:e] for s, e in spans] == q.evidence, q.id


def test_unanswerable_questions_never_match(eval_set: EvalSet, article: str) -> None:
    for q in eval_set.questions:
        if not q.answerable:
            assert not answer_matches(article, q), q.id


# --- the loader fails loudly -----------------------------------------------------------------


def test_corrupted_quote_names_the_question(tmp_path: Path) -> None:
    rows = _lines()
    victim = next(row for row in rows if row["id"] == "a033")
    evidence = victim["evidence"]
    assert isinstance(evidence, list)
    good = evidence[0]
    evidence[0] = good.replace("Japan’s", "Japan's")  # straight apostrophe: not in the article
    path = _write(tmp_path / "corrupt.v1.jsonl", rows)
    with pytest.raises(EvalSetError) as caught:
        load_eval_set(path)
    assert isinstance(caught.value, RagError)
    assert "a033" in str(caught.value)
    assert "Japan's commitment" in str(caught.value)


def test_article_drift_is_caught(eval_set: EvalSet, article: str) -> None:
    drifted = article.replace("March 2024", "April 2024")
    with pytest.raises(EvalSetError, match="a002"):
        load_eval_set(article_text=drifted)


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    rows = _lines()
    rows[1]["id"] = rows[0]["id"]
    with pytest.raises(EvalSetError, match="a001"):
        load_eval_set(_write(tmp_path / "dup.jsonl", rows))


def test_answerable_without_answers_is_rejected(tmp_path: Path) -> None:
    rows = _lines()
    rows[4]["answers"] = []
    with pytest.raises(EvalSetError, match="a005"):
        load_eval_set(_write(tmp_path / "bad.jsonl", rows))


def test_unanswerable_with_answers_is_rejected() -> None:
    with pytest.raises(ValueError, match="no gold answers"):
        EvalQuestion(
            id="x1",
            category="off_topic",
            question="Which river flows through Ulaanbaatar?",
            answers=["the Tuul"],
            answerable=False,
        )


def test_unknown_category_and_bad_json_are_rejected(tmp_path: Path) -> None:
    rows = _lines()
    rows[0]["category"] = "trivia"
    with pytest.raises(EvalSetError, match="a001"):
        load_eval_set(_write(tmp_path / "cat.jsonl", rows))
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "a001",\n', encoding="utf-8")
    with pytest.raises(EvalSetError, match=":1:"):
        load_eval_set(broken)


def test_missing_file_is_an_eval_set_error(tmp_path: Path) -> None:
    with pytest.raises(EvalSetError, match="cannot read"):
        load_eval_set(tmp_path / "nope.jsonl")


# --- the match rule ------------------------------------------------------------------------


def test_normalisation() -> None:
    assert normalize_answer_text("  Japan’s “Anti–Tank”\nweapons. ") == "japans anti tank weapons"
    assert normalize_answer_text("Japan's anti-tank") == normalize_answer_text("JAPAN’S ANTI TANK")


def test_any_of_match() -> None:
    q = _question(["Hiroshi Watanabe", "Admiral Watanabe"])
    assert answer_matches("It was said by ADMIRAL Watanabe.", q)
    assert answer_matches("hiroshi   watanabe, a senior strategist", q)
    assert not answer_matches("It was said by a senior strategist.", q)


def test_all_of_match() -> None:
    q = _question(["China", "North Korea"], all_required=True)
    assert answer_matches("The rise of China and North Korea.", q)
    assert not answer_matches("The rise of China.", q)


def test_punctuation_and_dashes_are_ignored() -> None:
    q = _question(["anti-tank", "December 2022"])
    assert answer_matches("Sweden supplies anti–tank weaponry", q)
    assert answer_matches("signed in December, 2022", q)


def test_match_is_on_whole_words() -> None:
    q = _question(["EU"])
    assert answer_matches("Some in the EU are worried.", q)
    assert not answer_matches("A neutral country.", q)
    assert not answer_matches("December 20221", _question(["December 2022"]))


def test_question_without_answers_never_matches(eval_set: EvalSet) -> None:
    assert not answer_matches("Lima is the capital of Peru.", eval_set.get("a069"))


# --- evaluation questions are not test cases -----------------------------------------------------
TESTS = Path(__file__).resolve().parents[1]


def _normal(text: str) -> str:
    return re.sub(r"\W+", " ", text.casefold()).strip()


def eval_questions_in(paths: list[Path], eval_set: EvalSet) -> list[str]:
    """``path:line id`` for each string constant in ``paths`` that is an evaluation question
    (compared without case, punctuation or spacing)."""
    asked = {_normal(q.question): q.id for q in eval_set.questions}
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                qid = asked.get(_normal(node.value))
                if qid is not None:
                    found.append(f"{path.name}:{node.lineno} {qid}")
    return found


def test_no_test_asks_an_evaluation_question(eval_set: EvalSet) -> None:
    """The evaluation set measures the system; its questions never double as test cases."""
    paths = sorted(TESTS.rglob("*.py"))
    assert len(paths) > 40
    assert eval_questions_in(paths, eval_set) == []


def test_the_question_scan_finds_an_evaluation_question(eval_set: EvalSet, tmp_path: Path) -> None:
    question = eval_set.get("a002").question
    probe = tmp_path / "test_probe.py"
    probe.write_text(f"ASKED = {question.upper()!r}\n", encoding="utf-8")
    assert eval_questions_in([probe], eval_set) == ["test_probe.py:1 a002"]
