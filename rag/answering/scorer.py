"""The learned answer-sentence scorer: which sentence answers, and whether any does.

Trained on SQuAD-derived data (``rag train-answerer``, see the model card):

1. a logistic model over general features (:mod:`rag.answering.features`) ranks every candidate
   and gives each a probability that it answers;
2. an answerability model reads the best candidate's logit, its lead over the runner-up and its
   features, and gives the probability that the best sentence answers the question at all — the
   number the abstention threshold is compared with. It was trained with three kinds of
   unanswerable question: SQuAD 2.0's, questions asked of the collection without their article,
   and questions whose answer sentences were taken out of the retrieved evidence.

Optionally (``rag train-reader``, ``scorer.json``'s ``reader``), a trained reader — a
cross-encoder (MiniLM, int8 ONNX) with a learned no-answer slot — reads the question with each of
stage 1's ``top`` best candidates, and with the top document's sentences nearest the question,
and decides instead (:mod:`rag.answering.reader`).

The query path needs only numpy, ONNX Runtime and tokenizers: no torch.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.answering.evidence import Candidate
from rag.answering.features import (
    ANSWERABILITY_FEATURES,
    BASE_FEATURES,
    answerability_features,
    candidate_features,
)
from rag.answering.fingerprint import FEATURE_MODULES, READER_MODULES, code_fingerprint
from rag.answering.question import QuestionAnalysis
from rag.answering.reader import listwise_probabilities, reader_inputs
from rag.errors import ModelError

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

logger = logging.getLogger(__name__)

SCORER_FILE = "scorer.json"
READER_DIR = "reader"


def bundled_model_dir() -> Path:
    """The trained weights shipped inside the package."""
    return Path(__file__).resolve().parent / "model"


def with_interactions(matrix: np.ndarray) -> np.ndarray:
    """The features followed by every pairwise product (squares included), so a linear model
    can learn that, e.g., a date matters for a *when* question and not otherwise."""
    n = matrix.shape[1]
    i, j = np.triu_indices(n)
    return np.hstack([matrix, matrix[:, i] * matrix[:, j]])


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Probabilities of logits (clipped, so that no exponent overflows)."""
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30))), dtype=np.float64)


