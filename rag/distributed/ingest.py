"""``rag ingest --ray ADDRESS``: read and chunk on Ray tasks, embed on Ray actors, write here.

The driver process is the index's single writer. It plans work units (metadata only), keeps a
bounded window of read tasks in flight and consumes their results in input order; each document
goes through :func:`rag.ingest.drive` exactly as in a local ingest: content-hash check (unchanged
documents are never sent to an actor), language (detected on the worker, or the stored one for an
unchanged document), failure and skip accounting, the same read-ahead plan and progress events,
the same embedding groups, the same upserts and commits.
Only the embedding of a group runs elsewhere: on the least-loaded actor of a pool, several groups
in flight at once, written back strictly in submission order.

Failures: read tasks are retried by Ray (``max_retries``); embedding actors are restarted
(``max_restarts``) and their in-flight calls retried (``max_task_retries``), so a worker or node
that dies costs only the work it held. A driver that dies leaves the index at its last commit
(see :mod:`index.store`); running the same command again re-embeds only what was not committed.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from index.records import Document
from rag.distributed.units import (
    DEFAULT_FILES_PER_UNIT,
    DEFAULT_RANGE_BYTES,
    JsonlRange,
    Unit,
    UnitResult,
    plan_units,
    read_unit,
)
from rag.embedding.onnx_runtime import ENCODER_FILES, OnnxQueryEncoder
from rag.errors import ClusterError, ConfigurationError
from rag.ingest import (
    IngestEvent,
    IngestOptions,
    IngestReport,
    IngestRun,
    PendingDocument,
    Prepared,
    drive,
    embed_texts,
    failures_only_report,
    group_texts,
    read_head,
)
from rag.loaders import LoadFailure
from rag.loaders.duplicates import DuplicateIds
from rag.settings import Settings
from rag.system import QASystem, encoder_folder, ingest_options
from rag.tokens import TiktokenCounter

logger = logging.getLogger(__name__)

_INSTALL_HINT = "install the optional extra: pip install -e '.[ray]'"


class ClusterOptions(BaseModel):
    """How a cluster ingest uses Ray. Built from :class:`Settings` by :meth:`from_settings`."""

    # The five knobs that Settings holds (ray_address, ray_actors, ray_actor_cpus, ray_actor_gpus,
    # ray_connect_timeout_s) have their defaults there only; the rest are the cluster run's own.
    address: str = Field(
        description="'local' starts a private local cluster; 'auto' joins a running one; "
        "or host:port / ray://host:port of a head node.",
    )
    actors: int = Field(ge=1, description="Embedding actors, each with one ONNX session.")
    actor_cpus: float = Field(gt=0, description="CPUs reserved per actor (= ONNX threads).")
    actor_gpus: float | None = Field(
        ge=0, description="GPUs per actor; None: 1 when the cluster has GPUs, else 0."
    )
    connect_timeout_s: float = Field(
        gt=0, description="Seconds to wait for a HOST:PORT head node to accept a connection."
    )
    local_cpus: int | None = Field(
        2, ge=1, description="CPUs of a cluster started with address 'local' (None: all)."
    )
    local_node_ip: str = Field(
        "127.0.0.2",
        description="Address a cluster started with 'local' binds to: a loopback one keeps it "
        "private (Ray swaps 127.0.0.1 itself for the machine's network address).",
    )
    local_object_store_mb: int | None = Field(
        None, ge=64, description="Object store of a 'local' cluster; None: Ray's default."
    )
    read_cpus: float = Field(0.5, gt=0, description="CPUs reserved per read task.")
    read_ahead: int = Field(8, ge=1, description="Read tasks in flight at once.")
    groups_in_flight: int = Field(
        0, ge=0, description="Embedding groups in flight at once; 0: two per actor."
    )
    range_bytes: int = Field(DEFAULT_RANGE_BYTES, ge=1, description="JSONL bytes per read task.")
    files_per_unit: int = Field(DEFAULT_FILES_PER_UNIT, ge=1, description="Files per read task.")
    max_retries: int = Field(3, ge=0, description="Retries of a read task or an embedding call.")
    crash_once_marker: Path | None = Field(
        None,
        description="Failure drill: the first read task and the first embedding call each kill "
        "their worker process (os._exit) unless MARKER.read / MARKER.embed exist; they create "
        "them first, so Ray's retry succeeds. For tests and drills only.",
    )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ClusterOptions:
        values: dict[str, Any] = {
            "address": settings.ray_address or "local",
            "actors": settings.ray_actors,
            "actor_cpus": settings.ray_actor_cpus,
            "actor_gpus": settings.ray_actor_gpus,
            "connect_timeout_s": settings.ray_connect_timeout_s,
        }
        values.update(overrides)
        return cls(**values)


# --- code that runs on the cluster ----------------------------------------------------------------
_COUNTER: TiktokenCounter | None = None


def _worker_counter() -> TiktokenCounter:
    global _COUNTER
    if _COUNTER is None:
        _COUNTER = TiktokenCounter()
    return _COUNTER


def _crash_once(marker: Path | None, suffix: str) -> None:
    if marker is None:
        return
    flag = Path(f"{marker}.{suffix}")
    if flag.exists():
        return
    flag.touch()
    logger.warning("failure drill: killing worker process %d", os.getpid())
    os._exit(17)


def read_task(
    unit: Unit, options: IngestOptions, crash_once_marker: Path | None = None
) -> UnitResult:
    """Ray task body: load, parse and chunk one unit."""
    _crash_once(crash_once_marker, "read")
    return read_unit(unit, _worker_counter(), options)


class EmbedActor:
    """Ray actor body: one ONNX Runtime session over the index's exported encoder.

    The encoder files travel through the object store, so a node needs no access to the index
    folder; each actor loads them with :meth:`OnnxQueryEncoder.from_files`, which leaves nothing
    on disk.
    """

    def __init__(
        self,
        files: list[Any],
        threads: int,
        use_gpu: bool,
        crash_once_marker: Path | None = None,
    ) -> None:
        import ray

        # ``files`` wraps the object ref of {name: bytes}: a ref nested in a list is not resolved
        # by Ray, the actor fetches it, and a restarted actor fetches it again.
        providers = ("CUDAExecutionProvider", "CPUExecutionProvider") if use_gpu else None
        self.encoder = OnnxQueryEncoder.from_files(
            ray.get(files[0]), threads=threads, providers=providers
        )
        self.crash_once_marker = crash_once_marker

    def embed(
        self, chunk_texts: list[str], sentence_texts: list[str], options: IngestOptions
    ) -> tuple[np.ndarray, np.ndarray | None, float]:
        _crash_once(self.crash_once_marker, "embed")
        t0 = time.perf_counter()
        chunk_vectors, sentence_vectors = embed_texts(
            self.encoder, chunk_texts, sentence_texts, options
        )
        return chunk_vectors, sentence_vectors, time.perf_counter() - t0

    def ping(self) -> tuple[str, int]:
        import ray

        return ray.get_runtime_context().get_node_id(), os.getpid()


# --- the driver -----------------------------------------------------------------------------------
def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigurationError(
            "`--ray` needs Ray, which is not installed", hint=_INSTALL_HINT
        ) from exc
    return ray


def probe_head(address: str, timeout_s: float) -> None:
    """Raise :class:`ConfigurationError` unless the head node at ``HOST:PORT`` (or
    ``ray://HOST:PORT``) accepts a TCP connection within ``timeout_s``: ``ray.init`` retries an
    unreachable address for minutes, logging all the while."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except (OSError, ValueError) as exc:
        reason = (
            f"no answer in {timeout_s:g} s"
            if isinstance(exc, TimeoutError)
            else " ".join(str(getattr(exc, "strerror", None) or exc).split())
        )
        raise ConfigurationError(
            f"cannot reach a Ray cluster at {address!r}: {reason}",
            hint="check the head node's address and port (ray start --head prints it), "
            "or use --ray local",
        ) from exc


def connect(options: ClusterOptions) -> tuple[Any, bool]:
    """``ray.init`` for ``options.address``: the ray module, and whether this call connected
    (so the caller disconnects; a driver already connected keeps its connection). A HOST:PORT
    address is probed first, so an unreachable one fails within ``connect_timeout_s``."""
    ray = _ray()
    if ray.is_initialized():
        return ray, False
    if options.address not in ("local", "auto"):
        probe_head(options.address, options.connect_timeout_s)
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.WARNING,
    }
    if options.address == "local":
        # Logical CPUs: room for every actor plus one read task, even on a small machine.
        need = math.ceil(options.actors * options.actor_cpus + options.read_cpus)
        kwargs["num_cpus"] = max(options.local_cpus or os.cpu_count() or 1, need)
        kwargs["_node_ip_address"] = options.local_node_ip
        if options.local_object_store_mb is not None:
            kwargs["object_store_memory"] = options.local_object_store_mb * 1024 * 1024
    try:
        ray.init(address=options.address, **kwargs)
    except ConnectionError as exc:
        raise ConfigurationError(
            f"cannot reach a Ray cluster at {options.address!r}: {exc}",
            hint="start one with `ray start --head`, or use --ray local",
        ) from exc
    return ray, True


