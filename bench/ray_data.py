"""Ray Data vs the actor pool of ``rag ingest --ray`` on the same embedding work.

    pip install 'ray[data]'      # Ray Data needs pyarrow and pandas; the `ray` extra does not
    python -m bench.ray_data --input ../shared/corpora/history-state-gov.jsonl --docs 12

Chunks the first ``--docs`` records, then embeds the chunk texts twice on one private local Ray
cluster with two 1-CPU embedding workers each: (1) the ingest path's actor pool
(:class:`rag.distributed.ingest.EmbedActor`, groups of 256 texts, results in order) and (2)
``ray.data.from_items(...).map_batches(callable class, batch_size=256, concurrency=2)`` with
``preserve_order``. Reports wall time, texts/s and the largest difference between the two sets of
vectors. Writes ``bench/results/ray_data.json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import machine, write_result
from index.records import Document
from rag.embedding.onnx_runtime import ENCODER_FILES, OnnxQueryEncoder
from rag.ingest import prepare
from rag.loaders import iter_documents
from rag.settings import Settings
from rag.system import QASystem, encoder_folder
from rag.tokens import TiktokenCounter

GROUP = 256


class DataEmbedder:
    """Ray Data callable class: one ONNX session per actor, like EmbedActor."""

    def __init__(self, files: list[Any]) -> None:
        import ray

        self.encoder = OnnxQueryEncoder.from_files(ray.get(files[0]), threads=1)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        texts = [str(t) for t in batch["text"]]
        return {"i": batch["i"], "vector": list(self.encoder.encode(texts, batch_size=32))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--input", type=Path, required=True)
    ap.add_argument("--docs", type=int, default=12)
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    args = ap.parse_args()
    import ray
    import ray.data

    from rag.distributed.ingest import ClusterOptions, EmbedActor, connect

    root = Path(tempfile.mkdtemp(prefix="bench-raydata-"))
    try:
        settings = Settings(index_dir=root / "warm")
        with QASystem.create_or_open(settings) as system:  # exports the encoder once
            options = system.ingest_options()  # chunking and batching as configured
        folder = encoder_folder(settings.index_dir)
        counter = TiktokenCounter()
        texts: list[str] = []
        for n, item in enumerate(iter_documents([args.input])):
            if n >= args.docs:
                break
            if isinstance(item, Document):
                texts += [c.text for c in prepare(item, counter, options).chunks]
        result: dict[str, Any] = {
            "texts": len(texts),
            "docs": args.docs,
            "machine": machine(),
            "ray": ray.__version__,
            "load_avg_start": os.getloadavg(),
        }
        connect(ClusterOptions.from_settings(Settings(ray_address="local")))
        try:
            files_ref = ray.put({name: (folder / name).read_bytes() for name in ENCODER_FILES})

            t0 = time.perf_counter()
            actor_cls: Any = ray.remote(EmbedActor).options(num_cpus=1)
            actors: list[Any] = [actor_cls.remote([files_ref], 1, False) for _ in range(2)]
            ray.get([a.ping.remote() for a in actors])
            refs = [
                actors[(start // GROUP) % 2].embed.remote(texts[start : start + GROUP], [], options)
                for start in range(0, len(texts), GROUP)
            ]
            pool_vectors = np.concatenate([ray.get(r)[0] for r in refs])
            wall = time.perf_counter() - t0
            result["actor_pool"] = {"seconds": round(wall, 2), "texts_per_s": len(texts) / wall}
            for a in actors:
                ray.kill(a)

            ctx = ray.data.DataContext.get_current()
            ctx.execution_options.preserve_order = True
            t0 = time.perf_counter()
            ds = ray.data.from_items([{"i": i, "text": t} for i, t in enumerate(texts)])
            out = ds.map_batches(
                DataEmbedder,
                batch_size=GROUP,
                concurrency=2,
                num_cpus=1,
                fn_constructor_args=([files_ref],),
            ).take_all()
            wall = time.perf_counter() - t0
            data_vectors = np.stack([np.asarray(r["vector"]) for r in out])
            order = [int(r["i"]) for r in out]
            result["ray_data"] = {
                "seconds": round(wall, 2),
                "texts_per_s": len(texts) / wall,
                "in_order": order == list(range(len(texts))),
            }
            result["max_vector_difference"] = float(
                np.abs(pool_vectors[order] - data_vectors).max()
            )
        finally:
            ray.shutdown()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    write_result(result, args.out, "ray_data")


if __name__ == "__main__":
    main()
