"""Paragraphs from layout: joining the lines of hard-wrapped text before it is stored.

Text files and PDF pages break lines where the page was full, not where sentences end. Loaders
pass their text through :func:`reflow`, and the document stores the result, so every citation
quotes the stored text (``document.text[start:end] == quote``) and a sentence that crossed a line
break is one sentence.

Which line breaks are soft (become one space):

* A text is hard-wrapped when its typical line (the 90th percentile of non-blank line lengths)
  is at most :data:`MAX_WRAP_WIDTH` characters and most lines inside its paragraphs are nearly
  full; other texts (one sentence or paragraph per line, as speeches often are) are left as they
  are.
* A blank line, a Markdown heading, a list item (``-``, ``*``, ``•``, ``1.``, ``a)``, and ``o``
  after a line ending in ``:`` or ``;``), a block
  quote, a table row or a code fence is always a boundary, and so is every line inside a fenced
  code block. The one exception, in every text, wrapped or not: blank lines that fall inside a
  sentence (the line before ends in a letter, a digit or a comma, the line after starts in lower
  case, neither is structural), as transcripts of speeches have them, become one space.
* Otherwise the break after line *a* is soft when the next line starts in lower case, when *a*
  ends with a hyphen, when *a* is nearly full (:data:`FULL_LINE` of the wrap width:
  proportional fonts make PDF line lengths uneven), or when the first word of the next line
  would not have fitted on *a*. A short line followed by a capitalised one (a heading, a
  signature, an address line) keeps its break.
* In a text that is not hard-wrapped, or too short to tell (a three-line paragraph), a break is
  soft only where the next line plainly goes on with the sentence: it starts in lower case after
  a letter, digit, comma or hyphen, or the line ends with a word no sentence ends with (``of``,
  ``the``, ``and``).

A word hyphenated across a break (``coop-`` / ``eration``) is joined without the hyphen only when
the joined word is a word: it occurs elsewhere in the text, while the hyphenated form does not,
or its second part is no word on its own (``scien-`` / ``tific`` is "scientific"; the halves of
a broken word do not count as words of the text). Compounds (``self-defence``,
``Franco-German``, or any hyphenated form found elsewhere in the text) keep their hyphen.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

__all__ = ["CONTINUING_WORDS", "FULL_LINE", "MAX_WRAP_WIDTH", "reflow", "wrap_width"]

#: Texts whose typical line is longer than this are not hard-wrapped.
MAX_WRAP_WIDTH = 160
#: A line at least this share of the wrap width long is taken as full.
FULL_LINE = 0.75
_MIN_LINES = 5
# Share of the lines inside paragraphs that must be full for a text to count as hard-wrapped.
_MIN_FULL_SHARE = 0.6

_LIST_RE = re.compile(
    r"\s*(?:[-*+•‣◦▪–—·\uf0b7\uf0a7]\s|\d{1,3}[.)]\s|[a-zA-Z][.)]\s|\([a-zA-Z0-9]{1,4}\)\s)"
)
_HEADING_RE = re.compile(r"\s{0,3}#{1,6}(?:\s|$)")
_BLOCK_RE = re.compile(r"\s*(?:>|\|)")
_FENCE_RE = re.compile(r"\s*(?:```|~~~)")
_WORD_RE = re.compile(r"\w+(?:-\w+)*")
# The word a line's trailing hyphen breaks, matched on the reversed line end: searching for
# "([^\W\d_]+)-$" tries every start in a run of letters, quadratic in the run.
_TRAILING_PART_REVERSED_RE = re.compile(r"-([^\W\d_]+)")
_LEADING_PART_RE = re.compile(r"[^\W\d_]+")
# A word broken by a hyphen at a line end ("scien-" / "tific"): its halves are no words of the text.
# (Tried only where a run of letters starts: from every letter of a long run it is quadratic.)
_BROKEN_WORD_RE = re.compile(r"(?<![^\W\d_])[^\W\d_]+-[ \t]*\n[ \t]*[^\W\d_]+")
#: Words after which a sentence cannot end: a line ending in one goes on in the next line.
CONTINUING_WORDS = frozenset(
    """a an the of to in on at by for from with and or but nor as than that which whose
    into onto upon about between among within without under over after before during""".split()
)
# First parts of compounds that keep their hyphen even without evidence in the text.
_COMPOUND_PREFIXES = frozenset(
    """self non co anti pro post pre ex multi cross counter inter intra long short well
    high low full half mid semi so all quasi vice neo""".split()
)


#: Characters at the end of a line being joined that a join looks at: its trailing spaces, a
#: hyphen and the word the hyphen breaks (a longer "word" is no word a hyphen breaks).
_TAIL_CHARS = 256
#: Characters after a line's indentation that the patterns of :func:`_is_structural` look at.
_HEAD_CHARS = 16
_INDENT_RE = re.compile(r"\s*")


class _Line:
    """An output line joined from input lines, kept as parts and joined once at the end.

    Joining a growing line into one string at every soft break copies the whole line each time:
    a hard-wrapped single paragraph took quadratic time (2.8 MB: 11 s; 6 MB: over 90 s). A join
    looks only at the line's end (:meth:`tail`) and :func:`_is_structural` only at its start
    (:meth:`start`), so the work is linear in the text.
    """

    __slots__ = ("parts",)

    def __init__(self, text: str) -> None:
        self.parts = [text]

    def text(self) -> str:
        return "".join(self.parts)

    def start(self) -> str:
        """The start of the line: its indentation and :data:`_HEAD_CHARS` characters more."""
        parts = self.parts
        indent = _INDENT_RE.match(parts[0])
        need = (indent.end() if indent else 0) + _HEAD_CHARS
        if len(parts) == 1 or len(parts[0]) >= need:
            return parts[0]
        pieces: list[str] = []
        size = 0
        for part in parts:
            pieces.append(part)
            size += len(part)
            if size >= need:
                break
        return "".join(pieces)

    def last_char(self) -> str:
        """The last character that is not whitespace, or ``""``."""
        for part in reversed(self.parts):
            stripped = part.rstrip()
            if stripped:
                return stripped[-1]
        return ""

    def rstrip(self) -> None:
        """Drop the line's trailing whitespace."""
        parts = self.parts
        while len(parts) > 1 and (not parts[-1] or parts[-1].isspace()):
            parts.pop()
        parts[-1] = parts[-1].rstrip()

    def tail(self) -> str:
        """The last :data:`_TAIL_CHARS` characters of the line (all of a shorter line)."""
        pieces: list[str] = []
        size = 0
        for part in reversed(self.parts):
            if size + len(part) >= _TAIL_CHARS:
                pieces.append(part[len(part) - (_TAIL_CHARS - size) :])
                break
            pieces.append(part)
            size += len(part)
        return "".join(reversed(pieces))

    def replace_tail(self, tail: str, text: str) -> None:
        """Put ``text`` in place of the line's last ``len(tail)`` characters."""
        parts, n = self.parts, len(tail)
        while n and parts and len(parts[-1]) <= n:
            n -= len(parts.pop())
        if n:
            parts[-1] = parts[-1][:-n]
        parts.append(text)

    def append(self, *texts: str) -> None:
        self.parts.extend(texts)


