"""Export a sentence-transformers model's transformer to ONNX for :mod:`rag.embedding.onnx_runtime`.

Runs at ingest time. A BERT encoder (the bundled all-MiniLM-L6-v2) is written straight from its
weights by :mod:`rag.embedding.onnx_bert`, without torch (about 2 s); other architectures are
traced with torch and transformers (the ``train`` extra), imported inside the functions only.
:func:`ensure_query_encoder` converts a model once per model version into a user
cache and copies that export into each new index. The export folder holds ``model.onnx``
(fp32), ``tokenizer.json`` and ``encoder.json``; it is written into a temporary folder beside the
target and renamed into place, and the exported graph is checked against torch before it is kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rag.embedding.model_folder import ModelFolder, quiet_transformers_progress, read_model_folder
from rag.embedding.onnx_bert import build_bert_onnx, is_plain_bert
from rag.embedding.onnx_runtime import (
    FORMAT_VERSION,
    INPUT_NAMES,
    MODEL_FILE,
    OUTPUT_NAME,
    POOLINGS,
    SPEC_FILE,
    TOKENIZER_FILE,
    EncoderSpec,
    Pooling,
    pool,
)
from rag.errors import ModelError

logger = logging.getLogger(__name__)

OPSET = 17
_MAX_EXPORT_ERROR = 1e-3
_FINGERPRINT_FILES = (
    "modules.json",
    "config.json",
    "sentence_bert_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "model.safetensors",
    "pytorch_model.bin",
)


def model_fingerprint(folder: ModelFolder) -> str:
    """A digest of the files that determine the model's outputs (weights, configs, vocabulary)."""
    digest = hashlib.sha256(f"format={FORMAT_VERSION}\n".encode())
    paths = {folder.path / name for name in _FINGERPRINT_FILES}
    paths |= {folder.transformer_dir / name for name in _FINGERPRINT_FILES}
    for path in sorted(p for p in paths if p.is_file()):
        digest.update(f"{path.relative_to(folder.path)}\n".encode())
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def encoder_is_current(folder: Path, model_path: str) -> bool:
    """Whether ``folder`` holds a complete, valid export of the model at ``model_path``."""
    try:
        fingerprint = model_fingerprint(read_model_folder(Path(model_path)))
    except (ModelError, OSError):
        return False
    return _holds_export(Path(folder), fingerprint)


def _holds_export(folder: Path, fingerprint: str) -> bool:
    """Whether ``folder`` holds a complete export of the model with this fingerprint."""
    try:
        spec = EncoderSpec.read(folder / SPEC_FILE)
        model_file = folder / MODEL_FILE
        if not (folder / TOKENIZER_FILE).is_file() or not model_file.is_file():
            return False
        if model_file.stat().st_size != spec.onnx_bytes:
            return False
        return spec.source_fingerprint == fingerprint
    except (ModelError, OSError):
        return False


def ensure_query_encoder(
    model_path: str,
    folder: Path,
    cache_dir: Path | None,
    *,
    on_export: Callable[[], None] | None = None,
) -> bool:
    """Make ``folder`` (an index's encoder folder) a current export of the model at
    ``model_path``, converting the model at most once per model version: a current folder is
    left alone; otherwise the export is copied from ``cache_dir/<fingerprint>/`` (the user
    cache, :attr:`rag.settings.Settings.onnx_cache_dir`), after exporting it there first when
    the cache does not hold it yet. ``on_export`` is called just before a real export (about 2 s
    for a BERT encoder, 18-55 s through torch).
    Returns whether the model was exported. Without a cache (``None``), or when the cache
    cannot be written, the export goes straight into ``folder``.
    """
    folder = Path(folder)
    info = read_model_folder(Path(model_path))
    fingerprint = model_fingerprint(info)
    if _holds_export(folder, fingerprint):
        return False
    cached = Path(cache_dir) / fingerprint[:32] if cache_dir is not None else None
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            with _cache_lock(cached):  # two ingests of a new model export it once
                exported = False
                if not _holds_export(cached, fingerprint):
                    if on_export is not None:
                        on_export()
                    logger.info("exporting %s to ONNX in the cache %s", info.name, cached)
                    export_query_encoder(model_path, cached)
                    exported = True
                _copy_export(cached, folder)
            if _holds_export(folder, fingerprint):
                logger.info("query encoder for %s copied from the cache %s", info.name, cached)
                return exported
        except OSError as exc:
            logger.warning("ONNX cache %s not usable (%s); exporting into the index", cached, exc)
    if on_export is not None:
        on_export()
    logger.info("exporting %s to ONNX in %s", info.name, folder)
    export_query_encoder(model_path, folder)
    return True


