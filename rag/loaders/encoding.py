"""Decoding text files that are not UTF-8: detected with charset-normalizer, never guessed blind.

Legacy files come in the code page of their language (cp1251 for Russian, cp1252 for Western
European text, GB18030 for Chinese, ...). Decoding them with the wrong one stores mojibake that no
question will ever match, so a file whose encoding cannot be told with confidence is refused
with its best guess, rather than stored.
"""

from __future__ import annotations

import logging

from rag.errors import LoaderError

logger = logging.getLogger(__name__)

# A decoding whose share of odd characters ("chaos") is above this is not trusted.
MAX_CHAOS = 0.1
# Nor one whose text does not read like any language (charset-normalizer's coherence).
MIN_COHERENCE = 0.1
# Equally good decodings within this chaos margin count as ties.
_TIE = 0.02
_WESTERN = "cp1252"
_ADVICE = "save the file as UTF-8 and ingest it again"
#: A decoding with a smaller share of letters, digits, spaces and common punctuation is of binary
#: content (random bytes read as cp1252 are full of ‚ ‰ ¶ ±), not of text.
MIN_PLAIN_SHARE = 0.9
# A decoding that reads like no language is still taken as cp1252 when it is all plain characters
# and words (a short "Café “quoted”" has too few words for a language to show).
_ALL_PLAIN = 0.999
_PUNCTUATION = frozenset(".,;:!?'\"()[]-–—‘’‚“”„«»/%&…*+=#@$€£§°")
BINARY = "binary file, not text"


def _has_words(text: str) -> bool:
    """Whether ``text`` has words: letters, separated by spaces (random bytes have none)."""
    words = text.split()
    wordy = sum(sum(c.isalpha() for c in w) * 2 >= len(w) for w in words)
    return " " in text.strip() and wordy * 2 >= len(words)


def plain_share(text: str) -> float:
    """The share of ``text`` that is letters, digits, whitespace or common punctuation."""
    if not text:
        return 0.0
    plain = sum(1 for c in text if c.isalnum() or c.isspace() or c in _PUNCTUATION)
    return plain / len(text)


def decode_legacy(label: str, data: bytes) -> str:
    """Decode bytes that are not UTF-8, or raise :class:`LoaderError` when unsure of the encoding.

    Among decodings that are equally clean, cp1252 (the Western default, which decodes French,
    Spanish or English text identically to its Central European rivals) is preferred.
    """
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise LoaderError(label, f"cannot tell the text encoding (not UTF-8); {_ADVICE}")
    best = matches[0]
    for match in matches:
        if match.chaos <= best.chaos + _TIE and _WESTERN in match.could_be_from_charset:
            text = data.decode(_WESTERN, errors="strict")
            share = plain_share(text)
            if (share >= _ALL_PLAIN and _has_words(text)) or (
                match.coherence >= MIN_COHERENCE and share >= MIN_PLAIN_SHARE
            ):
                logger.info("%s: not UTF-8, decoded as %s", label, _WESTERN)
                return text
            break
    # UTF-16 text has a BOM (read before this); bytes that only read as BOM-less UTF-16 are not text
    if best.encoding.startswith(("utf_16", "utf_32")) or plain_share(str(best)) < MIN_PLAIN_SHARE:
        raise LoaderError(label, f"{BINARY} (not UTF-8, and it reads as no text encoding)")
    if best.chaos > MAX_CHAOS or best.coherence < MIN_COHERENCE:
        language = f", {best.language}" if best.language and best.language != "Unknown" else ""
        raise LoaderError(
            label,
            f"text encoding uncertain (not UTF-8; best guess {best.encoding}{language}, "
            f"confidence too low); {_ADVICE}",
        )
    logger.info("%s: not UTF-8, decoded as %s (%s)", label, best.encoding, best.language)
    return str(best)
