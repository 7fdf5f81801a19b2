"""Typed spans inside a sentence: the date, number, person, organisation or place it names."""

from __future__ import annotations

import re

from rag.answering.question import AnswerType, QuestionAnalysis
from rag.text_features import NUMBER_RE, canonical_stems, dates, entities

TITLES = frozenset(
    [
        "admiral",
        "general",
        "president",
        "minister",
        "secretary",
        "ambassador",
        "chancellor",
        "king",
        "queen",
        "prince",
        "princess",
        "premier",
        "senator",
        "governor",
        "mayor",
        "dr",
        "mr",
        "mrs",
        "ms",
        "professor",
        "prof",
        "colonel",
        "commander",
        "spokesperson",
        "spokesman",
        "spokeswoman",
        "chairman",
        "chairwoman",
        "chief",
        "envoy",
        "emperor",
        "pope",
        "lieutenant",
        "captain",
        "director",
    ]
)
ORG_WORDS = frozenset(
    [
        "agency",
        "ministry",
        "ministries",
        "union",
        "institute",
        "institution",
        "organization",
        "organisation",
        "council",
        "department",
        "government",
        "forces",
        "nations",
        "alliance",
        "committee",
        "commission",
        "office",
        "bank",
        "fund",
        "court",
        "parliament",
        "congress",
        "senate",
        "assembly",
        "coalition",
        "watchdog",
        "force",
        "navy",
        "army",
        "corps",
        "party",
        "association",
        "federation",
        "bureau",
        "service",
        "services",
        "group",
        "treaty",
    ]
)
PLACES = frozenset(
    [
        "afghanistan",
        "albania",
        "algeria",
        "argentina",
        "armenia",
        "australia",
        "austria",
        "azerbaijan",
        "belarus",
        "belgium",
        "bosnia",
        "brazil",
        "bulgaria",
        "canada",
        "chile",
        "china",
        "colombia",
        "croatia",
        "cuba",
        "cyprus",
        "czechia",
        "denmark",
        "egypt",
        "estonia",
        "ethiopia",
        "finland",
        "france",
        "georgia",
        "germany",
        "greece",
        "hungary",
        "iceland",
        "india",
        "indonesia",
        "iran",
        "iraq",
        "ireland",
        "israel",
        "italy",
        "japan",
        "jordan",
        "kazakhstan",
        "kenya",
        "korea",
        "kosovo",
        "kyiv",
        "kiev",
        "latvia",
        "lebanon",
        "libya",
        "lithuania",
        "luxembourg",
        "mexico",
        "moldova",
        "mongolia",
        "montenegro",
        "morocco",
        "netherlands",
        "nigeria",
        "norway",
        "pakistan",
        "palestine",
        "peru",
        "philippines",
        "poland",
        "portugal",
        "qatar",
        "romania",
        "russia",
        "saudi",
        "serbia",
        "singapore",
        "slovakia",
        "slovenia",
        "somalia",
        "spain",
        "sudan",
        "sweden",
        "switzerland",
        "syria",
        "taiwan",
        "tokyo",
        "stockholm",
        "turkey",
        "ukraine",
        "vietnam",
        "yemen",
        "europe",
        "asia",
        "africa",
        "america",
        "americas",
        "arctic",
        "baltic",
        "pacific",
        "atlantic",
        "indo-pacific",
        "washington",
        "moscow",
        "beijing",
        "london",
        "paris",
        "berlin",
        "brussels",
        "crimea",
        "donbas",
        "gaza",
        "scandinavia",
        "nordic",
    ]
)
COUNTRIES = PLACES - frozenset(
    """kyiv kiev tokyo stockholm washington moscow beijing london paris berlin brussels crimea
    donbas gaza europe asia africa america americas arctic baltic pacific atlantic indo-pacific
    scandinavia nordic""".split()
)
_CAUSE_RE = re.compile(
    r"\b(because|given|due to|owing to|as a result|since|driven by|in order to|so that|"
    r"thanks to|stems from|caused by|in response to|to (?:bolster|counter|deter|support|"
    r"ensure|address))\b",
    re.I,
)
_YEAR_RE = re.compile(r"^(1[5-9]|20)\d{2}s?$")


def _is_org(span: str) -> bool:
    toks = span.lower().replace("(", " ").replace(")", " ").split()
    return any(t in ORG_WORDS for t in toks) or bool(re.fullmatch(r"[A-Z]{2,6}", span))


def _is_place(span: str) -> bool:
    toks = span.lower().split()
    return any(t.strip("’'s") in PLACES for t in toks)


def _is_person(span: str) -> bool:
    toks = span.split()
    if not toks or _is_org(span) or _is_place(span):
        return False
    if toks[0].lower().rstrip(".") in TITLES:
        return len(toks) >= 2
    return len(toks) >= 2 and all(t[:1].isupper() and t[1:].islower() for t in toks)


def _new(values: list[str], seen_in_question: tuple[str, ...]) -> list[str]:
    asked = {v.lower() for v in seen_in_question}
    return [v for v in values if v.lower() not in asked]


def typed_spans(sentence: str, q: QuestionAnalysis, kind: AnswerType | None = None) -> list[str]:
    """Spans of the expected answer type in ``sentence`` that the question does not already name."""
    kind = kind or q.answer_type
    asked = q.stems
    if kind == "date":
        return _new(dates(sentence), q.dates)
    if kind == "number":
        found = [
            m.group(0)
            for m in NUMBER_RE.finditer(sentence)
            if not _YEAR_RE.match(m.group(0).strip())
            and not (m.group(0).lower() == "one" and sentence[m.end() : m.end() + 3] == " of")
            and not (
                m.group(0)[0].isalpha() and sentence[max(0, m.start() - 4) : m.start()] == "the "
            )
        ]
        return _new(found, q.numbers)
    ents = [e for e in entities(sentence) if not canonical_stems(e) <= asked]
    if kind == "person":
        return [e for e in ents if _is_person(e)]
    if kind == "organization":
        return [e for e in ents if _is_org(e)]
    if kind == "place":
        places = [e for e in ents if _is_place(e)]
        if q.subnational:  # a country does not answer "which city / prefecture"
            places = [e for e in places if e.lower().split()[-1].strip("’'s") not in COUNTRIES]
        return places
    if kind == "reason":
        return [m.group(0) for m in _CAUSE_RE.finditer(sentence)]
    if kind == "agent":
        return [e for e in ents if _is_person(e) or _is_org(e)]
    return []