def _check_resources(ray: Any, options: ClusterOptions, gpus: float) -> None:
    total = ray.cluster_resources()
    cpus = options.actors * options.actor_cpus + options.read_cpus
    if total.get("CPU", 0) < cpus or total.get("GPU", 0) < options.actors * gpus:
        raise ConfigurationError(
            f"the cluster has {total.get('CPU', 0):g} CPUs and {total.get('GPU', 0):g} GPUs; "
            f"{options.actors} actors and a read task need {cpus:g} CPUs and "
            f"{options.actors * gpus:g} GPUs",
            hint="use fewer actors (--ray-actors) or add nodes",
        )


@dataclass
class _ActorPool:
    """Embedding actors; each call goes to the actor with the fewest calls in flight."""

    actors: list[Any]
    busy: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.busy = [0] * len(self.actors)

    def submit(
        self, chunk_texts: list[str], sentence_texts: list[str], options: IngestOptions
    ) -> tuple[int, Any]:
        i = min(range(len(self.actors)), key=lambda j: self.busy[j])
        self.busy[i] += 1
        return i, self.actors[i].embed.remote(chunk_texts, sentence_texts, options)

    def done(self, i: int) -> None:
        self.busy[i] -= 1


@dataclass
class _ClusterRun(IngestRun):
    """:class:`IngestRun` whose groups are embedded by actors, several in flight at once, and
    written back in the order they were formed."""

    ray: Any = None
    pool: _ActorPool | None = None
    max_in_flight: int = 2
    in_flight: deque[tuple[list[PendingDocument], int, Any]] = field(default_factory=deque)

    def flush(self, group: list[PendingDocument]) -> None:
        if not group:
            return
        assert self.pool is not None
        chunk_texts, sentence_texts = group_texts(group, self.options)
        i, ref = self.pool.submit(chunk_texts, sentence_texts, self.options)
        self.in_flight.append((group, i, ref))
        while len(self.in_flight) > self.max_in_flight:
            self._write_next()
        while self.in_flight and self._head_ready():
            self._write_next()

    def _head_ready(self) -> bool:
        ready, _ = self.ray.wait([self.in_flight[0][2]], timeout=0)
        return bool(ready)

    def _write_next(self) -> None:
        assert self.pool is not None
        group, i, ref = self.in_flight.popleft()
        chunk_vectors, sentence_vectors, seconds = _get(self.ray, ref, "an embedding call")
        self.pool.done(i)
        self.report.embed_seconds += seconds
        self.done_chunks += sum(len(p.chunks) for p in group)
        self.emit(IngestEvent("embedded", done_chunks=self.done_chunks))
        self.write(group, chunk_vectors, sentence_vectors)

    def finish(self) -> None:
        while self.in_flight:
            self._write_next()


