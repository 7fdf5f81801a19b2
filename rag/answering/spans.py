"""Typed spans inside a sentence: the date, number, person, organisation or place it names.

Shapes only, no gazetteers: a person is a capitalised multi-word name (a title or an abbreviated
one counts as a word: "President Lula", "Dr. Greta Holm") whose head noun is no place or
building ("New War Building" is none), an organisation a capitalised span
containing an institutional head noun or an acronym, a place a capitalised span after a locative
preposition ("in Seoul", "from Ottawa").
"""

from __future__ import annotations

import regex

from rag.answering.question import AnswerType, QuestionAnalysis
from rag.text_features import NUMBER_RE, WORD_RE, content_stems, dates, entities, stem

# Head nouns that make a capitalised span an institution.
ORG_WORDS = frozenset(
    """agency ministry ministries union institute institution organization organisation council
    department government forces nations alliance committee commission office bank fund court
    parliament congress senate assembly coalition force navy army corps party association
    federation bureau service services group company corporation university college school
    church network foundation society league board authority""".split()
)
# Head nouns that make a capitalised span a place or a building, never a person ("New War
# Building", "Red Square"); common surnames (Hall, House, Rivers) are left out.
PLACE_WORDS = frozenset(
    """building buildings street avenue boulevard road square palace castle airport station
    bridge river sea ocean gulf strait canal island islands peninsula mountains province region
    district county prefecture republic kingdom emirates territory territories desert valley
    centre center tower cathedral stadium embassy consulate""".split()
)
# A word of a name ("Holm", "Dr."), an initial ("C."), and the lower-case particles inside a
# person's name ("Ursula von der Leyen", "Charles de Gaulle").
_NAME_WORD_RE = regex.compile(r"^\p{Lu}[\p{Ll}\p{M}'’\-]+\.?$")
_INITIAL_RE = regex.compile(r"^\p{Lu}\.$")
_NAME_PARTICLES = frozenset("de da di du del della des la le van von der den al el bin ibn".split())
_LOCATIVE_RE = regex.compile(
    r"\b(?:in|at|from|near|to|into|across|throughout|within|outside|inside|towards?|between|"
    r"around|off|of)\s+(?:the\s+)?$",
    regex.I,
)
_YEAR_RE = regex.compile(r"^(1[0-9]|20)\d{2}s?$")
_CAUSE_RE = regex.compile(
    r"\b(because|given|due to|owing to|as a result|since|driven by|in order to|so that|"
    r"thanks to|stems from|caused by|in response to|to (?:bolster|counter|deter|support|"
    r"ensure|address|prevent|protect|improve|reduce|increase))\b",
    regex.I,
)


def is_org(span: str) -> bool:
    toks = span.lower().replace("(", " ").replace(")", " ").split()
    return any(t in ORG_WORDS for t in toks) or bool(regex.fullmatch(r"\p{Lu}{2,6}", span))


def is_person(span: str) -> bool:
    """A capitalised name of two or more words; an initial counts as a word ("George C.
    Marshall"), but initials alone ("J. K.") are no name, nor is a span whose head noun names a
    place or a building ("New War Building")."""
    toks = span.split()
    if len(toks) < 2 or is_org(span) or toks[-1].lower().strip(".,") in PLACE_WORDS:
        return False
    return any(_NAME_WORD_RE.match(t) for t in toks) and all(
        _NAME_WORD_RE.match(t) or _INITIAL_RE.match(t) or t in _NAME_PARTICLES for t in toks
    )


def _places(sentence: str, spans: list[str]) -> list[str]:
    out: list[str] = []
    for span in spans:
        at = sentence.find(span)
        if at > 0 and _LOCATIVE_RE.search(sentence[:at]) and not is_person(span):
            out.append(span)
    return out


def _new(values: list[str], seen_in_question: tuple[str, ...]) -> list[str]:
    asked = {v.lower() for v in seen_in_question}
    return [v for v in values if v.lower() not in asked]


def typed_spans(sentence: str, q: QuestionAnalysis, kind: AnswerType | None = None) -> list[str]:
    """Spans of the expected answer type in ``sentence`` that the question does not already name."""
    kind = kind or q.answer_type
    if kind == "date":
        return _new(dates(sentence), q.dates)
    if kind == "number":
        found = [
            str(m.group(0))
            for m in NUMBER_RE.finditer(sentence)
            if not _YEAR_RE.match(str(m.group(0)).strip())
            and not (str(m.group(0)).lower() == "one" and sentence[m.end() : m.end() + 3] == " of")
            and not (
                str(m.group(0))[0].isalpha()
                and sentence[max(0, m.start() - 4) : m.start()] == "the "
            )
        ]
        return _new(found, q.numbers)
    if kind == "reason":
        return [str(m.group(0)) for m in _CAUSE_RE.finditer(sentence)]
    if kind == "other":
        return []
    ents = [e for e in entities(sentence) if not content_stems(e) <= q.stems]
    if kind == "person":
        return [e for e in ents if is_person(e)]
    if kind == "organization":
        return [e for e in ents if is_org(e)]
    if kind == "place":
        return _places(sentence, ents)
    if kind == "agent":
        return [e for e in ents if is_person(e) or is_org(e)]
    return []


def nearest_to_question(sentence: str, spans: list[str], q: QuestionAnalysis) -> list[str]:
    """``spans`` ordered by their distance (characters) from the nearest word of the sentence
    that the question also holds, a span's own words not counting; ties, and sentences that
    repeat no word of the question, keep the sentence's order. In "A memo on talks between the
    Transport Ministry and the port was sent to the Fisheries Agency", "Which agency was the memo
    sent to?" is nearest to "Fisheries Agency" (by "sent")."""
    if len(spans) < 2:
        return list(spans)
    anchors = [
        (m.start(), m.end()) for m in WORD_RE.finditer(sentence) if stem(str(m.group(0))) in q.stems
    ]

    def distance(span: str) -> int:
        start = sentence.find(span)
        end = start + len(span)
        gaps = [
            start - b if b <= start else a - end
            for a, b in anchors
            if b <= start or a >= end  # words inside the span are the span's own
        ]
        return min(gaps, default=len(sentence))

    return sorted(spans, key=distance)
