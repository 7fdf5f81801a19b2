"""The one settings object. Built at the edges (CLI, service, eval) and passed down.

Every field can be set through the environment with the ``RAG_`` prefix, e.g. ``RAG_INDEX_DIR``.
Library code never reads the environment itself.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

RetrievalMode = Literal["hybrid", "dense", "lexical"]
RETRIEVAL_MODES: tuple[str, ...] = get_args(RetrievalMode)
#: The most passages one question may ask for (CLI, HTTP, Python API and evaluation alike).
MAX_K = 50
DenseScoring = Literal["chunk", "sentence"]
VectorIndexKind = Literal["auto", "flat", "ivf"]
# A Ray head node: HOST:PORT or ray://HOST:PORT (a host name, IPv4 or [IPv6] address).
_RAY_ADDRESS_RE = re.compile(
    r"(?:ray://)?(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
    r":(?P<port>[0-9]{1,5})"
)


def default_index_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rag" / "index"


def default_onnx_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag" / "onnx"


class Settings(BaseSettings):
    """All tunables of ingest, retrieval, answering and the service."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    # --- storage -------------------------------------------------------------------------------
    index_dir: Path = Field(default_factory=default_index_dir, description="Index folder.")
    vector_index: VectorIndexKind = Field(
        "auto", description="FAISS index type: exact 'flat', approximate 'ivf', or 'auto'."
    )
    ivf_threshold: int = Field(
        50_000,
        ge=1,
        description="With 'auto', corpora of at least this many chunks use IVF "
        "(crossover measured by bench/scale.py).",
    )
    ivf_nprobe: int = Field(
        256, ge=1, description="IVF lists probed per query (recall@10 >= 0.95 up to 1M vectors)."
    )

    # --- model and chunking --------------------------------------------------------------------
    model_path: str | None = Field(
        None, description="sentence-transformers model folder; default: bundled all-MiniLM-L6-v2."
    )
    onnx_cache_dir: Path | None = Field(
        default_factory=default_onnx_cache_dir,
        description="User cache of ONNX exports of the embedding model, one folder per model "
        "version (`<dir>/<model fingerprint>/`): the model is converted once (about 2 s), and "
        "each new index copies the export.",
    )
    chunk_tokens: int = Field(200, ge=16, le=2048, description="Token budget per chunk.")
    chunk_overlap_sentences: int = Field(1, ge=0, le=8, description="Sentences shared by chunks.")
    embed_batch_size: int = Field(32, ge=1, le=1024)
    embed_threads: int = Field(0, ge=0, le=256, description="ONNX Runtime threads; 0 = all cores.")
    query_threads: int = Field(
        1,
        ge=1,
        le=256,
        description="ONNX Runtime threads of the encoder of an opened index (one question at a "
        "time; documents added to an opened index use it too).",
    )
    commit_every_chunks: int = Field(
        2048, ge=1, description="Ingest commits durably after about this many new chunks."
    )

    # --- cluster ingest (optional extra `ray`) ----------------------------------------------------
    ray_address: str | None = Field(
        None, description="Ingest on Ray: 'local', 'auto' or host:port; None: ingest here."
    )
    ray_connect_timeout_s: float = Field(
        10.0,
        gt=0,
        le=600,
        description="Seconds `rag ingest --ray HOST:PORT` waits for the head node to accept a "
        "connection before it gives up with an error (Ray itself retries for minutes).",
    )
    ray_actors: int = Field(2, ge=1, le=4096, description="Embedding actors on the cluster.")
    ray_actor_cpus: float = Field(1.0, gt=0, description="CPUs per embedding actor.")
    ray_actor_gpus: float | None = Field(
        None, ge=0, description="GPUs per embedding actor; None: 1 where the cluster has GPUs."
    )

    # --- retrieval -----------------------------------------------------------------------------
    retrieval_mode: RetrievalMode = "hybrid"
    top_k: int = Field(5, ge=1, le=MAX_K, description="Passages returned per question.")
    dense_depth: int = Field(40, ge=1, le=1000, description="Candidates from FAISS before fusion.")
    lexical_depth: int = Field(40, ge=1, le=1000, description="Candidates from FTS5 before fusion.")
    rrf_k: int = Field(
        10,
        ge=1,
        description="Reciprocal rank fusion constant (chosen on validation articles: see the "
        "answer model card).",
    )
    dense_weight: float = Field(
        0.5,
        ge=0.0,
        description="RRF weight of the dense ranking (chosen on validation articles: see the "
        "answer model card).",
    )
    lexical_weight: float = Field(1.0, ge=0.0, description="RRF weight of the BM25 ranking.")
    dense_scoring: DenseScoring = Field(
        "sentence",
        description="How the dense ranking orders FAISS's candidate chunks: by the chunk's own "
        "vector (chunk) or by its best sentence's (sentence; chosen on validation articles: see "
        "the answer model card).",
    )
    metadata_weight: float = Field(
        2.0,
        ge=0.0,
        description="RRF weight of the metadata channels: for each country the question names "
        "(and its years), one more ranking — that country's documents (the hybrid search under "
        "`metadata_country_key` = its code) beside the documents that name no country — so the "
        "named country's documents rise over other countries', never over documents without "
        "one. 0 turns them off. Chosen on policy-qa validation (see the answer model page).",
    )
    metadata_country_key: str = Field(
        "country",
        min_length=1,
        description="The document metadata key that holds an ISO 3166-1 alpha-3 country code, "
        "for the metadata channels.",
    )

    # --- answering -----------------------------------------------------------------------------
    max_question_chars: int = Field(1000, ge=10)
    answer_max_sentences: int = Field(3, ge=1, le=5)
    abstain_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Abstain when the probability that the best sentence answers is below this; "
        "default: the threshold chosen on the scorer's validation split for each model variant "
        "(hybrid and lexical-only; see the answer model card).",
    )
    extra_sentence_ratio: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="Further answer sentences need at least this share of the best sentence's "
        "probability; default: the share chosen on the scorer's validation split for each model "
        "variant (its model card).",
    )
    rerank_top: int | None = Field(
        None,
        ge=0,
        le=50,
        description="Candidate sentences the trained reader reads when it answers (`reader`; "
        "0 = the feature scorer alone); default: the reader's own (its model card).",
    )
    reader_nearest: int | None = Field(
        None,
        ge=0,
        le=50,
        description="Sentences of the top document nearest the question (by their stored "
        "vectors) that the trained reader reads besides the feature scorer's best, wherever "
        "they lie in the document (`reader`; 0 = none); default: the reader's own (its model "
        "card).",
    )
    rerank_threads: int = Field(1, ge=1, le=64, description="ONNX Runtime threads of the reader.")
    reader: bool | None = Field(
        None,
        description="Answer with the trained reader, a cross-encoder that reads the question "
        "with each of the feature scorer's best candidates (docs/answer-model.md): true or "
        "false; default: the answer model's own choice (off for the bundled model until it is "
        "level with the feature scorer on every category of the article's evaluation set).",
    )
    answer_model_dir: Path | None = Field(
        None, description="Folder of a trained answer scorer; default: the bundled one."
    )
    ask_file_max_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1,
        description="Most bytes `rag ask` reads from a --file of questions or from standard "
        "input; a larger input (or an endless one, such as /dev/zero) is refused (exit 4).",
    )
    compare_max_groups: int = Field(
        250,
        ge=1,
        le=10_000,
        description="Most groups one comparison (`rag compare`, `POST /compare`) may ask: every "
        "UN member state of one session fits; more is refused (exit 4, HTTP 422).",
    )
    compare_wording: Literal["topic", "neutral", "named"] = Field(
        "topic",
        description="How a comparison asks each group: 'neutral' words the group out of the "
        'question ("What did China say about X?" asks "What did the country say about X?" '
        "of every country's documents, the filter naming the group), 'topic' asks such a "
        "question's topic itself (\"X\"), 'named' puts the group's name in (\"What did France "
        'say about X?"); chosen on the compare set (docs/evaluation.md).',
    )
    compare_reader: bool = Field(
        False,
        description="Whether a comparison's cells are answered by the trained reader when "
        "`reader` is on; by default they are answered by the feature scorer, which the "
        "comparison wording was chosen with (with the reader, the compare set's cell accuracy "
        "falls from 0.917 to 0.378: it declines the topic asked of each group; "
        "docs/evaluation.md).",
    )
    compare_workers: int = Field(
        2,
        ge=1,
        le=64,
        description="Groups of one comparison answered at once (threads; each group is one "
        "filtered retrieval and one answer).",
    )
    answer_mode: Literal["extractive", "llm"] = "extractive"
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(20.0, gt=0)

    # --- service -------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    api_key: SecretStr | None = Field(None, description="Bearer token required for writes.")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser: comma-separated "
        "(`http://localhost:3000,https://a.example`) or a JSON list.",
    )
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1)
    log_questions: bool = Field(
        False, description="Put the question text in the service's access log lines."
    )
    # --- upload parsing and the write queue (see service/upload_worker.py, writer_queue.py) ---
    upload_parse_seconds: float = Field(
        60.0, gt=0, le=3600, description="Wall-clock budget to parse one upload."
    )
    upload_parse_memory_bytes: int = Field(
        1024 * 1024 * 1024,
        ge=64 * 1024 * 1024,
        description="Address space an upload's parser may add (decompression bombs stop here).",
    )
    upload_max_chars: int = Field(
        5_000_000, ge=1, description="Most characters of text one upload may yield."
    )
    upload_max_pages: int = Field(2000, ge=1, description="Most pages of an uploaded PDF.")
    upload_max_elements: int = Field(
        200_000, ge=1, description="Most HTML tags of an uploaded page."
    )
    write_queue_size: int = Field(
        64, ge=1, le=10_000, description="Writes waiting for the single writer; more get 503."
    )
    write_queue_per_client: int = Field(
        8,
        ge=1,
        le=10_000,
        description="Uploads one client address may have in the write queue at once (sending, "
        "parsing or waiting); more get 503, so one client cannot fill the queue. Behind a "
        "reverse proxy every client has the proxy's address: raise it there.",
    )
    # --- connection timeouts (see service/http_shape.py and service/limits.py) ---
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        le=600,
        description="Seconds a connection has to send a request's headers, counted from its "
        "opening or from the end of its previous response; a slower one is closed (with 408 "
        "when it sent part of them).",
    )
    body_timeout_s: float = Field(
        120.0,
        gt=0,
        le=3600,
        description="Seconds a request has to send its whole body once its headers are in; a "
        "slower one gets 408 and its queued upload is dropped.",
    )
    keep_alive_timeout_s: int = Field(
        5,
        ge=1,
        le=600,
        description="Seconds an idle keep-alive connection stays open between requests.",
    )

    @field_validator("ray_address")
    @classmethod
    def _ray_address_shape(cls, value: str | None) -> str | None:
        """'local', 'auto', HOST:PORT or ray://HOST:PORT with a port from 1 to 65535."""
        if value is None or value in ("local", "auto"):
            return value
        match = _RAY_ADDRESS_RE.fullmatch(value)
        if match is None or not 1 <= int(match.group("port")) <= 65535:
            raise ValueError(
                "expected 'local', 'auto', HOST:PORT or ray://HOST:PORT with a port from 1 to "
                "65535 (e.g. 10.0.0.5:6379)"
            )
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """A comma-separated list (``a,b``) or a JSON list (``["a", "b"]``)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                try:
                    return json.loads(text)
                except ValueError as exc:
                    raise ValueError(f"not a JSON list of origins: {exc}") from exc
            return [part.strip() for part in text.split(",") if part.strip()]
        return value
