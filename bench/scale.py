"""Vector search at scale: exact (flat) against IVF, on synthetic 384-d vectors.

    python -m bench.scale --sizes 20000,100000,300000,1000000 --out bench/results

Data: ``--centres`` random unit centres (default 2,000); each vector is a centre plus Gaussian
noise of total norm ``--noise`` (default 1.0, so a vector's cosine with its own centre is about
0.7 and with a same-cluster neighbour about 0.5), then normalised — the shape of a real embedding
corpus, which has neighbourhoods. Uniform random unit vectors have none (every pair is almost
orthogonal) and are IVF's worst case; ``--uniform-size`` runs them at one size for comparison.
Random centres are themselves almost orthogonal, so once a cluster holds more than a few dozen
points its neighbours all sit in one or two IVF lists and IVF looks easy; ``--kind lowrank`` is
the harder check: a continuous cloud of intrinsic dimension ``--rank`` (default 24; a Gaussian
in a random 24-d subspace plus isotropic noise of norm ``--noise``), with no cluster borders for
IVF to align with.

Queries are held-out points drawn the same way (never added to the index). Per size: build time,
serialised index bytes and RSS growth for flat and IVF (``VectorIndex.build_ivf``, default nlist
about 4·√n, trained on at most 64·nlist points); single-query latency (k=10) with one FAISS
thread, p50/p95 over ``--queries`` queries; IVF recall@10 (and @40, the retrieval depth) against
the exact results for each nprobe. Builds use ``--build-threads`` threads.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import machine, write_result
from index.vectors import VectorIndex, faiss, ivf_list_count

DIM = 384
K = 10
DEPTH = 40  # Settings.dense_depth: candidates the retriever takes from FAISS
NPROBES = (8, 16, 32, 64, 128)  # default sweep; --nprobes changes it


def rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def clustered(
    n: int, centres: np.ndarray, noise: float, rng: np.random.Generator, chunk: int = 100_000
) -> np.ndarray:
    out = np.empty((n, DIM), dtype=np.float32)
    sigma = noise / np.sqrt(DIM)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        part = rng.standard_normal((m, DIM), dtype=np.float32) * np.float32(sigma)
        part += centres[rng.integers(0, len(centres), m)]
        out[start : start + m] = unit(part)
    return out


def lowrank(
    n: int, basis: np.ndarray, noise: float, rng: np.random.Generator, chunk: int = 100_000
) -> np.ndarray:
    """A continuous cloud of intrinsic dimension ``len(basis)`` (no discrete clusters)."""
    out = np.empty((n, DIM), dtype=np.float32)
    sigma = noise / np.sqrt(DIM)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        part = rng.standard_normal((m, len(basis)), dtype=np.float32) @ basis
        part += rng.standard_normal((m, DIM), dtype=np.float32) * np.float32(sigma)
        out[start : start + m] = unit(part)
    return out


def uniform(n: int, rng: np.random.Generator) -> np.ndarray:
    return unit(rng.standard_normal((n, DIM), dtype=np.float32))


def percentiles(samples_s: list[float]) -> dict[str, float]:
    arr = np.asarray(samples_s) * 1000
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 3),
        "p95_ms": round(float(np.percentile(arr, 95)), 3),
    }


def single_query_latency(
    index: VectorIndex, queries: np.ndarray, nprobe: int = 32
) -> tuple[dict[str, float], np.ndarray]:
    ids = np.empty((len(queries), K), dtype=np.int64)
    times = []
    index.search(queries[:1], K, nprobe=nprobe)  # warm caches
    for i in range(len(queries)):
        t0 = time.perf_counter()
        _, found = index.search(queries[i : i + 1], K, nprobe=nprobe)
        times.append(time.perf_counter() - t0)
        ids[i] = found[0]
    return percentiles(times), ids


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return round(hits / truth.size, 4)


def measure(
    label: str,
    vectors: np.ndarray,
    queries: np.ndarray,
    build_threads: int,
    nprobes: tuple[int, ...] = NPROBES,
) -> dict[str, Any]:
    n = len(vectors)
    ids = np.arange(n, dtype=np.int64)
    row: dict[str, Any] = {"data": label, "n": n}

    # --- flat (exact) ------------------------------------------------------------------------
    gc.collect()
    rss0 = rss_bytes()
    faiss.omp_set_num_threads(build_threads)
    t0 = time.perf_counter()
    flat = VectorIndex.empty(DIM)
    flat.add(ids, vectors)
    flat_build = time.perf_counter() - t0
    flat_rss = rss_bytes() - rss0
    truth10 = flat.search(queries, K, nprobe=1)[1]  # exact (nprobe unused); batched
    truth40 = flat.search(queries, DEPTH, nprobe=1)[1]
    faiss.omp_set_num_threads(1)
    flat_lat, flat_ids = single_query_latency(flat, queries)
    row["flat"] = {
        "build_s": round(flat_build, 3),
        "index_bytes": flat.serialized_bytes(),
        "rss_growth_bytes": flat_rss,
        **flat_lat,
        "self_recall@10": recall(flat_ids, truth10),
    }
    del flat
    gc.collect()

    # --- IVF -----------------------------------------------------------------------------------
    rss0 = rss_bytes()
    faiss.omp_set_num_threads(build_threads)
    nlist = ivf_list_count(n)
    t0 = time.perf_counter()
    ivf = VectorIndex.build_ivf(ids, vectors)
    ivf_build = time.perf_counter() - t0
    ivf_rss = rss_bytes() - rss0
    sweep = []
    for nprobe in nprobes:
        faiss.omp_set_num_threads(build_threads)
        deep = ivf.search(queries, DEPTH, nprobe=nprobe)[1]
        faiss.omp_set_num_threads(1)
        lat, found = single_query_latency(ivf, queries, nprobe=nprobe)
        sweep.append(
            {
                "nprobe": nprobe,
                **lat,
                "recall@10": recall(found, truth10),
                "recall@40": recall(deep, truth40),
            }
        )
    row["ivf"] = {
        "nlist": nlist,
        "train_points": min(n, 64 * nlist),
        "build_s": round(ivf_build, 3),
        "index_bytes": ivf.serialized_bytes(),
        "rss_growth_bytes": ivf_rss,
        "sweep": sweep,
    }
    del ivf
    gc.collect()
    return row


def best_ivf(row: dict[str, Any], target: float) -> dict[str, Any] | None:
    ok = [s for s in row["ivf"]["sweep"] if s["recall@10"] >= target]
    return min(ok, key=lambda s: s["nprobe"]) if ok else None


def recommend(rows: list[dict[str, Any]], flat_limit_ms: float, target: float) -> dict[str, Any]:
    """Crossover and the settings it implies (clustered rows only)."""
    crossover = None
    for row in rows:
        best = best_ivf(row, target)
        slow = row["flat"]["p50_ms"] > flat_limit_ms
        faster = best is not None and best["p50_ms"] < row["flat"]["p50_ms"]
        row["flat_over_limit"] = slow
        row["ivf_at_target_faster"] = faster
        if crossover is None and (slow or faster):
            crossover = row["n"]
    # Flat latency is linear in n: least squares through the measured sizes.
    ns = np.array([r["n"] for r in rows], dtype=float)
    p50 = np.array([r["flat"]["p50_ms"] for r in rows], dtype=float)
    slope, intercept = np.polyfit(ns, p50, 1) if len(rows) > 1 else (p50[0] / ns[0], 0.0)
    n_at_limit = (flat_limit_ms - intercept) / slope if slope > 0 else float("inf")
    threshold = int(max(10_000, round(n_at_limit, -4)))
    # nprobe: the smallest that meets the recall target at every measured size that would use IVF.
    big = [r for r in rows if r["n"] >= threshold] or rows[-1:]
    nprobe = None
    for candidate in [s["nprobe"] for s in rows[-1]["ivf"]["sweep"]]:
        if all(
            next(s for s in r["ivf"]["sweep"] if s["nprobe"] == candidate)["recall@10"] >= target
            for r in big
        ):
            nprobe = candidate
            break
    return {
        "flat_limit_ms": flat_limit_ms,
        "recall_target": target,
        "crossover_n_measured": crossover,
        "flat_ms_per_million": round(slope * 1e6, 2),
        "flat_n_at_limit_fit": int(n_at_limit) if np.isfinite(n_at_limit) else None,
        "ivf_threshold": threshold,
        "ivf_nprobe": nprobe,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="20000,100000,300000,1000000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--kind", choices=("clustered", "lowrank"), default="clustered")
    ap.add_argument("--centres", type=int, default=2000)
    ap.add_argument("--rank", type=int, default=24, help="intrinsic dimension for lowrank")
    ap.add_argument("--noise", type=float, default=1.0, help="noise norm relative to a centre")
    ap.add_argument("--uniform-size", type=int, default=100_000, help="0 to skip")
    ap.add_argument("--build-threads", type=int, default=2)
    ap.add_argument("--nprobes", default=",".join(map(str, NPROBES)))
    ap.add_argument("--flat-limit-ms", type=float, default=2.5)
    ap.add_argument("--recall-target", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--name", default="scale", help="result file name (without .json)")
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    nprobes = tuple(int(p) for p in args.nprobes.split(","))
    rng = np.random.default_rng(args.seed)
    if args.kind == "clustered":
        centres = unit(rng.standard_normal((args.centres, DIM), dtype=np.float32))

        def draw(n: int) -> np.ndarray:
            return clustered(n, centres, args.noise, rng)
    else:
        basis = unit(rng.standard_normal((args.rank, DIM), dtype=np.float32))

        def draw(n: int) -> np.ndarray:
            return lowrank(n, basis, args.noise, rng)

    queries = draw(args.queries)
    result: dict[str, Any] = {
        "data": {
            "dimension": DIM,
            "kind": args.kind,
            "centres": args.centres if args.kind == "clustered" else None,
            "rank": args.rank if args.kind == "lowrank" else None,
            "noise_norm": args.noise,
            "queries": args.queries,
            "k": K,
        },
        "threads": {"build": args.build_threads, "single_query_search": 1},
        "machine": f"{machine()}, faiss {faiss.__version__}",
        "load_avg_start": os.getloadavg(),
        "sizes": [],
    }
    out_file = args.out / f"{args.name}.json"
    args.out.mkdir(parents=True, exist_ok=True)
    for n in sizes:
        t0 = time.perf_counter()
        vectors = draw(n)
        gen_s = time.perf_counter() - t0
        row = measure(args.kind, vectors, queries, args.build_threads, nprobes)
        row["generate_s"] = round(gen_s, 2)
        row["peak_rss_bytes_so_far"] = _peak_rss()
        result["sizes"].append(row)
        del vectors
        gc.collect()
        out_file.write_text(json.dumps(result, indent=2) + "\n")  # partial results survive
        print(json.dumps(row), flush=True)
    if args.uniform_size:
        u_queries = uniform(args.queries, rng)
        vectors = uniform(args.uniform_size, rng)
        result["uniform"] = measure("uniform", vectors, u_queries, args.build_threads, nprobes)
        del vectors
        gc.collect()
    result["recommendation"] = recommend(result["sizes"], args.flat_limit_ms, args.recall_target)
    write_result(result, args.out, args.name)


def _peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


if __name__ == "__main__":
    main()
