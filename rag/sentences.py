"""Rule-based sentence segmentation that returns exact character spans.

:func:`split_sentences` is regex driven and linear in the length of the text (several MB/s), so
it can run over whole corpora. Its rules, in order:

* a line or paragraph break always ends a sentence;
* ``.``, ``!`` or ``?`` (a run of them, optionally followed by closing quotes or brackets
  ``” " ’ ' ) ]``) ends a sentence when whitespace follows and then an uppercase letter, a digit
  or an opening quote or bracket (``“ " ‘ ' « ( [``);
* except after a period that closes a known abbreviation (``Mr.``, ``Dr.``, ``No.``, ``e.g.``,
  ``Jan.``, ...), a dotted acronym (``U.S.``, ``E.U.``) or a single capital initial
  (``J. F. Kennedy``);
* a period inside a number (``3.5``) never ends a sentence, since no whitespace follows it;
* nor does the period of an ordinal number before a month name (German ``Am 27. Februar 2022``);
  before a lower-case word no period ends a sentence anyway;
* the Arabic question mark ``؟`` and full stop ``۔`` end a sentence like ``?``; the next letter of
  a script without case (Arabic, Hebrew, CJK, ...) counts as a capital;
* the ideographic full stop and the full-width marks ``。！？`` (optionally followed by closing
  quotes or brackets ``」』）”``) end a sentence wherever they stand, since Chinese and Japanese
  put no space after them.

Line breaks are kept as boundaries because loaders store paragraph text with the wrapped lines
already joined (:mod:`rag.layout`).

The spans are stripped of surrounding whitespace, ordered, non-overlapping, and together cover
every non-whitespace character of the text exactly once.
"""

from __future__ import annotations

import re

__all__ = ["ABBREVIATIONS", "split_sentences"]

#: Words that, followed by a period, do not end a sentence (compared without the period).
ABBREVIATIONS: frozenset[str] = frozenset(
    {
        # titles and ranks
        "Mr", "Mrs", "Ms", "Dr", "Prof", "St", "Sr", "Jr", "Gen", "Adm", "Col", "Lt", "Sgt",
        "Capt", "Cmdr", "Maj", "Gov", "Sen", "Rep", "Amb", "Pres", "Hon", "Rev",
        # references and Latin
        "No", "Nos", "Vol", "vs", "etc", "al", "cf", "approx",
        # months
        "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
    }
)  # fmt: skip

# One line: a maximal run of characters that are not line breaks (the set str.splitlines uses).
_LINE_RE = re.compile(r"[^\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")
# A candidate sentence end: a run of terminators (not preceded by another terminator, which keeps
# the scan linear on runs like "!!!!"), optional closers, then whitespace.
_END_RE = re.compile(r"(?<![.!?؟۔])[.!?؟۔]+[”\"’')\]]*(?=\s)")
# Ideographic sentence ends: no whitespace follows them.
_CJK_END_RE = re.compile(r"(?<![。！？])[。！？]+[」』）”’\"')\]]*")
_SPACE_RE = re.compile(r"\s+")
# Dotted acronyms and Latin abbreviations, seen without their final period: U.S, e.g, i.e, a.m.
_DOTTED_RE = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")
_OPENERS = "“\"‘'«(["
_LEADING_PUNCT = "“\"‘'«([{"
# Month names that follow an ordinal day written with a period ("27. Februar"), lower-cased.
_MONTHS = frozenset(
    """januar jänner februar feber märz maerz april mai juni juli august september oktober
    november dezember january february march may june july october december""".split()
)
_ORDINAL_RE = re.compile(r"(?<![\w.])\d{1,2}$")
_NEXT_WORD_RE = re.compile(r"\w+")
# Abbreviations are short; looking further back than this cannot find one.
_MAX_ABBREVIATION_LOOKBACK = 16


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Return the ``(start, end)`` character spans of the sentences of ``text``.

    Each span is stripped (``text[start]`` and ``text[end - 1]`` are not whitespace); spans are in
    order, do not overlap, and cover every non-whitespace character of ``text`` exactly once.
    """
    spans: list[tuple[int, int]] = []
    for line in _LINE_RE.finditer(text):
        start, line_end = line.span()
        for end in _sentence_ends(text, start, line_end):
            _append_stripped(text, start, end, spans)
            start = end
        _append_stripped(text, start, line_end, spans)
    return spans


def _sentence_ends(text: str, start: int, end: int) -> list[int]:
    """Offsets (just after the terminator and closers) where sentences end inside one line."""
    ends = _latin_ends(text, start, end)
    if _has_cjk_end(text, start, end):
        ends = sorted(set(ends).union(_cjk_ends(text, start, end)))
    return ends


def _has_cjk_end(text: str, start: int, end: int) -> bool:
    return any(text.find(mark, start, end) >= 0 for mark in "。！？")


def _cjk_ends(text: str, start: int, end: int) -> list[int]:
    ends: list[int] = []
    for match in _CJK_END_RE.finditer(text, start, end):
        if text[match.end() : end].strip():
            ends.append(match.end())
    return ends


def _latin_ends(text: str, start: int, end: int) -> list[int]:
    ends: list[int] = []
    for match in _END_RE.finditer(text, start, end):
        after = _SPACE_RE.match(text, match.end(), end)
        if after is None or after.end() >= end:
            continue  # only whitespace follows up to the end of the line
        nxt = text[after.end()]
        if not ((nxt.isalpha() and not nxt.islower()) or nxt.isdigit() or nxt in _OPENERS):
            continue
        punct = match.group()
        if punct == "." and _is_ordinal_date(text, start, match.start(), after.end(), end):
            continue
        if (
            punct[0] == "."
            and not punct.startswith("..")
            and _is_abbreviation(text, start, match.start())
        ):
            continue
        ends.append(match.end())
    return ends


def _is_abbreviation(text: str, line_start: int, period: int) -> bool:
    """True when the word just before the period at ``period`` is an abbreviation."""
    lo = max(line_start, period - _MAX_ABBREVIATION_LOOKBACK)
    begin = period
    while begin > lo and not text[begin - 1].isspace():
        begin -= 1
    if begin == lo and lo > line_start and not text[lo - 1].isspace():
        return False  # the word is longer than any abbreviation
    word = text[begin:period].lstrip(_LEADING_PUNCT)
    if not word:
        return False
    if word in ABBREVIATIONS or (word[0].lower() + word[1:]) in ABBREVIATIONS:
        return True  # "Dr", and "Etc" for "etc"
    if len(word) == 1 and word.isupper():
        return True  # an initial: "J. F. Kennedy"
    return _DOTTED_RE.fullmatch(word) is not None


def _is_ordinal_date(text: str, line_start: int, period: int, nxt: int, end: int) -> bool:
    """True when the period at ``period`` closes an ordinal day ("27.") and a month name follows."""
    if _ORDINAL_RE.search(text, max(line_start, period - 3), period) is None:
        return False
    word = _NEXT_WORD_RE.match(text, nxt, end)
    return word is not None and word.group().lower() in _MONTHS


def _append_stripped(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        spans.append((start + lead, start + lead + len(stripped)))
