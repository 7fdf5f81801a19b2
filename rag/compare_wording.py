"""The question of a comparison, worded for each group.

"What did China say about climate finance in 2023?" asked of every country of session 78 must not
carry "China" into the United States' row: filtered to the United States' statement, the name
would pull retrieval toward the sentences that mention China and count against sentences that do
not name it. The rule:

- **Country** (grouping by ``country``, or any key whose values are ISO 3166 codes): the country
  the question names as the *speaker* is replaced by the group's country name. A country is the
  speaker when an auxiliary comes just before it ("did China say", "has Kenya called"), a verb of
  speech just after it ("China said", "Kenya argues"), "according to" before it, or its
  possessive names a position ("China's position/view/stance/line/statement"). Any other country
  is the topic and stays ("What did China say about Taiwan?" asked of Kenya: "What did Kenya say
  about Taiwan?").
- **Year** (grouping by ``date``/``year`` or ``session``): "in 2023" / "during 2023" becomes the
  group's year; a year that is not the time frame ("the 2015 Paris Agreement") stays.
- **Session** (grouping by ``session``): "session 78" / "the 78th session" becomes the group's.
- **Any other key**: a value of the key named in the question (whole words, any case) becomes the
  group's value.

The *neutral* wording words the grouping dimension out: the speaker becomes "the country" (also
when the filters hold one country and the table goes by session or year), the time frame and the
session phrase are dropped — each group's filter says who and when. The *topic* wording (the
default, ``Settings.compare_wording``) goes one step further for a question that asks what the
speaker said about something ("What did the country say about X?", "What is the country's
position on X?", "Did the country raise X?", "Where does the country stand on X?": the
:data:`TOPIC_SHAPES`): each group is asked the topic itself, "X" — on the compare set the answerer
finds the group's sentence on X far more often (answer cells right 0.56 → 0.86) and still declines
every silent group. The query vector is computed once for the whole table, from the question
every group is asked (the topic, or the neutral wording); with the *named* wording (the group's
name put in) it is the neutral wording's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

#: How a country reads in a sentence where pycountry's name does not ("Korea, Republic of").
DISPLAY_NAMES = {
    "USA": "the United States",
    "GBR": "the United Kingdom",
    "RUS": "Russia",
    "KOR": "South Korea",
    "PRK": "North Korea",
    "IRN": "Iran",
    "SYR": "Syria",
    "VEN": "Venezuela",
    "BOL": "Bolivia",
    "TZA": "Tanzania",
    "MDA": "Moldova",
    "LAO": "Laos",
    "VNM": "Viet Nam",
    "COD": "the Democratic Republic of the Congo",
    "COG": "the Republic of the Congo",
    "FSM": "Micronesia",
    "ARE": "the United Arab Emirates",
    "NLD": "the Netherlands",
    "PHL": "the Philippines",
    "CZE": "Czechia",
    "TUR": "Türkiye",
    "VAT": "the Holy See",
    "PSE": "Palestine",
}
#: Other names people use for a country (matched besides pycountry's names and the code).
ALIASES = {
    "USA": ("United States of America", "United States", "U.S.", "US", "America"),
    "GBR": ("United Kingdom", "Britain", "Great Britain", "UK", "U.K."),
    "RUS": ("Russia",),
    "KOR": ("South Korea", "Republic of Korea"),
    "PRK": ("North Korea", "DPRK"),
    "TUR": ("Turkey", "Türkiye", "Turkiye"),
    "CZE": ("Czech Republic", "Czechia"),
    "CIV": ("Ivory Coast", "Côte d'Ivoire", "Cote d'Ivoire"),
    "VAT": ("Holy See", "Vatican"),
    "PSE": ("Palestine", "State of Palestine"),
    "VNM": ("Vietnam", "Viet Nam"),
    "SWZ": ("Swaziland", "Eswatini"),
    "MMR": ("Myanmar", "Burma"),
}
AUXILIARIES = r"did|does|do|has|have|had|is|was|were|will|would|could|can|should|must"
SPEECH = (
    r"say|says|said|saying|state|states|stated|call|calls|called|argue|argues|argued|describe|"
    r"describes|described|tell|tells|told|urge|urges|urged|propose|proposes|proposed|announce|"
    r"announces|announced|stress|stresses|stressed|warn|warns|warned|claim|claims|claimed|"
    r"express|expresses|expressed|raise|raises|raised|mention|mentions|mentioned|note|notes|"
    r"noted|view|views|see|sees|consider|considers|want|wants|support|supports|pledge|pledges"
)
POSITIONS = r"position|positions|view|views|stance|line|statement|speech|remarks|policy|call"
_YEAR = r"(?:19|20)\d\d"
_TIME_FRAME = re.compile(rf"\b(in|during)\s+(?:the\s+year\s+)?({_YEAR})\b", re.IGNORECASE)
_SESSION = re.compile(
    r"\b(?:(?:at|in|during)\s+)?(?:the\s+)?(?:(?:UN\s+)?(?:General\s+Assembly\s+)?session\s+(\d{1,3})"
    r"|(\d{1,3})(?:st|nd|rd|th)\s+(?:UN\s+)?(?:General\s+Assembly\s+)?session)\b",
    re.IGNORECASE,
)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@lru_cache(maxsize=1)
def _country_names() -> tuple[dict[str, str], dict[str, str]]:
    """(alpha-3 code → display name, lower-case name or alias → alpha-3 code)."""
    import pycountry

    display: dict[str, str] = {}
    names: dict[str, str] = {}
    for c in pycountry.countries:
        code = str(c.alpha_3)
        base = str(getattr(c, "common_name", None) or c.name)
        display[code] = DISPLAY_NAMES.get(code, base.split(",")[0])
        for name in (c.name, getattr(c, "common_name", None), getattr(c, "official_name", None)):
            if name:
                names.setdefault(str(name).lower(), code)
                names.setdefault(str(name).split(",")[0].lower(), code)
    for code, aliases in ALIASES.items():
        for alias in aliases:
            names[alias.lower()] = code
    return display, names


def country_display(code: str) -> str | None:
    """How a country code reads in a question ("the United States" for USA), or None."""
    display, _ = _country_names()
    code = code.strip().upper()
    if len(code) == 2:
        import pycountry

        found = pycountry.countries.get(alpha_2=code)
        code = str(found.alpha_3) if found else code
    return display.get(code)


def country_code(text: str) -> str | None:
    """The alpha-3 code of a country named or coded in ``text`` (any case), or None."""
    display, names = _country_names()
    if text.strip().upper() in display:
        return text.strip().upper()
    return names.get(text.strip().lower().removeprefix("the "))


@lru_cache(maxsize=1)
def _country_pattern() -> re.Pattern[str]:
    display, names = _country_names()
    words = sorted(names, key=len, reverse=True)
    # Short names and abbreviations ("US", "U.K.") only as written: "us" is a pronoun.
    named = "|".join(re.escape(w) for w in words if len(w) > 4 and "." not in w)
    short = {a for aliases in ALIASES.values() for a in aliases if len(a) <= 4 or "." in a}
    exact = "|".join(re.escape(w) for w in sorted(short | set(display), key=len, reverse=True))
    return re.compile(
        rf"(?<![\w.])(?i:the\s+)?(?:(?P<name>(?i:{named}))|(?P<code>{exact}))"
        rf"(?P<poss>['’]s|(?<=s)['’])?(?![\w])"
    )


@dataclass(frozen=True)
class Mention:
    """A span of the question naming a value of the grouping dimension."""

    start: int
    end: int
    kind: str  # "country", "year", "session" or "value"
    prefix: str = ""  # "in " / "during " before a year, kept when substituting
    possessive: str = ""


def _speaker(question: str, start: int, end: int, possessive: str) -> bool:
    before = question[:start].rstrip().lower()
    after = question[end:].lstrip().lower()
    if possessive:
        return re.match(rf"(?:\w+\s+)?(?:{POSITIONS})\b", after) is not None
    if re.search(rf"\b(?:{AUXILIARIES})$", before) or before.endswith("according to"):
        return True
    return re.match(rf"(?:{SPEECH})\b", after) is not None


def find_mentions(
    question: str,
    by: str,
    *,
    country_like: bool,
    values: Iterable[str] = (),
    country_fixed: bool = False,
) -> list[Mention]:
    """The spans of ``question`` naming the grouping dimension ``by`` (see the module's rule);
    with ``country_fixed`` (the filters hold one country) also the speaker country, which the
    neutral wording words out as well ("What did Kenya say…" by session of Kenya's statements:
    "What did the country say…")."""
    found: list[Mention] = []
    if country_like or country_fixed:
        for m in _country_pattern().finditer(question):
            poss = m.group("poss") or ""
            if _speaker(question, m.start(), m.end(), poss):
                kind = "country" if country_like else "fixed"
                found.append(Mention(m.start(), m.end(), kind, possessive=poss and "'s"))
                break  # one speaker
    if country_like:
        pass  # the speaker is the only mention of a country grouping
    elif by in ("date", "year", "session"):
        for m in _TIME_FRAME.finditer(question):
            found.append(Mention(m.start(), m.end(), "year", prefix=m.group(1)))
        if by == "session":
            for m in _SESSION.finditer(question):
                found.append(Mention(m.start(), m.end(), "session"))
    else:
        for value in sorted({v for v in values if v.strip()}, key=len, reverse=True):
            for m in re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", question, re.IGNORECASE):
                if not any(f.start < m.end() and m.start() < f.end for f in found):
                    found.append(Mention(m.start(), m.end(), "value"))
    found.sort(key=lambda f: f.start)
    return [f for n, f in enumerate(found) if n == 0 or f.start >= found[n - 1].end]


_SPEAKER = r"the country(?:'s)?"
#: Questions that ask what the speaker said about a topic, each with its topic as ``topic``.
TOPIC_SHAPES = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"^(?:what|how) (?:did|does|do|has|have|had|is|was) {_SPEAKER} (?:{SPEECH}|think|thinks|"
        r"thought)(?: about| on| regarding| concerning| of| for| to)? (?P<topic>.+?)\??$",
        rf"^what (?:is|was|are|were) {_SPEAKER} (?:{POSITIONS}) (?:on|about|regarding|toward|"
        r"towards|concerning) (?P<topic>.+?)\??$",
        rf"^(?:did|does|has|have) {_SPEAKER} (?:raise|mention|address|discuss|speak about|talk "
        r"about|refer to|call for) (?P<topic>.+?)\??$",
        rf"^where (?:does|did) {_SPEAKER} stand on (?P<topic>.+?)\??$",
    )
)


def topic_of(neutral_question: str) -> str | None:
    """The topic of a question that asks what the (neutral) speaker said about something —
    "What did the country say about climate finance?" → "Climate finance" — or None."""
    for shape in TOPIC_SHAPES:
        m = shape.match(neutral_question.strip())
        if m and m.group("topic").strip():
            topic = m.group("topic").strip()
            return topic[:1].upper() + topic[1:]
    return None


def _tidy(text: str) -> str:
    text = re.sub(r"\s+([?.!,;:])", r"\1", re.sub(r"\s{2,}", " ", text)).strip()
    return text[:1].upper() + text[1:] if text else text


def reword(
    question: str,
    mentions: Sequence[Mention],
    *,
    country: str | None = None,
    year: str | None = None,
    session: str | None = None,
    value: str | None = None,
) -> str:
    """``question`` with each mention replaced: by the group's country name, year, session or
    value when given, else by the neutral wording (the country → "the country"; a time frame
    or session phrase dropped; a value dropped)."""
    out, last = [], 0
    for m in mentions:
        out.append(question[last : m.start])
        if m.kind == "fixed" and (country or year or session or value):
            out.append(question[m.start : m.end])  # named wording: the filters' own country
        elif m.kind in ("country", "fixed"):
            name = country or "the country"
            at_start = not question[: m.start].strip()
            possessive = "'" if m.possessive and name.endswith("s") else m.possessive
            out.append((name[:1].upper() + name[1:] if at_start else name) + possessive)
        elif m.kind == "year":
            out.append(f"{m.prefix} {year}" if year else "")
        elif m.kind == "session":
            shown = ordinal(int(session)) if session and session.isdigit() else session
            out.append(f"at the {shown} session" if session else "")
        else:
            out.append(value or "")
        last = m.end
    out.append(question[last:])
    return _tidy("".join(out))
