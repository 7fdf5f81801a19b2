"""Torch-free query encoder: the index's exported ONNX transformer run with onnxruntime.

A cold ``rag ask`` cannot afford ``import torch`` (seconds), so ingest exports the embedding
model's transformer into ``<index>/encoder/`` (see :mod:`rag.embedding.onnx_export`) and
questions are embedded here with onnxruntime and the ``tokenizers`` fast tokenizer, pooled and
L2-normalised exactly as sentence-transformers does. This module must never import torch,
transformers or sentence_transformers, not even indirectly; onnxruntime and tokenizers are
imported on first use.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from rag.errors import ModelError

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

logger = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
SPEC_FILE = "encoder.json"
ENCODER_FILES = (MODEL_FILE, TOKENIZER_FILE, SPEC_FILE)
FORMAT_VERSION = 1
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "last_hidden_state"

Pooling = Literal["mean", "cls", "max"]
POOLINGS: tuple[Pooling, ...] = ("mean", "cls", "max")

_REBUILD_HINT = "re-run `rag ingest` to rebuild the query encoder"


@dataclass(frozen=True)
class EncoderSpec:
    """What ``encoder.json`` records about an exported query encoder."""

    model_name: str
    dimension: int
    max_seq_length: int
    pooling: Pooling
    normalize: bool
    do_lower_case: bool
    pad_token: str
    pad_id: int
    source_fingerprint: str
    onnx_bytes: int
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def read(cls, path: Path) -> EncoderSpec:
        """Parse ``encoder.json``; raise :class:`ModelError` if it is unreadable or malformed."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(
                f"cannot read query encoder spec {path}: {exc}", hint=_REBUILD_HINT
            ) from exc
        try:
            spec = cls(
                model_name=_typed(raw, "model_name", str),
                dimension=_typed(raw, "dimension", int),
                max_seq_length=_typed(raw, "max_seq_length", int),
                pooling=cast(Pooling, _typed(raw, "pooling", str)),
                normalize=_typed(raw, "normalize", bool),
                do_lower_case=_typed(raw, "do_lower_case", bool),
                pad_token=_typed(raw, "pad_token", str),
                pad_id=_typed(raw, "pad_id", int),
                source_fingerprint=_typed(raw, "source_fingerprint", str),
                onnx_bytes=_typed(raw, "onnx_bytes", int),
                format_version=_typed(raw, "format_version", int),
            )
        except (TypeError, KeyError) as exc:
            raise ModelError(
                f"malformed query encoder spec {path}: {exc}", hint=_REBUILD_HINT
            ) from exc
        if spec.format_version != FORMAT_VERSION:
            raise ModelError(
                f"query encoder format {spec.format_version} in {path} is not the supported "
                f"format {FORMAT_VERSION}",
                hint=_REBUILD_HINT,
            )
        if spec.pooling not in POOLINGS:
            raise ModelError(f"unknown pooling {spec.pooling!r} in {path}", hint=_REBUILD_HINT)
        if spec.dimension < 1 or spec.max_seq_length < 2:
            raise ModelError(f"implausible dimension or length in {path}", hint=_REBUILD_HINT)
        return spec


def _typed(raw: Any, key: str, kind: type) -> Any:
    if not isinstance(raw, dict):
        raise TypeError("not a JSON object")
    value = raw[key]
    # bool is an int subclass: keep the two apart both ways.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{key!r} should be {kind.__name__}, got {value!r}")
    return value


def pool(
    hidden: np.ndarray, attention_mask: np.ndarray, pooling: Pooling, *, normalize: bool
) -> np.ndarray:
    """Pool token states ``(n, seq, dim)`` into ``(n, dim)`` exactly as sentence-transformers."""
    mask = attention_mask.astype(np.float32)[:, :, None]
    if pooling == "mean":
        summed = (hidden * mask).sum(axis=1)
        counts = np.clip(mask.sum(axis=1), 1e-9, None)
        vectors = summed / counts
    elif pooling == "cls":
        vectors = hidden[:, 0, :]
    else:
        vectors = np.where(mask > 0, hidden, np.float32(-1e9)).max(axis=1)
    vectors = vectors.astype(np.float32, copy=False)
    if normalize:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.clip(norms, 1e-12, None)
    return np.ascontiguousarray(vectors, dtype=np.float32)