@contextlib.contextmanager
def _cache_lock(cached: Path) -> Iterator[None]:
    import fcntl

    with open(cached.parent / f".{cached.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _copy_export(source: Path, folder: Path) -> None:
    """Copy an export into ``folder`` (staged beside it, then renamed into place). Copied, not
    linked: an index's files may be damaged or replaced without touching the cache."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        for name in (MODEL_FILE, TOKENIZER_FILE, SPEC_FILE):
            shutil.copyfile(source / name, staging / name)
            _fsync(staging / name)
        _replace_folder(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def export_query_encoder(model_path: str, folder: Path) -> None:
    """Export the model at ``model_path`` into ``folder``, replacing what is there atomically."""
    info = read_model_folder(Path(model_path))
    pooling = _supported_pooling(info)
    config = _read_object(info.transformer_dir / "config.json")
    max_seq_length = _max_seq_length(info, config)
    dimension = info.dimension or config.get("hidden_size")
    if not isinstance(dimension, int):
        raise ModelError(f"cannot tell the embedding dimension of {info.path}")

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        _write_tokenizer(info, staging / TOKENIZER_FILE)
        pad_token, pad_id = _pad_token(info, staging / TOKENIZER_FILE)
        _export_transformer(
            info, staging / MODEL_FILE, pooling, int(config.get("vocab_size", 1000))
        )
        spec = EncoderSpec(
            model_name=info.name,
            dimension=dimension,
            max_seq_length=max_seq_length,
            pooling=pooling,
            normalize=True,
            do_lower_case=info.do_lower_case,
            pad_token=pad_token,
            pad_id=pad_id,
            source_fingerprint=model_fingerprint(info),
            onnx_bytes=(staging / MODEL_FILE).stat().st_size,
        )
        (staging / SPEC_FILE).write_text(spec.to_json(), encoding="utf-8")
        for name in (MODEL_FILE, TOKENIZER_FILE, SPEC_FILE):
            _fsync(staging / name)
        _replace_folder(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("exported query encoder for %s to %s", info.name, folder)


def _supported_pooling(info: ModelFolder) -> Pooling:
    if info.other_modules:
        raise ModelError(
            f"model {info.path} has modules {', '.join(info.other_modules)} that the query "
            "encoder export does not support",
            hint="use a model made of Transformer, Pooling and Normalize modules",
        )
    for pooling in POOLINGS:
        if info.pooling == pooling:
            return pooling
    raise ModelError(
        f"model {info.path} uses pooling {info.pooling!r}; the query encoder supports "
        f"{', '.join(POOLINGS)}",
        hint="use a model with mean, cls or max pooling",
    )


def _read_object(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read model file {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ModelError(f"model file {path} is not a JSON object")
    return raw


def _max_seq_length(info: ModelFolder, config: dict[str, Any]) -> int:
    if info.max_seq_length:
        return info.max_seq_length
    positions = config.get("max_position_embeddings")
    if isinstance(positions, int) and positions > 1:
        return positions
    raise ModelError(f"cannot tell the maximum sequence length of {info.path}")


def _write_tokenizer(info: ModelFolder, target: Path) -> None:
    source = info.transformer_dir / TOKENIZER_FILE
    if source.is_file():
        shutil.copyfile(source, target)
        return
    # A folder without tokenizer.json: let transformers build the fast tokenizer and save it.
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(info.transformer_dir), local_files_only=True)
        tokenizer.backend_tokenizer.save(str(target))
    except Exception as exc:  # transformers raises many unrelated types here
        raise ModelError(f"model {info.path} has no usable fast tokenizer: {exc}") from exc


def _pad_token(info: ModelFolder, tokenizer_file: Path) -> tuple[str, int]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    padding = tokenizer.padding
    if padding and isinstance(padding.get("pad_token"), str):
        return str(padding["pad_token"]), int(padding["pad_id"])
    candidates: list[str] = []
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        path = info.transformer_dir / name
        pad = _read_object(path).get("pad_token") if path.is_file() else None
        if isinstance(pad, dict):
            pad = pad.get("content")
        if isinstance(pad, str):
            candidates.append(pad)
    for token in [*candidates, "[PAD]", "<pad>"]:
        token_id = tokenizer.token_to_id(token)
        if token_id is not None:
            return token, token_id
    raise ModelError(f"model {info.path} has no padding token")


def _export_transformer(info: ModelFolder, target: Path, pooling: Pooling, vocab_size: int) -> None:
    """Write the transformer's graph: built from the weights for a BERT encoder, else traced."""
    if is_plain_bert(info.transformer_dir):
        try:
            build_bert_onnx(info.transformer_dir, target)
        except (OSError, ModelError):
            raise
        except Exception as exc:  # onnx's builder and checker raise their own types
            raise ModelError(f"building the ONNX graph of {info.path} failed: {exc}") from exc
        _check_graph_runs(target, info, vocab_size)
        return
    _trace_with_torch(info, target, pooling, vocab_size)


def _check_graph_runs(target: Path, info: ModelFolder, vocab_size: int) -> None:
    """The built graph runs on a padded batch and gives finite states of the model's width
    (its agreement with torch is the integration test's to check, where torch is installed)."""
    import onnxruntime as ort

    inputs = _dummy_inputs(batch=2, length=19, vocab_size=vocab_size, seed=2)
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    (states,) = session.run([OUTPUT_NAME], inputs)
    if states.shape[:2] != (2, 19) or not np.isfinite(states).all():
        raise ModelError(f"the ONNX graph built for {info.path} gives unusable states")


def _trace_with_torch(info: ModelFolder, target: Path, pooling: Pooling, vocab_size: int) -> None:
    try:
        import torch
    except ImportError as exc:
        raise ModelError(
            f"exporting {info.path} (not a BERT encoder) to ONNX needs torch",
            hint="pip install 'rag-foreign-policy[train]' (install torch==2.13.0 first)",
        ) from exc
    from transformers import AutoModel

    class LastHiddenState(torch.nn.Module):
        """The transformer with a ready-made additive attention mask, so that tracing does not
        bake transformers' data-dependent mask shortcuts into the graph."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            additive = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(
                torch.float32
            ).min
            output = self.model(
                input_ids=input_ids,
                attention_mask=additive,
                token_type_ids=token_type_ids,
                return_dict=True,
            )
            hidden: torch.Tensor = output.last_hidden_state
            return hidden

    try:
        with quiet_transformers_progress():
            model = AutoModel.from_pretrained(
                str(info.transformer_dir), local_files_only=True, attn_implementation="eager"
            )
    except Exception as exc:  # transformers raises many unrelated types here
        raise ModelError(f"cannot load the transformer of {info.path}: {exc}") from exc
    wrapper = LastHiddenState(model).eval()
    dummy = _dummy_inputs(batch=2, length=16, vocab_size=vocab_size, seed=1)
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUT_NAMES, OUTPUT_NAME)}
    with warnings.catch_warnings(record=True) as caught, torch.no_grad():
        warnings.simplefilter("always")
        try:
            torch.onnx.export(
                wrapper,
                tuple(torch.from_numpy(dummy[name]) for name in INPUT_NAMES),
                str(target),
                dynamo=False,
                opset_version=OPSET,
                input_names=list(INPUT_NAMES),
                output_names=[OUTPUT_NAME],
                dynamic_axes=axes,
                do_constant_folding=True,
                external_data=False,
            )
        except Exception as exc:  # the exporter raises many unrelated types
            raise ModelError(f"ONNX export of {info.path} failed: {exc}") from exc
    for warning in caught:
        logger.debug("onnx export: %s", warning.message)
    wrapper.eval()  # the exporter restores the module's mode; make sure dropout stays off
    _check_export(wrapper, target, pooling, vocab_size)


def _dummy_inputs(*, batch: int, length: int, vocab_size: int, seed: int) -> dict[str, np.ndarray]:
    """Token ids with a padded row, so the graph is traced and checked with real masking."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1000 if vocab_size > 2000 else 1, vocab_size, size=(batch, length))
    mask = np.ones((batch, length), dtype=np.int64)
    mask[-1, length // 2 :] = 0
    return {
        "input_ids": (ids * mask).astype(np.int64),
        "attention_mask": mask,
        "token_type_ids": np.zeros((batch, length), dtype=np.int64),
    }


def _check_export(wrapper: Any, target: Path, pooling: Pooling, vocab_size: int) -> None:
    """Compare the ONNX graph with torch on inputs of another shape than the traced ones."""
    import onnxruntime as ort
    import torch

    inputs = _dummy_inputs(batch=3, length=37, vocab_size=vocab_size, seed=2)
    with torch.no_grad():
        expected = wrapper(*(torch.from_numpy(inputs[n]) for n in INPUT_NAMES)).numpy()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
    feeds = {i.name: inputs[i.name] for i in session.get_inputs()}
    (actual,) = session.run([OUTPUT_NAME], feeds)
    mask = inputs["attention_mask"]
    error = float(
        np.abs(
            pool(expected, mask, pooling, normalize=True)
            - pool(np.asarray(actual), mask, pooling, normalize=True)
        ).max()
    )
    if not error <= _MAX_EXPORT_ERROR:
        raise ModelError(
            f"the exported ONNX encoder disagrees with torch (max error {error:.2e})",
            hint="report this; the torch/transformers versions may not export correctly",
        )
    logger.debug("exported encoder matches torch to %.2e", error)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_folder(staging: Path, folder: Path) -> None:
    """Move ``staging`` to ``folder``; an existing folder is swapped out, then removed."""
    _fsync(staging)
    old: Path | None = None
    if folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".old", dir=folder.parent))
        os.replace(folder, old / folder.name)
    os.replace(staging, folder)
    _fsync(folder.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