def wrap_width(lines: Sequence[str]) -> int:
    """The wrap width of hard-wrapped lines (the 90th percentile of non-blank line lengths), or 0
    when the lines are not hard-wrapped.

    Lines are hard-wrapped when most lines that a non-blank line follows are nearly full
    (:data:`FULL_LINE` of the width): text written one sentence or paragraph per line has lines
    of every length. Too few lines to tell count as not wrapped.
    """
    lengths = sorted(len(line.rstrip()) for line in lines if line.strip())
    if len(lengths) < _MIN_LINES:
        return 0
    width = lengths[int(0.9 * (len(lengths) - 1))]
    if width > MAX_WRAP_WIDTH:
        return 0
    inner = [
        len(a.rstrip())
        for a, b in itertools.pairwise(lines)
        if a.strip() and b.strip() and not _is_structural(b)
    ]
    full = sum(n >= FULL_LINE * width for n in inner)
    return width if inner and full >= _MIN_FULL_SHARE * len(inner) else 0


def _is_structural(line: str) -> bool:
    return bool(
        _LIST_RE.match(line)
        or _HEADING_RE.match(line)
        or _BLOCK_RE.match(line)
        or _FENCE_RE.match(line)
    )


def _soft(a: str, b: str, width: int) -> bool:
    """True when the break between lines ``a`` and ``b`` (both non-blank) is a wrap."""
    if _is_structural(b) or _HEADING_RE.match(a) or _BLOCK_RE.match(a) or _FENCE_RE.match(a):
        return False
    a = a.rstrip()
    first = b.lstrip()
    if first.startswith("o ") and (a.endswith((":", ";")) or a.lstrip().startswith("o ")):
        return False  # "o" as a bullet (a PDF's symbol font), after a list's lead-in or item
    if first[:1].islower() or a.endswith("-"):
        return True
    if len(a) >= FULL_LINE * width:
        return True
    next_word = first.split(maxsplit=1)[0]
    return len(a) + 1 + len(next_word) > width


