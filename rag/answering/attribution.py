"""Who is reported as saying something: the speaker or source named by the text itself."""

from __future__ import annotations

import regex as re

_NAME = r"(?:\p{Lu}[\w’'\-.]*(?:\s+(?:of|the|for|and|de|von|van)?\s*[\p{Lu}(][\w’'\-.)]*)*)"
_APPOSITION = r"(?:,\s+(?:a|an|the)\s+[^,.;“”\"]{3,120})?"
_VERBS = (
    r"(?:said|says|stated|states|noted|notes|added|adds|told|explained|warned|argued|declared|"
    r"remarked|insisted|stressed|emphasi[sz]ed|observed|cautioned|claimed|announced|wrote)"
)
# President Erdoğan said; an apposition counts only when a comma closes it ("Guterres, the
# Secretary-General, said"), so "fined Chelsea, the other clubs stressed" names nobody.
_SUBJECT_VERB_RE = re.compile(
    rf"(?P<who>\b{_NAME}(?:{_APPOSITION}(?=,))?),?\s+(?P<verb>{_VERBS})\b(?P<rest>.*)", re.S
)
_PATTERNS = [
    # “...,” said the Secretary-General, a former prime minister of ...
    re.compile(rf"[”\"]\s*,?\s*{_VERBS}\s+(?P<who>(?:the\s+)?{_NAME}{_APPOSITION})"),
    # according to the ministry of ...
    re.compile(r"\b[Aa]ccording to\s+(?P<who>(?:the\s+|a\s+)?[^,.;]{3,120}?)(?=[,.;]|$)"),
    _SUBJECT_VERB_RE,
    # Estimates from the World Bank suggest ...
    re.compile(
        rf"\b(?:[Ee]stimates|[Rr]eports?|[Aa]nalys[ie]s|[Ff]igures|[Dd]ata|[Ss]tud(?:y|ies)|"
        rf"[Bb]riefing)\s+(?:from|by|of)\s+(?P<who>(?:the\s+)?{_NAME})"
    ),
]
_QUOTE_ONLY_RE = re.compile(r"^\s*[“\"].*[”\"]\s*$", re.S)
# Verbs that report speech whatever follows them; the others ("stressed their support", "noted
# the progress") report speech only before a quotation, "that", a colon or a comma.
_SPEECH_VERBS = frozenset("said says stated states told declared wrote announced".split())
_REPORTED_RE = re.compile(r"^\s*(?:[,:“\"‘']|that\b)")


def speaker_in(sentence: str) -> str | None:
    """The speaker or source a sentence attributes its content to, if it names one."""
    for pattern in _PATTERNS:
        m = pattern.search(sentence)
        if m and pattern is _SUBJECT_VERB_RE and not _reports_speech(sentence, m):
            continue
        if m:
            who = m.group("who").strip().rstrip(",")
            if who.endswith(".") and not re.search(r"(?:^|\s)\p{Lu}\.$", who):
                who = who[:-1]  # the sentence's full stop, not an initial
            if who and who[0].isalpha() and who.split()[0].lower() not in {"it", "this", "that"}:
                return who
    return None


def _reports_speech(sentence: str, m: re.Match[str]) -> bool:
    """Whether "NAME VERB …" reports what was said (not "they stressed their support")."""
    return bool(
        "“" in sentence
        or '"' in sentence
        or m.group("verb") in _SPEECH_VERBS
        or _REPORTED_RE.match(m.group("rest"))
    )


def attribute(sentence: str, before: str | None, after: str | None) -> str | None:
    """Speaker of ``sentence``; a bare quotation takes the speaker of its neighbouring quote."""
    who = speaker_in(sentence)
    if who is not None or not _QUOTE_ONLY_RE.match(sentence):
        return who
    for neighbour in (before, after):
        if neighbour and ("”" in neighbour or '"' in neighbour):
            who = speaker_in(neighbour)
            if who is not None:
                return who
    return None
