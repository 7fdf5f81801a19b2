"""Serving replicas: N `rag serve` processes over one index folder behind a round-robin client.

    python -m bench.replicas --index .rag/index --replicas 1,2 --max-seconds 30

For each replica count, starts that many ``rag serve`` processes on free loopback ports over the
same index, sends POST /ask (the evaluation questions in turn) round-robin across them with at
most ``--concurrency`` in flight for ``--max-seconds``, and reports requests/s and p50/p95.
Then checks that a document written through replica 1 is readable through replica 2 at once
(its next snapshot) and measures how long that took. Servers are stopped whatever happens.
Writes ``bench/results/replicas.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import latency_summary, machine, write_result
from bench.load import free_port, rss_bytes, start_server, stop_server, wait_ready
from eval.dataset import load_eval_set


async def round_robin_load(
    bases: list[str], questions: list[str], *, concurrency: int, max_seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    per_base = dict.fromkeys(bases, 0)
    targets = itertools.cycle(bases)
    order = itertools.cycle(questions)
    deadline = time.perf_counter() + max_seconds

    async def worker(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            base = next(targets)
            t0 = time.perf_counter()
            try:
                resp = await client.post(f"{base}/ask", json={"question": next(order)})
                if resp.status_code == 200:
                    latencies.append(time.perf_counter() - t0)
                    per_base[base] += 1
                else:
                    errors.append(f"{resp.status_code}: {resp.text[:200]}")
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    t0 = time.perf_counter()
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    wall = time.perf_counter() - t0
    return {
        "ok": len(latencies),
        "errors": len(errors),
        "error_examples": errors[:3],
        **latency_summary(latencies, wall),
        "answered_per_replica": list(per_base.values()),
    }


def visibility(bases: list[str]) -> dict[str, Any]:
    """Write through the first replica, read through the last: how soon is it visible?"""
    doc_id = f"replica-check-{os.getpid()}"
    text = "Replica check: Norway and Chile signed a fisheries accord in Oslo in May 2021."
    with httpx.Client(timeout=60) as http:
        t0 = time.perf_counter()
        created = http.post(f"{bases[0]}/documents", json={"id": doc_id, "text": text})
        t_write = time.perf_counter() - t0
        seen = http.get(f"{bases[-1]}/documents/{doc_id}")
        t_seen = time.perf_counter() - t0
        deleted = http.delete(f"{bases[-1]}/documents/{doc_id}")
        gone = http.get(f"{bases[0]}/documents/{doc_id}")
    return {
        "write_status": created.status_code,
        "write_ms": round(t_write * 1000, 1),
        "visible_in_other_replica": seen.status_code == 200,
        "visible_after_ms": round(t_seen * 1000, 1),
        "delete_status": deleted.status_code,
        "gone_in_first_replica": gone.status_code == 404,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--replicas", default="1,2", help="comma-separated replica counts")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--max-seconds", type=float, default=30.0)
    ap.add_argument("--ready-timeout", type=float, default=180.0)
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    args = ap.parse_args()
    questions = [q.question for q in load_eval_set().questions]
    args.out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "index": str(args.index),
        "concurrency": args.concurrency,
        "max_seconds": args.max_seconds,
        "machine": machine(),
        "load_avg_start": os.getloadavg(),
        "runs": [],
    }
    for count in [int(c) for c in args.replicas.split(",")]:
        procs: list[subprocess.Popen[bytes]] = []
        bases: list[str] = []
        try:
            for i in range(count):
                port = free_port()
                log = args.out / f"replica-{i}.log"
                procs.append(start_server(args.index, port, log))
                bases.append(f"http://127.0.0.1:{port}")
                wait_ready(procs[-1], bases[-1], args.ready_timeout, log)
            run: dict[str, Any] = {"replicas": count}
            run.update(
                asyncio.run(
                    round_robin_load(
                        bases,
                        questions,
                        concurrency=args.concurrency,
                        max_seconds=args.max_seconds,
                    )
                )
            )
            run["rss_mb"] = [round((rss_bytes(p.pid) or 0) / 2**20, 1) for p in procs]
            if count > 1:
                run["visibility"] = visibility(bases)
            result["runs"].append(run)
            print(json.dumps(run), flush=True)
        finally:
            for proc in procs:
                stop_server(proc)
    write_result(result, args.out, "replicas")


if __name__ == "__main__":
    main()