def _get(ray: Any, ref: Any, what: str) -> Any:
    """``ray.get`` with Ray's failures turned into :class:`ClusterError`."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise ClusterError(
            f"{what} failed on the cluster: {lines[-1] if lines else type(exc).__name__}",
            hint="the index keeps its last commit; run the same command again to resume",
        ) from exc


def _ordered_results(
    ray: Any,
    remote_read: Any,
    units: Iterator[Unit],
    options: IngestOptions,
    read_ahead: int,
    marker: Path | None,
) -> Iterator[tuple[Unit, UnitResult]]:
    window: deque[tuple[Unit, Any]] = deque()
    for unit in units:
        window.append((unit, remote_read.remote(unit, options, marker)))
        if len(window) >= read_ahead:
            head, ref = window.popleft()
            yield head, _get(ray, ref, "a read task")
    while window:
        head, ref = window.popleft()
        yield head, _get(ray, ref, "a read task")


def stream_items(
    results: Iterator[tuple[Unit, UnitResult]],
) -> Iterator[tuple[Document | LoadFailure, Prepared | None]]:
    """Unit results in order → the item stream of :func:`rag.loaders.iter_documents` (file line
    numbers, one failure per unreadable or empty JSONL file, duplicate ids as failures), each
    document with its sentences and chunks."""
    ids = DuplicateIds()
    line_base = 0
    seen_any = False
    file_failed = False
    for unit, result in results:
        rng = unit if isinstance(unit, JsonlRange) else None
        if rng is not None and rng.start == 0:
            line_base, seen_any, file_failed = 0, False, False
        for (item, prepared), line_no in zip(result.items, result.line_numbers, strict=True):
            record = None if line_no is None else line_base + line_no
            if isinstance(item, LoadFailure):
                if rng is not None and record is None:
                    if file_failed:
                        continue
                    file_failed = True
                elif record is not None:
                    item = item.model_copy(update={"record": record})
                yield item, None
                continue
            label = rng.path if rng is not None else str(item.source)
            origin = f"{label} line {record}" if record is not None else label
            duplicate = ids.claim(item.id, origin)
            if duplicate is not None:
                yield LoadFailure(path=label, reason=duplicate, record=record), None
                continue
            yield item, prepared
        if rng is not None:
            line_base += result.lines
            seen_any = seen_any or result.seen_any
            if rng.last and not seen_any and not file_failed:
                yield LoadFailure(path=rng.path, reason="empty file"), None


def build_index_on_cluster(
    settings: Settings,
    paths: Sequence[Path],
    options: ClusterOptions,
    *,
    on_event: Callable[[IngestEvent], None] | None = None,
    on_export: Callable[[], None] | None = None,
) -> IngestReport:
    """Ingest ``paths`` into ``settings.index_dir`` on a Ray cluster; same index as
    :meth:`rag.system.QASystem.build` over :func:`rag.loaders.iter_documents` of the same paths.

    As there, inputs are read up to the first loadable document first: when there is none, the
    failures are reported and no index is created or opened, and no model is loaded."""
    started = time.perf_counter()
    ray, connected = connect(options)
    actors: list[Any] = []
    system: QASystem | None = None
    try:
        counter = TiktokenCounter()
        # Units are chunked as configured: a new index takes its chunking from the settings and
        # QASystem.create_or_open refuses an existing index chunked otherwise (checked again below).
        read_opts = ingest_options(None, settings)
        remote_read = ray.remote(read_task).options(
            num_cpus=options.read_cpus, max_retries=options.max_retries
        )
        marker = options.crash_once_marker
        units = plan_units(
            paths, range_bytes=options.range_bytes, files_per_unit=options.files_per_unit
        )
        results = _ordered_results(ray, remote_read, units, read_opts, options.read_ahead, marker)
        head, rest, found = read_head(stream_items(results), lambda entry: entry[0])
        if not found:
            failures = [item for item, _ in head if isinstance(item, LoadFailure)]
            return failures_only_report(failures, started, on_event)
        system = QASystem.create_or_open(settings, counter=counter, on_export=on_export)
        ingest_opts = system.ingest_options()
        if (ingest_opts.chunk_tokens, ingest_opts.overlap_sentences) != (
            read_opts.chunk_tokens,
            read_opts.overlap_sentences,
        ):
            raise ConfigurationError(
                f"the index {settings.index_dir} is chunked differently from the settings",
                hint="ingest with the index's chunking (see `rag stats`)",
            )
        folder = encoder_folder(settings.index_dir)
        files = {name: (folder / name).read_bytes() for name in ENCODER_FILES}
        gpus = options.actor_gpus
        if gpus is None:
            gpus = 1.0 if ray.cluster_resources().get("GPU", 0) >= options.actors else 0.0
        _check_resources(ray, options, gpus)
        actor_cls = ray.remote(EmbedActor).options(
            num_cpus=options.actor_cpus,
            num_gpus=gpus,
            max_restarts=options.max_retries,
            max_task_retries=options.max_retries,
            scheduling_strategy="SPREAD",  # one actor per node before two on any
        )
        files_ref = ray.put(files)
        threads = max(1, int(options.actor_cpus))
        actors += [
            actor_cls.remote([files_ref], threads, gpus > 0, marker) for _ in range(options.actors)
        ]
        placed = _get(ray, [a.ping.remote() for a in actors], "starting the embedding actors")
        nodes = sorted({node for node, _ in placed})
        logger.info(
            "%d embedding actors on %d node(s): %s",
            len(actors),
            len(nodes),
            ", ".join(f"{node[:8]} (pid {pid})" for node, pid in placed),
        )
        prepared = time.perf_counter()
        with system.writing() as writer:
            run = _ClusterRun(
                writer,
                system.encoder,
                counter,
                ingest_opts,
                on_event or (lambda _e: None),
                ray=ray,
                pool=_ActorPool(actors),
                max_in_flight=options.groups_in_flight or 2 * options.actors,
            )
            report = drive(run, itertools.chain(head, rest))
        report.prepare_seconds = prepared - started
        return report
    finally:
        if system is not None:
            system.close()
        for actor in actors:
            ray.kill(actor)
        if connected:
            ray.shutdown()