@dataclass(frozen=True)
class LogisticModel:
    """Standardised features (optionally with their pairwise products) → logistic regression.
    ``predict`` gives probabilities."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    interactions: bool = False

    def logits(self, matrix: np.ndarray) -> np.ndarray:
        if self.interactions:
            matrix = with_interactions(matrix)
        z = (matrix - self.mean) / self.scale
        return np.asarray(z @ self.weights + self.bias, dtype=np.float64)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        return sigmoid(self.logits(matrix))

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "weights": [round(float(v), 6) for v in self.weights],
            "bias": round(float(self.bias), 6),
            "interactions": self.interactions,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LogisticModel:
        try:
            model = cls(
                features=tuple(str(f) for f in raw["features"]),
                mean=np.asarray(raw["mean"], dtype=np.float64),
                scale=np.asarray(raw["scale"], dtype=np.float64),
                weights=np.asarray(raw["weights"], dtype=np.float64),
                bias=float(raw["bias"]),
                interactions=bool(raw.get("interactions", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"malformed logistic model: {exc}") from exc
        n = len(model.features)
        if model.interactions:
            n += n * (n + 1) // 2
        if not (len(model.mean) == len(model.scale) == len(model.weights) == n):
            raise ModelError("logistic model: feature and weight counts differ")
        return model


@dataclass(frozen=True)
class ReaderSpec:
    """How the answerer uses the reader (``scorer.json``'s ``reader``): how many of stage 1's
    best candidates it reads, and the abstention threshold on P(answer) and the share of the best
    sentence's probability a further sentence needs, both chosen on validation data."""

    top: int
    threshold: float
    extra_sentence_ratio: float
    #: Whether the answerer uses the reader unless ``Settings.reader`` says otherwise.
    default: bool = False
    #: How many of the top document's sentences nearest the question it also reads
    #: (:func:`rag.answering.evidence.add_nearest`), whatever their stage-1 rank.
    nearest: int = 0

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ReaderSpec:
        try:
            return cls(
                int(raw["top"]),
                float(raw["threshold"]),
                float(raw["extra_sentence_ratio"]),
                bool(raw.get("default", False)),
                int(raw.get("nearest", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"malformed reader settings in the scorer: {exc}") from exc


@dataclass(frozen=True)
class ScorerSpec:
    """What ``scorer.json`` holds: the sentence scorer, the answerability model, the threshold
    and the ratio a further answer sentence's probability must reach of the best one's, both
    chosen on validation data, the same fitted for questions without a query vector
    (``lexical``), and how the reader is used (``reader``)."""

    first: LogisticModel
    threshold: float
    extra_sentence_ratio: float
    answerability: LogisticModel | None = None
    lexical: ScorerSpec | None = None
    reader: ReaderSpec | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ScorerSpec:
        if raw.get("second") or raw.get("rerank_top"):
            # Models from before the stacked cross-encoder stage was removed wrote these keys
            # (null and 0 when unused, as in every shipped model): only a used one is refused.
            raise ModelError(
                "the answer scorer uses a stacked cross-encoder stage, which this version "
                "no longer runs",
                hint="rebuild it with `rag train-answerer`",
            )
        first = LogisticModel.from_dict(raw["first"])
        answerability = (
            LogisticModel.from_dict(raw["answerability"]) if raw.get("answerability") else None
        )
        lexical = cls.from_dict(raw["lexical"]) if raw.get("lexical") else None
        reader = ReaderSpec.from_dict(raw["reader"]) if raw.get("reader") else None
        return cls(
            first,
            float(raw["threshold"]),
            float(raw["extra_sentence_ratio"]),
            answerability,
            lexical,
            reader,
        )

    @classmethod
    def read(cls, folder: Path) -> ScorerSpec:
        path = folder / SCORER_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            spec = cls.from_dict(raw)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(
                f"cannot read the answer scorer at {path}: {exc}",
                hint="reinstall the package, or rebuild the model with `rag train-answerer`",
            ) from exc
        check_fingerprint(path, raw.get("features_fingerprint"), FEATURE_MODULES)
        return spec

    def for_vector(self, query_vector: np.ndarray | None) -> ScorerSpec:
        """The variant for a question with or without a query vector."""
        return self.lexical if query_vector is None and self.lexical is not None else self

    def features_match(self) -> bool:
        return (
            self.first.features == BASE_FEATURES
            and (
                self.answerability is None or self.answerability.features == ANSWERABILITY_FEATURES
            )
            and (self.lexical is None or self.lexical.features_match())
        )


def check_fingerprint(path: Path, recorded: object, modules: tuple[str, ...]) -> None:
    """Refuse a model whose inputs were computed by other code than this version runs."""
    current = code_fingerprint(modules)
    if recorded != current:
        raise ModelError(
            f"the model at {path} was trained on inputs computed by other code "
            f"(fingerprint {recorded or 'none'}; this version computes {current}): "
            f"{', '.join(modules)} changed since it was trained",
            hint="retrain it (`rag train-answerer`, `rag train-reader`), or undo the change",
        )


def answer_probabilities(model: LogisticModel | None, rows: np.ndarray) -> np.ndarray:
    """Per answerability row (:func:`answerability_features`), the probability that its best
    sentence answers: the answerability model's, or without one the best sentence's own."""
    return sigmoid(rows[:, 0]) if model is None else model.predict(rows)


class CrossEncoder:
    """A (question, text) cross-encoder in ONNX Runtime — the reader; loads on first use."""

    def __init__(self, folder: Path, *, threads: int) -> None:
        self.folder = folder
        self.threads = threads
        self._lock = threading.Lock()
        self._session: onnxruntime.InferenceSession | None = None
        self._tokenizer: tokenizers.Tokenizer | None = None
        path = folder / "scorer.json"
        spec = json.loads(path.read_text(encoding="utf-8"))
        self.max_length = int(spec["max_length"])
        if spec.get("null_logit") is not None:  # a reader: its input text is built by our code
            check_fingerprint(path, spec.get("input_fingerprint"), READER_MODULES)
        #: The learned score of "no candidate answers" (None: a model without one, which
        #: the answerer refuses).
        self.null_logit: float | None = (
            float(spec["null_logit"]) if spec.get("null_logit") is not None else None
        )

    def warm_up(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime
            import tokenizers

            tok = tokenizers.Tokenizer.from_file(str(self.folder / "tokenizer.json"))
            tok.enable_truncation(max_length=self.max_length, strategy="longest_first")
            tok.enable_padding()
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            session = onnxruntime.InferenceSession(
                str(self.folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer, self._session = tok, session

    def score(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        self.warm_up()
        assert self._tokenizer is not None and self._session is not None
        encoded = self._tokenizer.encode_batch([(question, s) for s in sentences])
        feeds = {
            "input_ids": np.asarray([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in encoded], dtype=np.int64),
        }
        (logits,) = self._session.run(["logits"], feeds)
        return np.asarray(logits, dtype=np.float32).reshape(-1)


@dataclass(frozen=True)
class ScoredCandidates:
    """Candidates in the order of their final probability, best first, and the probability that
    the best one answers the question (compared with the abstention threshold)."""

    candidates: list[Candidate]
    probabilities: np.ndarray
    typed: list[list[str]]
    answer_probability: float
    threshold: float  # the threshold chosen on validation for the variant that scored them
    extra_sentence_ratio: float  # the same variant's ratio for further answer sentences


class AnswerScorer:
    """The sentence scorer and the answerability model behind one call, or the reader when the
    spec has one (``spec.reader``) and ``reader`` is given. The reader reads stage 1's
    ``rerank_top`` best candidates: ``spec.reader.top`` unless overridden (``0``: stage 1 only),
    and the ``nearest`` sentences of the top document the evidence step marks ``near``:
    ``spec.reader.nearest`` unless overridden."""

    def __init__(
        self,
        spec: ScorerSpec,
        *,
        rerank_top: int | None = None,
        reader: CrossEncoder | None = None,
        nearest: int | None = None,
    ) -> None:
        self.spec = spec
        self.reader = reader if spec.reader is not None else None
        if self.reader is not None and self.reader.null_logit is None:
            raise ModelError(
                f"the reader at {self.reader.folder} has no no-answer score",
                hint="re-export it with `rag train-reader --export-only`",
            )
        default_top = spec.reader.top if spec.reader is not None else 0
        self.rerank_top = default_top if rerank_top is None else rerank_top
        default_nearest = spec.reader.nearest if spec.reader is not None else 0
        self._nearest = default_nearest if nearest is None else nearest
        if not spec.features_match():
            raise ModelError(
                "the answer scorer was trained on other features than this version computes",
                hint="rebuild it with `rag train-answerer`",
            )

    @classmethod
    def load(
        cls,
        folder: Path | None = None,
        *,
        rerank_top: int | None = None,
        threads: int,
        use_reader: bool | None = None,
        nearest: int | None = None,
    ) -> AnswerScorer:
        """The scorer in ``folder`` (default: the bundled one). ``use_reader`` turns its trained
        reader on or off (None: the model's own default, ``scorer.json``'s ``reader.default``);
        ``rerank_top`` overrides how many of stage 1's candidates the reader reads, ``nearest``
        how many of the top document's nearest sentences it reads besides."""
        folder = folder or bundled_model_dir()
        spec = ScorerSpec.read(folder)
        if use_reader and spec.reader is None:
            raise ModelError(
                f"the answer model at {folder} has no reader",
                hint="unset RAG_READER, or train one with `rag train-reader`",
            )
        enabled = spec.reader is not None and (
            spec.reader.default if use_reader is None else use_reader
        )
        if not enabled:
            spec = replace(spec, reader=None)
        reader_dir = folder / READER_DIR
        reader = (
            CrossEncoder(reader_dir, threads=threads)
            if spec.reader is not None and (reader_dir / "model.onnx").is_file()
            else None
        )
        if spec.reader is not None and reader is None:
            raise ModelError(
                f"the answer scorer at {folder} uses a reader, but {reader_dir} holds none",
                hint="reinstall the package, or rebuild the reader with `rag train-reader`",
            )
        return cls(spec, rerank_top=rerank_top, reader=reader, nearest=nearest)

    def warm_up(self) -> None:
        if self.reader is not None:
            self.reader.warm_up()

    @property
    def nearest(self) -> int:
        """How many nearest sentences of the top document the evidence step should add: the
        reader's count when the reader is on, else 0 (the feature scorer reads passages only)."""
        return self._nearest if self.reading else 0

    @property
    def reading(self) -> bool:
        """Whether the reader decides (it is loaded, the spec has one and it reads some)."""
        return self.reader is not None and self.spec.reader is not None and self.rerank_top > 0

    def first_stage(
        self, q: QuestionAnalysis, query_vector: np.ndarray | None, candidates: list[Candidate]
    ) -> list[Candidate]:
        """The candidates in the feature scorer's order (stage 1), best first: the order in
        which the reader is shown its ``top`` candidates."""
        if not candidates:
            return []
        spec = self.spec.for_vector(query_vector)
        feats = candidate_features(q, query_vector, candidates)
        order = np.argsort(-spec.first.logits(feats.matrix), kind="stable")
        return [candidates[i] for i in order]

    def score(
        self, q: QuestionAnalysis, query_vector: np.ndarray | None, candidates: list[Candidate]
    ) -> ScoredCandidates:
        if not self.reading:  # sentences from outside the passages are the reader's alone
            candidates = [c for c in candidates if c.in_passage]
        spec = self.spec.for_vector(query_vector)
        feats = candidate_features(q, query_vector, candidates)
        logits = spec.first.logits(feats.matrix)
        first = sigmoid(logits)
        order = np.argsort(-first, kind="stable")
        if self.reader is not None and self.spec.reader is not None and self.rerank_top > 0:
            return self._read(q, candidates, feats.typed, order, self.reader, self.spec.reader)
        p_answer = 0.0
        if candidates:
            row = answerability_features(logits, feats.matrix)[None, :]
            p_answer = float(answer_probabilities(spec.answerability, row)[0])
        return ScoredCandidates(
            [candidates[i] for i in order],
            first[order],
            [feats.typed[i] for i in order],
            p_answer,
            spec.threshold,
            spec.extra_sentence_ratio,
        )

    def _read(
        self,
        q: QuestionAnalysis,
        candidates: list[Candidate],
        typed: list[list[str]],
        order: np.ndarray,
        reader: CrossEncoder,
        rspec: ReaderSpec,
    ) -> ScoredCandidates:
        """The reader's verdict on stage 1's ``rerank_top`` best candidates and the ``near``
        ones (:func:`read_order`): they come first, in the reader's order, each with its share
        of the listwise softmax; the rest follow in stage 1's order with probability 0 (never
        cited, but there for context)."""
        top = read_order(candidates, order, self.rerank_top)
        read = set(top.tolist())
        rest = [int(i) for i in order if int(i) not in read]
        logits = reader.score(q.text, reader_inputs([candidates[i] for i in top]))
        assert reader.null_logit is not None
        shares, p_answer = listwise_probabilities(logits, reader.null_logit)
        reorder = np.argsort(-logits, kind="stable")
        chosen = [int(i) for i in top[reorder]] + rest
        probabilities = np.concatenate([shares[reorder], np.zeros(len(rest))])
        return ScoredCandidates(
            [candidates[i] for i in chosen],
            probabilities,
            [typed[i] for i in chosen],
            p_answer,
            rspec.threshold,
            rspec.extra_sentence_ratio,
        )


def read_order(candidates: Sequence[Candidate], order: np.ndarray, top: int) -> np.ndarray:
    """The indices of the candidates the reader reads, in stage 1's ``order``: the ``top`` best
    of the passages' sentences, then every ``near`` one not among them (the top document's
    sentences nearest the question, :func:`rag.answering.evidence.add_nearest`)."""
    in_passage = [int(i) for i in order if candidates[int(i)].in_passage][:top]
    taken = set(in_passage)
    near = [int(i) for i in order if candidates[int(i)].near and int(i) not in taken]
    return np.asarray(in_passage + near, dtype=np.int64)
