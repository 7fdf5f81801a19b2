"""Which language a text is written in: ISO 639-1 codes, cheap enough for the query path.

:func:`detect_language` looks at the writing system first (Han, kana, Hangul, Arabic, Cyrillic,
Greek, Hebrew, Devanagari decide alone, or narrow the choice), then, for Latin script:

* short texts (questions, titles) are scored by function words of English, French, Spanish,
  German, Italian, Portuguese and Dutch, plus telltale letters (``¿ ñ ç ß``); no model is loaded,
  so a cold ``rag ask`` pays nothing;
* longer texts (documents) go to py3langid's naive Bayes model (bundled with the package, loaded
  once, about 0.6 s), restricted to the languages this module knows.

:func:`stemmer_language` names the Snowball stemmer for a code, when there is one.
Pure functions; nothing is downloaded.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections import Counter
from typing import Any

from index.analysis import SNOWBALL, is_cjk
from rag.text_features import STOPWORDS

__all__ = [
    "SNOWBALL",
    "UNDETERMINED",
    "detect_language",
    "function_words",
    "is_cjk",
    "stemmer_language",
]

logger = logging.getLogger(__name__)

#: The code for text with no letters to judge by.
UNDETERMINED = "und"

# Languages py3langid may choose between for long Latin-script or Cyrillic texts.
_MODEL_LANGUAGES = ["en", "fr", "es", "de", "it", "pt", "nl", "sv", "pl", "tr", "ru", "uk"]
# Below this many characters the model is not loaded (function words decide).
_MODEL_MIN_CHARS = 200
_SAMPLE_CHARS = 4000

# The words each language is told by. English's are its commonest stopwords (a subset of the one
# English stopword list, rag.text_features.STOPWORDS, as short as the other languages' lists so
# that no language wins by the size of its list) and reported speech ("said", "say").
_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the of and to in is was were are what who when where why how which did does do has "
        "have had with for on by from that this it its an be will would said say can as or "
        "not about after before between".split()
    ),
    "fr": frozenset(
        "le la les des du de un une et est sont été que qui quoi quand où pourquoi comment "
        "quel quelle quels quelles a ont dans pour par sur avec au aux ce cette ces il elle "
        "ils elles ne pas se sa son ses leur été l d qu".split()
    ),
    "es": frozenset(
        "el la los las del de un una y es son fue fueron que qué quién quiénes cuándo dónde "
        "por porqué cómo cuál cuáles en para con al se su sus lo le ha han este esta "
        "estos estas".split()
    ),
    "de": frozenset(
        "der die das den dem des ein eine und ist sind war wurde wer was wann wo warum wie "
        "welche welcher mit für auf von zu im nicht sich hat haben".split()
    ),
    "it": frozenset(
        "il lo la gli le di del della dei delle un una e è sono che chi quando dove perché "
        "come quale per con su nel nella non si ha hanno".split()
    ),
    "pt": frozenset(
        "o a os as do da dos das de um uma e é são foi que quem quando onde porque como "
        "qual para com no na não se seu sua tem".split()
    ),
    "nl": frozenset(
        "de het een en is zijn was werd wie wat wanneer waar waarom hoe welke van voor met "
        "op niet zich heeft hebben".split()
    ),
}
_TELLTALES: dict[str, str] = {"¿": "es", "¡": "es", "ñ": "es", "ç": "fr", "ß": "de", "ã": "pt"}
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")

_lock = threading.Lock()
_identifier: Any = None


def _script(ch: str) -> str:
    code = ord(ch)
    if code < 0x250:
        return "latin"
    if 0x3040 <= code <= 0x30FF:
        return "kana"
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF:
        return "hangul"
    if is_cjk(ch):
        return "han"
    if 0x0400 <= code <= 0x052F:
        return "cyrillic"
    if 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0xFB50 <= code <= 0xFEFF:
        return "arabic"
    if 0x0370 <= code <= 0x03FF:
        return "greek"
    if 0x0590 <= code <= 0x05FF:
        return "hebrew"
    if 0x0900 <= code <= 0x097F:
        return "devanagari"
    if 0x1E00 <= code <= 0x1EFF:
        return "latin"
    return "other"


def _scripts(sample: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for ch in sample:
        if ch.isalpha():
            counts[_script(ch)] += 1
    return counts


def _by_function_words(sample: str) -> str:
    """The Latin-script language whose function words the text uses most; English by default."""
    lowered = sample.lower()
    scores: Counter[str] = Counter()
    for ch, lang in _TELLTALES.items():
        if ch in lowered:
            scores[lang] += 2
    for word in _WORD_RE.findall(lowered):
        for piece in re.split(r"['’]", word):
            for lang, vocabulary in _FUNCTION_WORDS.items():
                if piece in vocabulary:
                    scores[lang] += 1
    english = scores.pop("en", 0)
    if not scores:
        return "en"
    best = max(scores.values())
    # English questions borrow foreign words ("coup d'état", "a"): another language must lead
    # clearly when any English function word is present.
    if best < (english + 2 if english else 1):
        return "en"
    return sorted(lang for lang, score in scores.items() if score == best)[0]


def _model() -> Any:
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(_MODEL_LANGUAGES)
            _identifier = identifier
        return _identifier


def _by_model(sample: str) -> str:
    lang, _probability = _model().classify(sample)
    return str(lang)


def detect_language(text: str) -> str:
    """The ISO 639-1 code of the language ``text`` is written in, or ``"und"`` with no letters.

    Deterministic and offline. Questions and other short texts cost microseconds; a long Latin or
    Cyrillic text loads py3langid's model once per process.
    """
    sample = unicodedata.normalize("NFC", text[:_SAMPLE_CHARS])
    scripts = _scripts(sample)
    if not scripts:
        return UNDETERMINED
    script, _count = scripts.most_common(1)[0]
    cjk = scripts["han"] + scripts["kana"] + scripts["hangul"]
    # Ideographs carry several letters' worth of meaning: a third of the letters decides.
    if cjk * 3 >= sum(scripts.values()):
        if scripts["kana"]:
            return "ja"
        if scripts["hangul"] > scripts["han"]:
            return "ko"
        return "zh"
    if script == "arabic":
        return "fa" if any(ch in sample for ch in "پچژگ") else "ar"
    if script == "greek":
        return "el"
    if script == "hebrew":
        return "he"
    if script == "devanagari":
        return "hi"
    if script == "cyrillic":
        if len(sample) >= _MODEL_MIN_CHARS:
            lang = _by_model(sample)
            return lang if lang in ("ru", "uk") else "ru"
        return "uk" if any(ch in sample for ch in "іїєґІЇЄҐ") else "ru"
    if script != "latin":
        return UNDETERMINED
    if len(sample) >= _MODEL_MIN_CHARS:
        return _by_model(sample)
    return _by_function_words(sample)


def stemmer_language(code: str) -> str | None:
    """The Snowball stemmer's name for an ISO 639-1 code, or None when there is none."""
    return SNOWBALL.get(code)


def function_words(code: str) -> frozenset[str]:
    """A language's function words, which carry no evidence for BM25: for English the one English
    stopword list (:data:`rag.text_features.STOPWORDS`), for the other languages this module
    scores the words it tells them by (empty for the rest)."""
    if code == "en":
        return STOPWORDS
    return _FUNCTION_WORDS.get(code, frozenset())
