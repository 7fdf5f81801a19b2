"""The hand-written evaluation set over the sample article, and the rule that scores an answer.

The set lives in ``eval/data/article_qa.v1.jsonl``: one JSON object per line, one question per
object. Each answerable question carries short gold strings and the verbatim article passages
that support them; :func:`load_eval_set` refuses the whole set if a single quote is no longer an
exact substring of the article, so a drifted article or a mistyped quote fails loudly instead of
silently skewing scores.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from index.errors import RagError

logger = logging.getLogger(__name__)

Category = Literal[
    "factual",
    "paraphrase",
    "multi_sentence",
    "list",
    "attribution",
    "near_miss",
    "false_premise",
    "off_topic",
]
CATEGORIES: tuple[Category, ...] = get_args(Category)
"""Every category, in the order reports list them."""

AnswerType = Literal["date", "number", "person", "organization", "place", "other"]

DEFAULT_EVAL_SET_PATH = Path(__file__).parent / "data" / "article_qa.v1.jsonl"
"""The packaged evaluation set."""

ARTICLE_FILE_NAME = "japan-sweden-security-cooperation.txt"
"""The sample article (in ``rag/data``) the packaged set's evidence quotes are taken from."""


class EvalSetError(RagError):
    """The evaluation set is missing, malformed, or no longer matches the article it quotes."""


class EvalQuestion(BaseModel):
    """One hand-written question with its gold answers and supporting quotes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="Unique id.")
    category: Category
    question: str = Field(..., min_length=1)
    answers: list[str] = Field(
        default_factory=list,
        description="Gold strings; any one found in the answer counts (all, if all_required).",
    )
    all_required: bool = Field(default=False, description="Every gold string must appear.")
    answerable: bool = Field(..., description="False when the article does not answer it.")
    answer_type: AnswerType | None = None
    evidence: list[str] = Field(
        default_factory=list, description="Verbatim article substrings that support the answer."
    )

    @field_validator("question")
    @classmethod
    def _question_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question is blank")
        return value

    @field_validator("answers")
    @classmethod
    def _answers_match_something(cls, value: list[str]) -> list[str]:
        for answer in value:
            if not normalize_answer_text(answer):
                raise ValueError(f"gold answer {answer!r} is empty once punctuation is removed")
        return value

    @field_validator("evidence")
    @classmethod
    def _evidence_not_blank(cls, value: list[str]) -> list[str]:
        if any(not quote.strip() for quote in value):
            raise ValueError("evidence quotes must not be blank")
        return value

    @model_validator(mode="after")
    def _answerability_is_consistent(self) -> EvalQuestion:
        if self.answerable:
            if not self.answers:
                raise ValueError("an answerable question needs at least one gold answer")
            if not self.evidence:
                raise ValueError("an answerable question needs at least one evidence quote")
        else:
            if self.answers:
                raise ValueError("an unanswerable question must have no gold answers")
            if self.all_required:
                raise ValueError("all_required makes no sense without gold answers")
        return self


class EvalSet(BaseModel):
    """A versioned list of evaluation questions."""

    model_config = ConfigDict(frozen=True)

    version: str = Field(..., min_length=1)
    questions: list[EvalQuestion]

    @model_validator(mode="after")
    def _ids_unique(self) -> EvalSet:
        duplicates = _duplicate_ids(self.questions)
        if duplicates:
            raise ValueError(f"duplicate question ids: {', '.join(duplicates)}")
        return self

    def by_category(self) -> dict[Category, list[EvalQuestion]]:
        """Questions grouped by category; every category is a key, in :data:`CATEGORIES` order."""
        groups: dict[Category, list[EvalQuestion]] = {category: [] for category in CATEGORIES}
        for question in self.questions:
            groups[question.category].append(question)
        return groups

    def get(self, question_id: str) -> EvalQuestion:
        """The question with that id; raises :class:`EvalSetError` when there is none."""
        for question in self.questions:
            if question.id == question_id:
                return question
        raise EvalSetError(f"no question with id {question_id!r} in eval set {self.version}")


def default_article_text() -> str:
    """The text of the packaged sample article that the packaged set quotes."""
    resource = resources.files("rag").joinpath("data").joinpath(ARTICLE_FILE_NAME)
    try:
        return resource.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalSetError(
            f"cannot read the sample article rag/data/{ARTICLE_FILE_NAME}: {exc}",
            hint="reinstall the package or pass article_text explicitly",
        ) from exc


def load_eval_set(path: Path | None = None, *, article_text: str | None = None) -> EvalSet:
    """Load and verify an evaluation set.

    ``path`` defaults to the packaged ``article_qa.v1.jsonl``; ``article_text`` to the packaged
    sample article. The version is the file name without ``.jsonl`` (``article_qa.v1``).
    Raises :class:`EvalSetError` naming the file, line or question id when the file is missing,
    a line is not a valid question, two questions share an id, or any evidence quote is not an
    exact substring of the article.
    """
    source = path if path is not None else DEFAULT_EVAL_SET_PATH
    article = article_text if article_text is not None else default_article_text()
    try:
        raw = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalSetError(
            f"cannot read eval set {source}: {exc}",
            hint="check the path; the packaged set is eval/data/article_qa.v1.jsonl",
        ) from exc

    questions: list[EvalQuestion] = []
    seen: dict[str, int] = {}
    for line_no, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        question = _parse_line(source, line_no, line)
        if question.id in seen:
            raise EvalSetError(
                f"{source}:{line_no}: question id {question.id!r} already used on line "
                f"{seen[question.id]}",
                hint="give every question a unique id",
            )
        seen[question.id] = line_no
        evidence_spans(question, article)
        questions.append(question)

    if not questions:
        raise EvalSetError(f"eval set {source} holds no questions", hint="add one JSON per line")
    eval_set = EvalSet(version=_version_of(source), questions=questions)
    logger.debug("loaded eval set %s: %d questions", eval_set.version, len(questions))
    return eval_set


def evidence_spans(question: EvalQuestion, article_text: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the question's evidence quotes in the article.

    Each quote is located at its first exact occurrence. Raises :class:`EvalSetError` naming the
    question id and the quote when a quote is not an exact substring of ``article_text``.
    """
    spans: list[tuple[int, int]] = []
    for quote in question.evidence:
        start = article_text.find(quote)
        if start < 0:
            raise EvalSetError(
                f"question {question.id}: evidence quote not found verbatim in the article: "
                f"{quote!r}",
                hint="copy the quote exactly from the article, including curly quotes and dashes",
            )
        spans.append((start, start + len(quote)))
    return spans


