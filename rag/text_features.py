"""Surface features of English text used by retrieval and answering: terms, stems, entities,
dates and numbers. Pure functions, no models."""

from __future__ import annotations

import re
from functools import lru_cache

STOPWORDS = frozenset(
    """
    other there what among type has more two how i the tell having which while we it from
    kind hers amongst should only one such herself ourselves just was them had to whom above
    according down each ours ones him her were describe why who's their told not my once
    might than off describes again its with and some mention even what's where at mentioned
    no out does into they me this much about still or through until would by yourselves also
    between his these say can here in per myself over you itself most same whose yours says
    during if shall been name those text via without too nor few on now all ever a own
    himself must when before your document but after did many are may below mentions for
    doing that article then theirs described our so state she neither upon who do yet either
    is up very an under have against themselves could every am whether will further stated
    named within be being he of said documents since as yourself because any both
    """.split()
)
QUESTION_WORDS = frozenset(["what", "when", "where", "which", "who", "whom", "whose", "why", "how"])

MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH_RE = (
    "|".join(m.capitalize() for m in MONTHS)
    + r"|Jan\.|Feb\.|Mar\.|Apr\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\."
)
DATE_RE = re.compile(
    rf"\b(?:(?:\d{{1,2}}\s+)?(?:{_MONTH_RE})(?:\s+\d{{1,2}},?)?\s+\d{{4}}"
    rf"|(?:{_MONTH_RE})\s+\d{{1,2}}"
    r"|(?:1[5-9]|20)\d{2}s?"
    r"|(?:last|next|this)\s+(?:week|month|year|decade|spring|summer|autumn|fall|winter)"
    r"|(?:the\s+)?(?:next|coming|past|last)\s+(?:\w+\s+)?(?:days|weeks|months|years|decades?)"
    r"|(?:early|mid|late)[-\s]\d{4}s?)\b"
)
NUMBER_WORDS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "thousand",
    "million",
    "billion",
    "trillion",
    "dozen",
    "dozens",
    "hundreds",
    "thousands",
    "millions",
    "billions",
]
NUMBER_RE = re.compile(
    r"(?:[$€£¥]\s?)?\b\d[\d,]*(?:\.\d+)?\b(?:\s?(?:%|percent|per cent|million|billion|trillion))?"
    r"|\b(?:" + "|".join(NUMBER_WORDS) + r")\b",
    re.IGNORECASE,
)
WORD_RE = re.compile(r"[A-Za-z][A-Za-z'’]*[A-Za-z]|[A-Za-z]|\d[\d,.]*\d|\d")
CAPITALISED_RE = re.compile(
    r"\b(?:[A-Z][a-z]+|[A-Z]{2,}|[A-Z]\.)(?:[\s\-](?:of|the|for|de|du|von|van|al)?\s?"
    r"(?:[A-Z][a-z]+|[A-Z]{2,}))*"
)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English stemmer: enough to match 'agreements'~'agreement', 'supplied'~'supply'."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    for suffix, repl in (
        ("ies", "y"),
        ("ied", "y"),
        ("ational", "ate"),
        ("ization", "ize"),
        ("isation", "ize"),
        ("ments", "ment"),
        ("ing", ""),
        ("edly", ""),
        ("ed", ""),
        ("ly", ""),
        ("sses", "ss"),
        ("xes", "x"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("s", ""),
    ):
        if suffix == "s" and w.endswith(("ss", "us", "is")):
            break  # 'express', 'consensus', 'crisis' are not plurals
        if suffix == "ly" and len(w) < 7:
            continue  # 'supply', 'apply', 'italy' keep their ending
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)] + repl
            break
    if len(w) > 4 and w.endswith("e"):
        w = w[:-1]
    return w


def words(text: str) -> list[str]:
    return WORD_RE.findall(text)


def content_terms(text: str) -> list[str]:
    """Lower-cased words that carry meaning (no stopwords, no question words)."""
    out: list[str] = []
    for w in words(text):
        lw = w.lower()
        if lw in STOPWORDS or lw in QUESTION_WORDS or (len(lw) < 2 and not lw.isdigit()):
            continue
        out.append(lw)
    return out


def content_stems(text: str) -> set[str]:
    return {stem(w) for w in content_terms(text)}


def entities(text: str) -> list[str]:
    """Capitalised spans that are not merely sentence-initial common words."""
    found: list[str] = []
    for m in CAPITALISED_RE.finditer(text):
        span = m.group(0).strip()
        first = span.split()[0].lower()
        at_start = m.start() == 0 or text[: m.start()].rstrip()[-1:] in {
            ".",
            "?",
            "!",
            "\n",
            "“",
            '"',
        }
        if at_start and (first in STOPWORDS or first in QUESTION_WORDS) and " " not in span:
            continue
        if first in QUESTION_WORDS:
            span = " ".join(span.split()[1:])
            if not span:
                continue
        found.append(span)
    return found


def dates(text: str) -> list[str]:
    return [m.group(0) for m in DATE_RE.finditer(text)]


def numbers(text: str) -> list[str]:
    return [m.group(0) for m in NUMBER_RE.finditer(text)]


# Metonymy and demonyms common in foreign-policy text: a capital or an adjective stands for the
# state ("Tokyo agreed", "Swedish forces"). Matching maps each to one canonical stem.
ALIASES = {
    "tokyo": "japan",
    "japanese": "japan",
    "stockholm": "sweden",
    "swedish": "sweden",
    "swede": "sweden",
    "swedes": "sweden",
    "kyiv": "ukraine",
    "kiev": "ukraine",
    "ukrainian": "ukraine",
    "ukrainians": "ukraine",
    "moscow": "russia",
    "russian": "russia",
    "russians": "russia",
    "beijing": "china",
    "chinese": "china",
    "washington": "united states",
    "american": "united states",
    "americans": "united states",
    "brussels": "eu",
    "european": "europe",
    "british": "united kingdom",
    "london": "united kingdom",
    "paris": "france",
    "french": "france",
    "berlin": "germany",
    "german": "germany",
    "nordic": "sweden",
    "atlantic": "nato",
    "alliance": "nato",
    "pyongyang": "north korea",
    "korean": "korea",
    "seoul": "korea",
    "delhi": "india",
    "indian": "india",
}


def canonical_stems(text: str) -> set[str]:
    """Content stems with aliases mapped to their canonical state or alliance."""
    out: set[str] = set()
    for w in content_terms(text):
        alias = ALIASES.get(w.replace("’", "'").removesuffix("'s"))
        if alias is not None:
            out.update(stem(a) for a in alias.split())
        else:
            out.add(stem(w))
    return out