class OnnxQueryEncoder:
    """An :class:`rag.embedding.Embedder` backed by an exported encoder folder.

    Construction only checks the folder; the onnxruntime session and tokenizer are created on
    first use (or by :meth:`warm_up`). Thread-safe: onnxruntime sessions may be run concurrently.
    """

    def __init__(
        self, folder: Path, *, threads: int, providers: Sequence[str] | None = None
    ) -> None:
        self.folder = Path(folder)
        missing = [name for name in ENCODER_FILES if not (self.folder / name).is_file()]
        if missing:
            raise ModelError(
                f"query encoder folder {self.folder} lacks {', '.join(missing)}",
                hint=_REBUILD_HINT,
            )
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self.spec = EncoderSpec.read(self.folder / SPEC_FILE)
        self._threads = threads
        self._providers = list(providers or ["CPUExecutionProvider"])
        self._lock = threading.Lock()
        self._session: onnxruntime.InferenceSession | None = None
        self._tokenizer: tokenizers.Tokenizer | None = None
        self._input_names: tuple[str, ...] = ()

    @classmethod
    def from_files(
        cls,
        files: dict[str, bytes],
        *,
        threads: int,
        providers: Sequence[str] | None = None,
    ) -> OnnxQueryEncoder:
        """A warmed-up encoder made from the bytes of an exported encoder folder (``{file name:
        bytes}``, as shipped to a Ray actor). The files are written to a private temporary folder
        only for as long as loading takes; it is removed before this returns, loaded or not."""
        folder = Path(tempfile.mkdtemp(prefix="rag-encoder-"))
        try:
            for name, data in files.items():
                (folder / name).write_bytes(data)
            encoder = cls(folder, threads=threads, providers=providers)
            encoder.warm_up()  # the session and tokenizer now live in memory
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return encoder

    @property
    def model_name(self) -> str:
        return self.spec.model_name

    @property
    def dimension(self) -> int:
        return self.spec.dimension

    @property
    def max_seq_length(self) -> int:
        return self.spec.max_seq_length

    def warm_up(self) -> None:
        """Load the tokenizer and create the onnxruntime session (idempotent)."""
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            tokenizer = self._load_tokenizer()
            session = self._load_session()
            self._input_names = tuple(i.name for i in session.get_inputs())
            unknown = set(self._input_names) - set(INPUT_NAMES)
            if unknown:
                raise ModelError(
                    f"query encoder {self.folder / MODEL_FILE} expects unknown inputs {unknown}",
                    hint=_REBUILD_HINT,
                )
            self._tokenizer = tokenizer
            self._session = session

    def _load_tokenizer(self) -> tokenizers.Tokenizer:
        from tokenizers import Tokenizer

        path = self.folder / TOKENIZER_FILE
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises plain Exception subclasses
            raise ModelError(f"cannot load tokenizer {path}: {exc}", hint=_REBUILD_HINT) from exc
        tokenizer.enable_truncation(max_length=self.spec.max_seq_length)
        tokenizer.no_padding()  # batches are padded here, each to its own longest text
        return tokenizer

    def _load_session(self) -> onnxruntime.InferenceSession:
        import onnxruntime as ort

        path = self.folder / MODEL_FILE
        options = ort.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Do not burn idle CPU spinning between runs; the machine is shared.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            available = set(ort.get_available_providers())
            providers = [p for p in self._providers if p in available] or ["CPUExecutionProvider"]
            return ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own non-hierarchy exceptions
            raise ModelError(
                f"cannot load query encoder {path}: {exc}", hint=_REBUILD_HINT
            ) from exc

    def encode(self, texts: Sequence[str], *, batch_size: int) -> np.ndarray:
        """Embed ``texts`` into float32 L2-normalised rows, shape ``(len(texts), dimension)``.

        Texts run longest first in batches of at most ``batch_size`` that also end where a text
        has less than half the tokens of its batch's first: a short sentence is never padded to
        a long chunk's length (which made mixed groups ~3x slower)."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of strings; use encode_query for one")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self.warm_up()
        assert self._tokenizer is not None
        prepared = [t.lower() for t in texts] if self.spec.do_lower_case else list(texts)
        if len(prepared) == 1:
            encodings = [self._tokenizer.encode(prepared[0])]
        else:
            encodings = self._tokenizer.encode_batch(prepared)
        lengths = [len(e.ids) for e in encodings]
        out = np.empty((len(prepared), self.dimension), dtype=np.float32)
        for idx in length_batches(lengths, batch_size):
            out[idx] = self._encode_batch([encodings[i] for i in idx])
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one text; shape ``(dimension,)``."""
        vectors: np.ndarray = self.encode([text], batch_size=1)
        return vectors[0]

    def _encode_batch(self, encodings: list[tokenizers.Encoding]) -> np.ndarray:
        assert self._session is not None
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self.spec.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n] = e.ids
            mask[row, :n] = e.attention_mask
            types[row, :n] = e.type_ids
        arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feeds = {name: arrays[name] for name in self._input_names}
        try:
            (hidden,) = self._session.run([OUTPUT_NAME], feeds)
        except Exception as exc:  # onnxruntime raises its own non-hierarchy exceptions
            raise ModelError(
                f"query encoder {self.folder / MODEL_FILE} failed: {exc}", hint=_REBUILD_HINT
            ) from exc
        vectors = pool(
            np.asarray(hidden, dtype=np.float32),
            arrays["attention_mask"],
            self.spec.pooling,
            normalize=self.spec.normalize,
        )
        if vectors.shape[1] != self.dimension:
            raise ModelError(
                f"query encoder {self.folder} produced {vectors.shape[1]}-d vectors, "
                f"its spec says {self.dimension}",
                hint=_REBUILD_HINT,
            )
        return vectors


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices of ``lengths`` longest first, cut into batches of at most ``batch_size`` that end
    before a text shorter than half the batch's first: padding at most doubles the tokens run."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches and len(batches[-1]) < batch_size and 2 * lengths[i] >= lengths[batches[-1][0]]:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches
