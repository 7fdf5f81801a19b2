"""Ingest throughput: the whole pipeline against the raw model on the very texts it embeds.

    python -m bench.ingest ../shared/corpora/history-state-gov.jsonl --out bench/results

Measures, in one run: (1) end-to-end `QASystem.ingest` into a fresh folder (loading, chunking,
embedding, SQLite/FTS5/FAISS writes, commits) — the one-time ONNX export is timed separately;
(2) raw ONNX Runtime `encode` of exactly the chunk and sentence texts the index holds (the
model the pipeline runs); (3) sentence-transformers `model.encode` on a fixed sample of the same
texts (the torch baseline; the whole set would take as long again); (4) re-ingest of the
unchanged corpus.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import machine, write_result
from rag.loaders import iter_documents
from rag.settings import Settings
from rag.system import QASystem, embed_threads
from rag.tokens import TiktokenCounter


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    ap.add_argument("--st-sample", type=int, default=600, help="chunks for the torch baseline")
    ap.add_argument("--keep", type=Path, help="build the index here and keep it (must not exist)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    index_dir = args.keep if args.keep else work / "index"
    if QASystem.exists(index_dir):
        raise SystemExit(f"{index_dir} already holds an index; the benchmark needs a fresh folder")
    settings = Settings(index_dir=index_dir)
    counter = TiktokenCounter()
    result: dict[str, object] = {"inputs": [str(p) for p in args.paths]}

    t0 = time.perf_counter()
    system = QASystem.create_or_open(settings, counter=counter)
    encoder = system.encoder
    result["export_s"] = round(time.perf_counter() - t0, 2)

    t0 = time.perf_counter()
    report = system.ingest(iter_documents(args.paths), counter)
    wall = time.perf_counter() - t0
    chunks, sents = system.texts()
    n_chars = report.characters
    result.update(
        documents=report.documents,
        chunks=report.chunks,
        sentences=report.sentences,
        characters=n_chars,
        pipeline_s=round(wall, 2),
        pipeline_embed_s=round(report.embed_seconds, 2),
        pipeline_chunks_per_s=round(report.chunks / wall, 2),
        pipeline_docs_per_s=round(report.documents / wall, 3),
        pipeline_mb_per_s=round(n_chars / 1e6 / wall, 4),
    )

    batch = settings.embed_batch_size
    raw_runs = []
    for _ in range(2):  # twice, the load of the machine drifts
        t0 = time.perf_counter()
        encoder.encode(chunks, batch_size=batch)
        encoder.encode(sents, batch_size=batch)
        raw_runs.append(time.perf_counter() - t0)
    raw = min(raw_runs)
    result.update(
        raw_onnx_s=[round(r, 2) for r in raw_runs],
        raw_onnx_chunks_per_s=round(len(chunks) / raw, 2),
    )
    result["pipeline_overhead_vs_raw_onnx"] = round(wall / raw - 1, 4)

    from rag.embedding import SentenceTransformerEmbedder

    rng = random.Random(0)
    k = min(args.st_sample, len(chunks))
    idx = sorted(rng.sample(range(len(chunks)), k))
    share = k / len(chunks)
    s_idx = sorted(rng.sample(range(len(sents)), min(len(sents), round(share * len(sents)))))
    st = SentenceTransformerEmbedder(settings.model_path)
    st.warm_up()
    t0 = time.perf_counter()
    st.encode([chunks[i] for i in idx], batch_size=64)
    st.encode([sents[i] for i in s_idx], batch_size=64)
    st_s = (time.perf_counter() - t0) / share  # projected to the whole set
    result.update(
        st_sample_chunks=k,
        st_projected_s=round(st_s, 1),
        st_chunks_per_s=round(len(chunks) / st_s, 2),
        pipeline_vs_st_speedup=round(st_s / wall, 3),
    )

    t0 = time.perf_counter()
    again = system.ingest(iter_documents(args.paths), counter)
    system.close()
    result.update(reingest_s=round(time.perf_counter() - t0, 2), reingest_unchanged=again.unchanged)
    result.update(
        machine=machine(),
        onnx_threads=embed_threads(settings),
    )
    shutil.rmtree(work, ignore_errors=True)
    write_result(result, args.out, "ingest")


if __name__ == "__main__":
    main()
