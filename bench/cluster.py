"""Cluster ingest: chunks/s local vs Ray with 1 and 2 embedding actors, Ray's overhead, the
single writer's ceiling, and a projection to 10^8 passages.

    python -m bench.cluster --input ../shared/corpora/history-state-gov.jsonl --docs 30

Takes the first ``--docs`` records of ``--input`` and ingests them four ways into fresh indexes:
locally (``QASystem.build``, ONNX on all cores), on a private local Ray cluster with one actor (all
cores) and with two actors (one core each), and once more locally with the embedding replaced by
a lookup of the vectors the first run computed (everything but the model: reading, chunking,
hash checks, SQLite, FTS5, FAISS and commits = what the single writer can absorb). Every Ray index
is compared with the local one (documents, chunks and offsets, vectors to 1e-5). Ray's start-up is
timed apart from the ingest. Writes ``bench/results/cluster.json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import machine, write_result
from rag.distributed.compare import differences, max_vector_difference, read_contents
from rag.ingest import IngestReport
from rag.loaders import iter_documents
from rag.settings import Settings
from rag.system import QASystem, encoder_folder
from rag.tokens import TiktokenCounter

DIM = 384


class LookupEmbedder:
    """Vectors of texts already embedded once: measures the pipeline without the model."""

    model_name = "sentence-transformers/all-MiniLM-L6-v2"
    dimension = DIM

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.stack([self.table[t] for t in texts])

    def encode_query(self, text: str) -> np.ndarray:
        return self.table[text]


def vector_table(index_dir: Path) -> dict[str, np.ndarray]:
    contents = read_contents(index_dir)
    # chunks rows: id, doc_id, ordinal, char_start, char_end, text, …
    table = {str(c[5]): contents.chunk_vectors[int(str(c[0]))] for c in contents.chunks}
    for doc_id, ordinal, _start, _end, text in contents.sentences:
        vector = contents.sentence_vectors.get((str(doc_id), int(str(ordinal))))
        if vector is not None:
            table[str(text)] = vector
    return table


def summary(report: IngestReport, wall: float) -> dict[str, Any]:
    return {
        "documents": report.documents,
        "chunks": report.chunks,
        "sentences": report.sentences,
        "seconds": round(wall, 2),
        "chunks_per_s": round(report.chunks / wall, 2),
        "texts_per_s": round((report.chunks + report.sentences) / wall, 2),
        "embed_seconds": round(report.embed_seconds, 2),
    }


def fresh(root: Path, name: str, encoder: Path | None) -> Settings:
    index_dir = root / name
    if encoder is not None:
        shutil.copytree(encoder, encoder_folder(index_dir))
    return Settings(index_dir=index_dir)


def projection(local_cps: float, writer_cps: float, ray2_cps: float) -> dict[str, Any]:
    """Paper arithmetic for 10^8 passages from the measured rates (see README)."""
    n = 1e8
    cores_here = os.cpu_count() or 2
    per_core = local_cps / cores_here
    node_cores = 32
    out: dict[str, Any] = {
        "passages": n,
        "measured_chunks_per_s_per_core": round(per_core, 2),
        "one_machine_like_this_days": round(n / local_cps / 86400, 1),
    }
    for nodes in (10, 50, 100):
        rate = per_core * node_cores * nodes
        out[f"{nodes}_nodes_of_{node_cores}_cores_hours"] = round(n / rate / 3600, 1)
        out[f"{nodes}_nodes_of_{node_cores}_cores_chunks_per_s"] = round(rate)
    out["single_writer_ceiling_chunks_per_s"] = round(writer_cps, 1)
    out["nodes_of_32_cores_that_saturate_the_writer"] = round(writer_cps / (per_core * 32), 1)
    out["ray_2_actors_vs_local"] = round(ray2_cps / local_cps, 3)
    # Index memory: 384-d float32 chunk vectors.
    out["flat_chunk_vectors_gb"] = round(n * DIM * 4 / 1e9, 1)
    out["ivf_pq_m48_chunk_vectors_gb"] = round(n * (48 + 8) / 1e9, 1)
    out["sentence_vectors_sqlite_gb_at_5_per_chunk"] = round(5 * n * DIM * 4 / 1e9, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--input", type=Path, required=True, help="a JSONL corpus")
    ap.add_argument("--docs", type=int, default=30, help="records taken from the input")
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import ray

    from rag.distributed.ingest import ClusterOptions, build_index_on_cluster, connect

    root = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    corpus = root / "corpus.jsonl"
    with open(args.input, "rb") as src, open(corpus, "wb") as dst:
        taken = 0
        for line in src:
            if line.strip():
                dst.write(line)
                taken += 1
                if taken >= args.docs:
                    break
    result: dict[str, Any] = {
        "input": str(args.input),
        "docs": taken,
        "corpus_bytes": corpus.stat().st_size,
        "machine": machine(),
        "ray": ray.__version__,
        "load_avg_start": os.getloadavg(),
    }
    try:
        # Export the encoder once, outside every timed run.
        warm = fresh(root, "warm", None)
        QASystem.create_or_open(warm).close()  # exports the encoder
        encoder = encoder_folder(warm.index_dir)

        local = fresh(root, "local", encoder)
        t0 = time.perf_counter()
        report = QASystem.build(local, iter_documents([corpus]))
        result["local"] = summary(report, time.perf_counter() - t0)
        print("local", result["local"], flush=True)

        t0 = time.perf_counter()
        connect(ClusterOptions.from_settings(Settings(ray_address="local")))  # 3 logical CPUs
        result["ray_start_s"] = round(time.perf_counter() - t0, 2)
        try:
            for actors, cpus in ((1, 2.0), (2, 1.0)):
                settings = fresh(root, f"ray{actors}", encoder)
                options = ClusterOptions.from_settings(settings, actors=actors, actor_cpus=cpus)
                t0 = time.perf_counter()
                report = build_index_on_cluster(settings, [corpus], options)
                row = summary(report, time.perf_counter() - t0)
                row["differences_from_local"] = differences(local.index_dir, settings.index_dir)
                row["max_vector_difference"] = max_vector_difference(
                    local.index_dir, settings.index_dir
                )
                result[f"ray_{actors}_actor{'s' if actors > 1 else ''}"] = row
                print(f"ray {actors}", row, flush=True)
        finally:
            ray.shutdown()

        table = vector_table(local.index_dir)
        writer_only = fresh(root, "writer", encoder)
        # An empty index with the local one's encoder, then ingest with vectors looked up.
        QASystem.create_or_open(writer_only).close()
        counter = TiktokenCounter()
        with QASystem.open(writer_only, encoder=LookupEmbedder(table)) as system:
            t0 = time.perf_counter()
            report = system.ingest(iter_documents([corpus]), counter)
            result["writer_only"] = summary(report, time.perf_counter() - t0)
        print("writer only", result["writer_only"], flush=True)

        lc = result["local"]["chunks_per_s"]
        r1 = result["ray_1_actor"]
        # The machine is shared, so wall times swing with its load; the time *not* spent inside
        # the model is steadier: Ray's overhead is how much more of it the Ray path needs.
        lo = result["local"]
        result["local_non_embed_s"] = round(lo["seconds"] - lo["embed_seconds"], 2)
        result["ray_1_actor_non_embed_s"] = round(r1["seconds"] - r1["embed_seconds"], 2)
        result["ray_overhead_ms_per_chunk"] = round(
            (result["ray_1_actor_non_embed_s"] - result["local_non_embed_s"])
            / max(1, r1["chunks"])
            * 1000,
            2,
        )
        result["ray_overhead_ms_per_chunk_incl_start"] = round(
            result["ray_overhead_ms_per_chunk"]
            + result["ray_start_s"] / max(1, r1["chunks"]) * 1000,
            2,
        )
        result["projection"] = projection(
            lc, result["writer_only"]["chunks_per_s"], result["ray_2_actors"]["chunks_per_s"]
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    write_result(result, args.out, "cluster")


if __name__ == "__main__":
    main()
