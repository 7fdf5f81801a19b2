"""The :class:`Embedder` protocol every encoder implements (ingest and question time alike)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into float32, L2-normalised vectors of a fixed dimension."""

    @property
    def model_name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str], *, batch_size: int) -> np.ndarray:
        """Shape ``(len(texts), dimension)``; empty input gives shape ``(0, dimension)``."""
        ...

    def encode_query(self, text: str) -> np.ndarray:
        """Shape ``(dimension,)``."""
        ...
