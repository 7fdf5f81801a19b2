"""Surface features of text used by retrieval and answering: terms, stems, names, dates and
numbers. Pure functions, no models, no topic knowledge: nothing here knows any country, person
or organisation. Names are found by shape (Unicode capitalisation), so "António Guterres" and
"Recep Tayyip Erdoğan" are names like any other."""

from __future__ import annotations

from functools import lru_cache

import regex

# Function words only: they carry no evidence for BM25 or overlap. Content words such as
# "state", "two", "name" or "secretary" are deliberately absent ("two-state solution").
STOPWORDS = frozenset(
    """
    a about above after again against all am among an and any are as at be been before being
    below between both but by can could did do does doing down during each either few for from
    further had has have having he her here hers herself him himself his i if in into is it its
    itself just me might more most must my myself neither no nor not of off on once only or other
    our ours ourselves out over own same shall she should so some such than that the their theirs
    them themselves then there these they this those through to too under until up upon very via
    was we were whether which while who whom whose why will with within without would yet you
    your yours yourself yourselves what when where how also ever
    """.split()
)
QUESTION_WORDS = frozenset(["what", "when", "where", "which", "who", "whom", "whose", "why", "how"])

MONTHS = (
    "january february march april may june july august september october november december"
).split()
_MONTH_RE = (
    "|".join(m.capitalize() for m in MONTHS)
    + r"|Jan\.|Feb\.|Mar\.|Apr\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\."
)
DATE_RE = regex.compile(
    rf"\b(?:(?:\d{{1,2}}\s+)?(?:{_MONTH_RE})(?:\s+\d{{1,2}},?)?\s+\d{{4}}"
    rf"|(?:{_MONTH_RE})\s+\d{{1,2}}"
    r"|(?:1[0-9]|20)\d{2}s?"
    r"|\d{1,2}(?:st|nd|rd|th)\s+century"
    r"|(?:last|next|this)\s+(?:week|month|year|decade|spring|summer|autumn|fall|winter)"
    r"|(?:the\s+)?(?:next|coming|past|last)\s+(?:\w+\s+)?(?:days|weeks|months|years|decades?)"
    r"|(?:early|mid|late)[-\s]\d{4}s?)\b"
)
NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
    "hundred thousand million billion trillion dozen dozens hundreds thousands millions billions"
).split()
NUMBER_RE = regex.compile(
    r"(?:[$€£¥]\s?)?\b\d[\d,]*(?:\.\d+)?\b(?:\s?(?:%|percent|per cent|million|billion|trillion))?"
    r"|\b(?:" + "|".join(NUMBER_WORDS) + r")\b",
    regex.IGNORECASE,
)
# Words in any script: letters (with inner apostrophes or hyphens) or numbers.
WORD_RE = regex.compile(r"\p{L}[\p{L}\p{M}'’]*\p{L}|\p{L}|\d[\d,.]*\d|\d")
_CAP = r"(?:\p{Lu}[\p{Ll}\p{M}'’]+(?:-\p{Lu}?[\p{Ll}\p{M}]+)*|\p{Lu}{2,}|\p{Lu}\.)"
_PARTICLE = r"(?:of|the|for|de|du|da|di|del|della|des|la|le|von|van|der|den|al|el|bin|ibn)"
# Particles of two words join too: "Union of the Comoros", "Ursula von der Leyen".
_PARTICLES = rf"(?:(?:of\sthe|de\sla|van\sder|van\sden|von\sder)\s|{_PARTICLE}\s)"
CAPITALISED_RE = regex.compile(rf"(?<![\p{{L}}\p{{M}}]){_CAP}(?:[\s\-]{_PARTICLES}?{_CAP})*")
_SENTENCE_OPENERS = frozenset([".", "?", "!", "\n", "“", '"', "‘", "'", "(", ":", ";"])


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
    return [str(w) for w in WORD_RE.findall(text)]


def content_terms(text: str) -> list[str]:
    """Lower-cased words that carry meaning (no function words, no question words)."""
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
    """Capitalised spans (any script with case) that are not merely sentence-initial words."""
    found: list[str] = []
    for m in CAPITALISED_RE.finditer(text):
        span = str(m.group(0)).strip()
        parts = span.split()
        first = parts[0].lower()
        before = text[: m.start()].rstrip()[-1:]
        at_start = m.start() == 0 or before in _SENTENCE_OPENERS
        if at_start and (first in STOPWORDS or first in QUESTION_WORDS) and len(parts) == 1:
            continue
        if first in QUESTION_WORDS or (at_start and first in STOPWORDS):
            span = " ".join(parts[1:])
            if not span:
                continue
        found.append(span)
    return found


def dates(text: str) -> list[str]:
    return [str(m.group(0)) for m in DATE_RE.finditer(text)]


def numbers(text: str) -> list[str]:
    return [str(m.group(0)) for m in NUMBER_RE.finditer(text)]
