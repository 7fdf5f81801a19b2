"""HTTP load: `rag serve` on loopback under bounded concurrent POST /ask, and its memory.

    python -m bench.load --index /tmp/article-index --out bench/results

Starts ``rag serve --index DIR --host 127.0.0.1 --port P`` (a free port unless ``--port``), waits
for ``GET /health``, then sends ``--requests`` POST /ask (the evaluation questions in turn) with
at most ``--concurrency`` in flight, stopping early at ``--max-seconds``. Reports requests/s,
p50/p95 latency, errors (non-200 or transport failures) and the server's RSS (VmRSS) sampled
every second: first, max, last. The server is stopped at the end whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import latency_summary, machine, write_result
from eval.dataset import load_eval_set


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def start_server(index: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    rag = str(Path(sys.executable).with_name("rag"))
    cmd = [rag, "serve", "--index", str(index), "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "wb") as fh:
        return subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)


def wait_ready(proc: subprocess.Popen[bytes], base: str, timeout_s: float, log: Path) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout_s:
        if proc.poll() is not None:
            raise SystemExit(f"rag serve exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"rag serve not ready after {timeout_s} s:\n{log.read_text()[-2000:]}")


def stop_server(proc: subprocess.Popen[bytes]) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode


async def run_load(
    base: str,
    questions: list[str],
    *,
    pid: int,
    requests: int,
    concurrency: int,
    max_seconds: float,
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    rss: list[int] = []
    sem = asyncio.Semaphore(concurrency)
    order = itertools.cycle(questions)
    deadline = time.perf_counter() + max_seconds
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            value = rss_bytes(pid)
            if value is not None:
                rss.append(value)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=1.0)

    async def one(client: httpx.AsyncClient, question: str) -> None:
        async with sem:
            if time.perf_counter() > deadline:
                return
            t0 = time.perf_counter()
            try:
                resp = await client.post(f"{base}/ask", json={"question": question})
                if resp.status_code != 200:
                    errors.append(f"{resp.status_code}: {resp.text[:200]}")
                else:
                    latencies.append(time.perf_counter() - t0)
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    sampler = asyncio.create_task(sample())
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    t0 = time.perf_counter()
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        await asyncio.gather(*(one(client, next(order)) for _ in range(requests)))
    wall = time.perf_counter() - t0
    done.set()
    await sampler
    return {
        "requests_sent": len(latencies) + len(errors),
        "ok": len(latencies),
        "errors": len(errors),
        "error_examples": errors[:5],
        **latency_summary(latencies, wall),
        "max_ms": round(max(latencies, default=0.0) * 1000, 1),
        "rss_samples": len(rss),
        "rss_first_mb": round(rss[0] / 2**20, 1) if rss else None,
        "rss_max_mb": round(max(rss) / 2**20, 1) if rss else None,
        "rss_last_mb": round(rss[-1] / 2**20, 1) if rss else None,
        "rss_mb_per_second": [round(r / 2**20, 1) for r in rss],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--port", type=int, default=0, help="0 = any free port")
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--ready-timeout", type=float, default=180.0)
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    args = ap.parse_args()
    questions = [q.question for q in load_eval_set().questions]
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "load-server.log"
    result: dict[str, Any] = {
        "index": str(args.index),
        "concurrency": args.concurrency,
        "requests": args.requests,
        "max_seconds": args.max_seconds,
        "machine": machine(),
        "load_avg_start": os.getloadavg(),
    }
    proc = start_server(args.index, port, log)
    try:
        result["ready_s"] = round(wait_ready(proc, base, args.ready_timeout, log), 2)
        result["rss_ready_mb"] = round((rss_bytes(proc.pid) or 0) / 2**20, 1)
        result.update(
            asyncio.run(
                run_load(
                    base,
                    questions,
                    pid=proc.pid,
                    requests=args.requests,
                    concurrency=args.concurrency,
                    max_seconds=args.max_seconds,
                )
            )
        )
    finally:
        result["server_exit_code"] = stop_server(proc)
    write_result(result, args.out, "load")


if __name__ == "__main__":
    main()