class _Vocabulary:
    """Words and hyphenated compounds that occur in a text, lower-cased."""

    def __init__(self, text: str) -> None:
        self.words: set[str] = set()
        self.compounds: set[str] = set()
        # The halves of words broken at line ends are no evidence that they are words.
        for match in _WORD_RE.finditer(_BROKEN_WORD_RE.sub(" ", text).lower()):
            word = match.group()
            if "-" in word:
                self.compounds.add(word)
                self.words.update(word.split("-"))
            else:
                self.words.add(word)


def _join_hyphenated(a: str, b: str, vocabulary: _Vocabulary) -> str | None:
    """``a`` + ``b`` when ``a`` ends in a word broken by a hyphen; None when it does not."""
    trailing = _TRAILING_PART_REVERSED_RE.match(a[::-1])
    leading = _LEADING_PART_RE.match(b)
    if trailing is None or leading is None or a.endswith("--"):
        return None
    first, second = trailing.group(1)[::-1], leading.group()
    if not second[0].islower():
        return a + b  # "Franco-" + "German": a compound, the hyphen stays
    joined = (first + second).lower()
    compound = f"{first}-{second}".lower()
    keep = (
        compound in vocabulary.compounds
        or first.lower() in _COMPOUND_PREFIXES
        or (
            joined not in vocabulary.words
            and second.lower() in vocabulary.words
            and first.lower() in vocabulary.words
        )
    )
    return a + b if keep else a[:-1] + b


def _join_split_sentences(lines: list[str]) -> list[str]:
    """``lines`` with every blank-line break that falls inside a sentence joined by a space: the
    line before it ends in a letter, a digit or a comma, and the line after it starts in lower
    case (transcripts break "freedoms that are" / "" / "enshrined in our Charter."). Structural
    lines (lists, headings, quotes, tables, fences) and fenced code keep their breaks."""
    out: list[_Line] = []
    blanks: list[str] = []
    in_fence = False
    for line in lines:
        if _FENCE_RE.match(line):
            in_fence = not in_fence
        if not line.strip():
            blanks.append(line)
            continue
        last = out[-1].last_char() if out else ""
        first = line.lstrip()
        if (
            blanks
            and not in_fence
            and last
            and (last.isalnum() or last == ",")
            and first[:1].islower()
            and not first.startswith("o ")
            and not _is_structural(line)
            and not _is_structural(out[-1].start())
        ):
            out[-1].rstrip()
            out[-1].append(" ", first)
        else:
            out.extend(_Line(blank) for blank in blanks)
            out.append(_Line(line))
        blanks = []
    out.extend(_Line(blank) for blank in blanks)
    return [joined.text() for joined in out]