_CHAR_MAP = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
    }
)
_APOSTROPHE_RE = re.compile(r"'")
_PUNCTUATION_RE = re.compile(r"[^\w\s]|_")
_WHITESPACE_RE = re.compile(r"\s+")


def normalize_answer_text(text: str) -> str:
    """Lowercase, map curly quotes and dashes to ASCII, drop apostrophes, turn every other
    punctuation mark into a space and collapse whitespace (``Japan’s anti-tank`` becomes
    ``japans anti tank``)."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_CHAR_MAP)
    text = _APOSTROPHE_RE.sub("", text)
    text = _PUNCTUATION_RE.sub(" ", text)
    return _WHITESPACE_RE.sub(" ", text).strip()


def answer_matches(answer_text: str, question: EvalQuestion) -> bool:
    """Whether ``answer_text`` contains the question's gold answer(s).

    Both sides are normalised with :func:`normalize_answer_text`; a gold string matches when it
    occurs in the answer as a run of whole words (so ``2022`` does not match ``20221``). Any one
    gold string suffices, or all of them when ``all_required``. A question without gold answers
    (an unanswerable one) never matches: abstention is scored elsewhere.
    """
    if not question.answers:
        return False
    haystack = f" {normalize_answer_text(answer_text)} "
    found = [f" {normalize_answer_text(gold)} " in haystack for gold in question.answers]
    return all(found) if question.all_required else any(found)


def _parse_line(source: Path, line_no: int, line: str) -> EvalQuestion:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EvalSetError(
            f"{source}:{line_no}: not valid JSON: {exc.msg}",
            hint="each line must be one JSON object",
        ) from exc
    label = data.get("id", f"line {line_no}") if isinstance(data, dict) else f"line {line_no}"
    try:
        return EvalQuestion.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or 'question'}: {err['msg']}"
            for err in exc.errors()
        )
        raise EvalSetError(
            f"{source}:{line_no}: question {label} is invalid: {problems}",
            hint="fix the fields named above",
        ) from exc


def _duplicate_ids(questions: list[EvalQuestion]) -> list[str]:
    counts = Counter(question.id for question in questions)
    return sorted(qid for qid, count in counts.items() if count > 1)


def _version_of(path: Path) -> str:
    return path.name.removesuffix(".jsonl") or path.name
