"""The question as a user typed it: checked before anything is computed for it."""

from __future__ import annotations

from rag.errors import InvalidQuestionError
from rag.settings import Settings

#: Characters that print as nothing: a question of only these (and spaces) is empty.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"


def validate_question(question: str, settings: Settings) -> str:
    try:
        question.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidQuestionError(
            "the question is not valid text (bytes that are not UTF-8)",
            hint="write the question in UTF-8",
        ) from exc
    text = question.strip()
    if not text.translate({ord(c): None for c in INVISIBLE}).strip():
        raise InvalidQuestionError("the question is empty", hint="ask a question in plain words")
    if len(text) > settings.max_question_chars:
        raise InvalidQuestionError(
            f"the question has {len(text)} characters; the limit is {settings.max_question_chars}",
            hint="shorten the question (RAG_MAX_QUESTION_CHARS sets the limit)",
        )
    return text
