"""What a question says about the documents it is about: the countries it names and its years.

"What did Laos tell the UN in 2024 about unexploded bombs?" is about one document among a
thousand speeches, and that document's text may never name Laos or the year: they are its
metadata (``country: LAO``, ``date: 2024-09``). The countries a question names are found with
the ISO 3166 names that pycountry maintains (names, common and official names, and their usual
re-orderings: "Republic of Korea" for "Korea, Republic of", "St." for "Saint"); its years are
four-digit numbers from 1900 on. Retrieval uses them as one more ranking, restricted to the
documents with that metadata (:func:`rag.retrieval.retrieve`) — evidence fused with the others,
never a filter that hides the rest.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from index.records import ChunkFilter, DocumentFields

_YEAR_RE = re.compile(r"(?<![\d.,])(19\d\d|20\d\d)(?![\d.,]\d)")
_MIN_NAME = 4  # shorter names ("Chad" is 4) would match ordinary words and codes
#: At most this many countries of a question get a channel each (the first named).
MAX_CHANNELS = 3


@dataclass(frozen=True)
class QuestionHints:
    """The countries (ISO 3166-1 alpha-3) a question names, in order, and its years."""

    countries: tuple[str, ...] = ()
    years: tuple[str, ...] = ()


def _variants(name: str) -> set[str]:
    """A country's name as a question may write it."""
    out = {name}
    base = re.sub(r"\s*\([^)]*\)", "", name).strip()  # "Bolivia (Plurinational State of)"
    out.add(base)
    if "," in base:  # "Korea, Republic of" → "Korea" and "Republic of Korea"
        head, tail = (part.strip() for part in base.split(",", 1))
        out |= {head, f"{tail} {head}".strip()}
    for v in list(out):
        if v.lower().startswith("the "):
            out.add(v[4:])
        if v.startswith("Saint "):
            out |= {"St. " + v[6:], "St " + v[6:]}
    return {v for v in out if len(v) >= _MIN_NAME}


@functools.cache
def _name_table() -> tuple[dict[str, str], re.Pattern[str]]:
    """Lower-cased names → alpha-3 codes, and one pattern that finds them (longest first). A
    name two countries share (a bare "Korea", "Congo") is left out: it names neither."""
    import pycountry

    owners: dict[str, set[str]] = {}
    for country in pycountry.countries:
        names = {
            country.name,
            getattr(country, "common_name", country.name),
            getattr(country, "official_name", country.name),
        }
        for name in names:
            for variant in _variants(name):
                owners.setdefault(variant.lower(), set()).add(country.alpha_3)
    table = {name: next(iter(codes)) for name, codes in owners.items() if len(codes) == 1}
    alternatives = "|".join(re.escape(n) for n in sorted(table, key=len, reverse=True))
    return table, re.compile(rf"(?<!\w)({alternatives})(?!\w)", re.IGNORECASE)


def question_hints(question: str) -> QuestionHints:
    """The countries ``question`` names and the years it mentions."""
    table, pattern = _name_table()
    countries: list[str] = []
    for match in pattern.finditer(question):
        code = table[match.group(1).lower()]
        if code not in countries:
            countries.append(code)
    years = list(dict.fromkeys(_YEAR_RE.findall(question)))
    return QuestionHints(tuple(countries), tuple(years))


@dataclass(frozen=True)
class MetadataChannel:
    """One country's channel: ``strict`` selects that country's documents (of the question's
    years, when ``dated``); documents that lack the country (or, when dated, the date) are
    also in the channel — they may be about that country — and retrieval ranks them beside
    the strict ones (:func:`rag.retrieval.retrieve`), so the channel favours the named
    country's documents over other countries', never over documents that name none."""

    strict: ChunkFilter
    key: str
    code: str
    dated: bool

    def lets_in(self, document: DocumentFields) -> bool:
        """Whether ``document`` (one that passed the caller's own filter) is in the channel."""
        value = document.metadata.get(self.key)
        if value is not None and str(value) != self.code:
            return False
        start, end = self.strict.date_from, self.strict.date_to
        if not self.dated or document.date is None or start is None or end is None:
            return True
        return start[:4] <= document.date[:4] <= end[:4]


def metadata_channels(
    question: str,
    flt: ChunkFilter | None,
    values: dict[str, list[str]],
    country_key: str,
) -> list[MetadataChannel]:
    """One channel per country ``question`` names, on the index's ``country_key`` (none when
    no document has that key: ``values`` are the index's metadata keys and values), with the
    question's years as a date range unless ``flt`` sets dates, each combined with ``flt``;
    none when ``flt`` already filters by country. ``values`` lists only an index's most
    frequent values, so it is not used to drop countries."""
    if country_key not in values or (flt is not None and country_key in flt.metadata):
        return []
    hints = question_hints(question)
    base = flt or ChunkFilter()
    dated = bool(hints.years) and base.date_from is None and base.date_to is None
    return [
        MetadataChannel(
            strict=base.model_copy(
                update={
                    "metadata": {**base.metadata, country_key: code},
                    "date_from": min(hints.years) if dated else base.date_from,
                    "date_to": max(hints.years) if dated else base.date_to,
                }
            ),
            key=country_key,
            code=code,
            dated=dated,
        )
        for code in hints.countries[:MAX_CHANNELS]
    ]
