"""The searchable form of text for the FTS5 table: stemmed words and CJK bigrams.

SQLite's tokenizers know neither French or Russian morphology nor where Chinese words end, so the
catalog does not index raw chunk text: it indexes :func:`analyse`'s output, and queries go
through :func:`query_tokens`, the same analysis. The FTS5 tokenizer (``unicode61
remove_diacritics 2``) then only splits on spaces, folds case and strips accents.

* Words (``\\w+`` runs) are lower-cased and reduced by the Snowball stemmer of the document's
  language (PyStemmer; English when the language has no stemmer or is unknown).
* Runs of Han, kana or Hangul, written without spaces, become overlapping character bigrams
  (``海关总署`` -> ``海关 关总 总署``): a query's bigrams find every word in the run, of any length
  from two characters, without a dictionary. A single character stands alone.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["SNOWBALL", "analyse", "is_cjk", "query_tokens", "stemmer_for"]

#: Snowball stemmer names by ISO 639-1 code (the languages whose lexical search is stemmed).
SNOWBALL: dict[str, str] = {
    "en": "english",
    "fr": "french",
    "es": "spanish",
    "de": "german",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
    "sv": "swedish",
    "ru": "russian",
    "uk": "russian",  # no Ukrainian Snowball stemmer; Russian endings are the nearest
    "ar": "arabic",
    "fa": "persian",
    "el": "greek",
    "hi": "hindi",
    "tr": "turkish",
    "pl": "polish",
}
_DEFAULT = "english"
_WORD_RE = re.compile(r"\w+")
_CJK_CLASS = (
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ffff"
)
_CJK_RUN_RE = re.compile(f"[{_CJK_CLASS}]+")
_HAS_CJK_RE = re.compile(f"[{_CJK_CLASS}]")

# PyStemmer objects are not thread-safe: each thread keeps its own.
_local = threading.local()


def is_cjk(ch: str) -> bool:
    """True for a Han ideograph, kana or Hangul syllable (scripts written without spaces)."""
    return _HAS_CJK_RE.match(ch) is not None


def stemmer_for(language: str | None) -> Any:
    """This thread's Snowball stemmer for an ISO 639-1 code (English when there is none)."""
    name = SNOWBALL.get(language or "", _DEFAULT)
    stemmers: dict[str, Any] | None = getattr(_local, "stemmers", None)
    if stemmers is None:
        stemmers = _local.stemmers = {}
    stemmer = stemmers.get(name)
    if stemmer is None:
        import snowballstemmer  # uses PyStemmer's C implementation when installed

        stemmer = stemmers[name] = snowballstemmer.stemmer(name)
    return stemmer


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def _tokens(text: str, language: str | None) -> list[str]:
    words: list[str] = []
    out: list[str] = []
    # Stemming is batched (one call per text); CJK pieces are placed after their word's stems,
    # which keeps every token (order does not matter for BM25).
    for match in _WORD_RE.finditer(text):
        word = match.group()
        if _HAS_CJK_RE.search(word) is None:
            words.append(word.lower())
            continue
        last = 0
        for run in _CJK_RUN_RE.finditer(word):
            if run.start() > last:
                words.append(word[last : run.start()].lower())
            out.extend(_bigrams(run.group()))
            last = run.end()
        if last < len(word):
            words.append(word[last:].lower())
    if words:
        stems = stemmer_for(language).stemWords(words)
        out.extend(stems)
    return out


def analyse(text: str, language: str | None) -> str:
    """The searchable form of ``text`` written in ``language`` (ISO 639-1, or None)."""
    return " ".join(_tokens(text, language))


def query_tokens(terms: Iterable[str], languages: Sequence[str | None]) -> list[str]:
    """Distinct searchable tokens of query terms, stemmed for each of ``languages`` in turn."""
    seen: dict[str, None] = {}
    for term in terms:
        for language in languages or (None,):
            for token in _tokens(term, language):
                seen.setdefault(token, None)
    return list(seen)
