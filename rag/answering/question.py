"""What a question asks for: its expected answer type, its key terms and entities."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rag.text_features import content_stems, content_terms, dates, entities, numbers

AnswerType = Literal[
    "date", "number", "person", "organization", "place", "agent", "reason", "other"
]

_TYPE_RULES: list[tuple[str, AnswerType]] = [
    (
        r"\b(when|(what|which)( exact| precise| specific)? (year|month|date|day|time)|"
        r"how long ago|since when|by when|what period)\b",
        "date",
    ),
    (
        r"\b(how (many|much)|what (is|was|are|were) the (total |exact |overall )?(number|value|"
        r"cost|amount|size|budget|price|sum|figure|percentage|share)|what (number|percentage|"
        r"share|amount|proportion|sum)|(monetary|financial|dollar) value|how large|how big)\b",
        "number",
    ),
    (
        r"\b(which|what) (organi[sz]ation|agency|institute|ministry|ministries|body|bodies|"
        r"alliance|publication|outlet|think tank)\b",
        "organization",
    ),
    (r"\b(according to whom|who|whom|whose)\b", "agent"),
    (r"^\s*(why|for what reason|what (is|was) the reason)\b", "reason"),
    (
        r"\b(where|what (is|was) the (capital|largest city|seat)|"
        r"(which|what) (\w+ )?(country|countries|city|cities|region|place|nation|"
        r"nations|capital|prefecture|province|state|town|port|base|island))\b",
        "place",
    ),
    (
        r"\b((what is|what's) the name of the|which (\w+ ){0,2}(person|people|official|minister|"
        r"leader|spokesperson|diplomat|president|ambassador|officer|politician|author|writer|"
        r"scientist|king|queen|ruler|emperor))\b",
        "person",
    ),
]
_COMPILED = [(re.compile(p, re.I), kind) for p, kind in _TYPE_RULES]
_WH_RE = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how)\b", re.I)
_ATTRIBUTION_RE = re.compile(
    r"\b(who (said|stated|says|claimed|warned|noted|described|called|argued|declared|remarked)|"
    r"according to (whom|which|what)|who is quoted|whose (words|statement|estimate|estimates)|"
    r"which (source|organi[sz]ation|institute|official|person) (said|estimates?|suggests?|"
    r"stated|reported|reports))\b",
    re.I,
)


@dataclass(frozen=True)
class QuestionAnalysis:
    text: str
    answer_type: AnswerType
    asks_attribution: bool
    terms: tuple[str, ...]
    stems: frozenset[str]
    entities: tuple[str, ...]
    entity_stems: tuple[frozenset[str], ...]
    dates: tuple[str, ...]
    numbers: tuple[str, ...]


def main_clause(question: str) -> str:
    """The question up to its second wh-word: what it asks for, without the subordinate or
    relative clause that may follow ("What did the town give up *when* it joined the league?"
    asks for a thing, not a date; "What is the name of the potter *who* glazed the urn?" for a
    name, not for whoever acted)."""
    words = list(_WH_RE.finditer(question))
    return question[: words[1].start()] if len(words) > 1 else question


def analyse_question(question: str) -> QuestionAnalysis:
    answer_type: AnswerType = "other"
    asked = main_clause(question)
    for pattern, kind in _COMPILED:
        if pattern.search(asked):
            answer_type = kind
            break
    asks_attribution = bool(_ATTRIBUTION_RE.search(question))
    if asks_attribution:
        answer_type = "agent"
    found = entities(question)
    return QuestionAnalysis(
        text=question,
        answer_type=answer_type,
        asks_attribution=asks_attribution,
        terms=tuple(content_terms(question)),
        stems=frozenset(content_stems(question)),
        entities=tuple(found),
        entity_stems=tuple(frozenset(content_stems(e)) for e in found),
        dates=tuple(dates(question)),
        numbers=tuple(numbers(question)),
    )