def reflow(text: str, *, width: int | None = None) -> str:
    """``text`` with the soft line breaks of hard-wrapped paragraphs joined (see the module).

    ``width`` is the wrap width to assume (e.g. one measured over all pages of a PDF); by default
    it is measured on ``text``. Line breaks that are kept are kept exactly; trailing spaces
    before a joined break and the indentation after it are dropped.
    """
    if "\n" not in text:
        return text
    lines = _join_split_sentences(text.split("\n"))
    text = "\n".join(lines)
    width = wrap_width(lines) if width is None else width
    if not 0 < width <= MAX_WRAP_WIDTH:
        return _join_continuations(lines, text)  # not hard-wrapped (or too short to tell)
    vocabulary: _Vocabulary | None = None
    out: list[_Line] = [_Line(lines[0])]
    in_fence = bool(_FENCE_RE.match(lines[0]))
    for previous, line in itertools.pairwise(lines):
        if _FENCE_RE.match(line):
            in_fence = not in_fence
            out.append(_Line(line))
            continue
        if in_fence or not line.strip() or not previous.strip() or not _soft(previous, line, width):
            out.append(_Line(line))
            continue
        head, rest = out[-1], line.lstrip()
        head.rstrip()
        tail = head.tail()
        if tail.endswith("-") and not tail.endswith(" -"):
            if vocabulary is None:
                vocabulary = _Vocabulary(text)
            joined = _join_hyphenated(tail, rest, vocabulary)
            if joined is not None:
                head.replace_tail(tail, joined)
                continue
        head.append(" ", rest)
    return "\n".join(joined.text() for joined in out)


def _continues(a: str, b: str) -> bool:
    """True when non-blank line ``b`` plainly goes on with the sentence of line ``a``, in any
    text: ``b`` starts in lower case after a letter, digit, comma or hyphen, or ``a`` ends with a
    word no sentence ends with (``of``, ``the``, ``and``, ...)."""
    if _is_structural(b) or _is_structural(a) or _HEADING_RE.match(a):
        return False
    a, first = a.rstrip(), b.lstrip()
    if first.startswith("o ") and (a.endswith((":", ";")) or a.lstrip().startswith("o ")):
        return False
    if first[:1].islower() and (a[-1:].isalnum() or a.endswith((",", "-"))):
        return True
    last = a.rsplit(maxsplit=1)[-1] if a else ""
    return last.lower() in CONTINUING_WORDS


def _join_continuations(lines: list[str], text: str) -> str:
    """The lines of a text that is not (or cannot be told to be) hard-wrapped, joined only
    where a line plainly continues the sentence of the line before (:func:`_continues`): a
    short hard-wrapped paragraph is still one paragraph."""
    vocabulary: _Vocabulary | None = None
    out: list[_Line] = [_Line(lines[0])]
    in_fence = bool(_FENCE_RE.match(lines[0]))
    for previous, line in itertools.pairwise(lines):
        if _FENCE_RE.match(line):
            in_fence = not in_fence
        if in_fence or not line.strip() or not previous.strip() or not _continues(previous, line):
            out.append(_Line(line))
            continue
        head, rest = out[-1], line.lstrip()
        head.rstrip()
        tail = head.tail()
        if tail.endswith("-") and not tail.endswith(" -"):
            if vocabulary is None:
                vocabulary = _Vocabulary(text)
            joined = _join_hyphenated(tail, rest, vocabulary)
            if joined is not None:
                head.replace_tail(tail, joined)
            else:
                head.append(rest)
            continue
        head.append(" ", rest)
    return "\n".join(joined.text() for joined in out)
