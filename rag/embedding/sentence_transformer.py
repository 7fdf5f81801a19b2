"""The sentence-transformers (torch) :class:`~rag.embedding.protocol.Embedder`.

Importing this module is cheap: sentence-transformers (and with it torch) is imported only when a
model is first used. Question-time code uses :class:`rag.embedding.onnx_runtime.OnnxQueryEncoder`
instead, which never imports torch; :mod:`rag.embedding.onnx_export` turns this model into it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.embedding.model_folder import (
    INSTALL_HINT,
    default_model_path,
    quiet_transformers_progress,
    read_model_folder,
)
from rag.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)


class SentenceTransformerEmbedder:
    """An :class:`Embedder` running a sentence-transformers model folder with torch.

    Construction only checks the folder; the model is loaded by :meth:`warm_up` or on first use.
    The caller must have set ``HF_HUB_OFFLINE=1``; nothing is ever downloaded.
    """

    def __init__(self, model_path: str | None = None, *, device: str = "cpu") -> None:
        self.model_path = Path(model_path) if model_path is not None else Path(default_model_path())
        self.folder = read_model_folder(self.model_path)
        self.device = device
        self._lock = threading.Lock()
        self._model: SentenceTransformer | None = None

    @property
    def model_name(self) -> str:
        return self.folder.name

    @property
    def dimension(self) -> int:
        if self._model is None and self.folder.dimension and not self.folder.other_modules:
            return self.folder.dimension
        dim = self._loaded().get_embedding_dimension()
        if dim is None:
            raise ModelError(f"model {self.model_path} does not report its embedding dimension")
        return int(dim)

    @property
    def max_seq_length(self) -> int:
        if self._model is None and self.folder.max_seq_length:
            return self.folder.max_seq_length
        length = self._loaded().max_seq_length
        if length is None:
            raise ModelError(f"model {self.model_path} does not report its maximum length")
        return int(length)

    def warm_up(self) -> None:
        """Load the model (idempotent). Imports sentence-transformers, so takes seconds."""
        self._loaded()

    def _loaded(self) -> SentenceTransformer:
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> SentenceTransformer:
        logger.info("loading embedding model %s from %s", self.model_name, self.model_path)
        try:
            from sentence_transformers import SentenceTransformer

            with quiet_transformers_progress():
                return SentenceTransformer(
                    str(self.model_path), device=self.device, local_files_only=True
                )
        except ModelError:
            raise
        except Exception as exc:  # loading fails in many library-specific ways
            raise ModelError(
                f"cannot load embedding model {self.model_path}: {exc}",
                hint=f"check RAG_MODEL_PATH or {INSTALL_HINT}",
            ) from exc

    def encode(self, texts: Sequence[str], *, batch_size: int) -> np.ndarray:
        """Embed ``texts`` into float32 L2-normalised rows, shape ``(len(texts), dimension)``."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of strings; use encode_query for one")
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._loaded()
        try:
            vectors = model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except Exception as exc:  # torch/tokenizer failures are not in our hierarchy
            raise ModelError(f"embedding with {self.model_name} failed: {exc}") from exc
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one text; shape ``(dimension,)``."""
        vectors: np.ndarray = self.encode([text], batch_size=1)
        return vectors[0]
