"""Question latency: a cold `rag ask`, the warm in-process path, and that both answer alike.

    python -m bench.query --index /tmp/article-index --out bench/results

(a) cold: ``rag ask "<q>" --index DIR`` as a fresh process ``--cold-runs`` times (median, p95 of
wall time), next to fresh ``python -c "import sentence_transformers"`` and ``python -c pass``
processes timed the same way (``--baseline-runs``) — what the CLI would cost if it loaded torch,
and the interpreter floor. (b) warm: ``QASystem.open``, ``warm_up``, then every question of the
evaluation set for ``--rounds`` rounds; p50/p95 of the wall time of ``ask`` and of each stage of
``Answer.timings_ms``. (c) identical: for each evaluation question (the first
``--identical-max``; all by default) the answer of a cold ``rag ask --json`` equals the warm
in-process one in ``answer``, ``citations`` and ``abstained`` (timings ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import machine, write_result
from eval.dataset import load_eval_set
from rag.settings import Settings
from rag.system import QASystem

COMPARED = ("answer", "citations", "abstained")


def rag_command() -> str:
    return str(Path(sys.executable).with_name("rag"))


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    return env


def timed_run(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return wall, proc.stdout


def summary_s(samples: list[float]) -> dict[str, Any]:
    arr = np.asarray(samples)
    return {
        "runs": len(samples),
        "median_s": round(float(np.median(arr)), 3),
        "p95_s": round(float(np.percentile(arr, 95)), 3),
        "min_s": round(float(arr.min()), 3),
        "all_s": [round(s, 3) for s in samples],
    }


def summary_ms(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples)
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 2),
        "p95_ms": round(float(np.percentile(arr, 95)), 2),
        "mean_ms": round(float(arr.mean()), 2),
        "max_ms": round(float(arr.max()), 2),
    }


def compared(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: answer[key] for key in COMPARED}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--cold-runs", type=int, default=7)
    ap.add_argument("--baseline-runs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--identical-max", type=int, default=0, help="0 = every question")
    ap.add_argument("--name", default="query", help="result file name (without .json)")
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    args = ap.parse_args()
    env = child_env()
    questions = [q.question for q in load_eval_set().questions]
    rag = rag_command()
    index = str(args.index)
    result: dict[str, Any] = {
        "index": index,
        "eval_questions": len(questions),
        "machine": machine(),
        "load_avg_start": os.getloadavg(),
    }

    # (a) cold processes ---------------------------------------------------------------------------
    question = questions[0]
    cold = [
        timed_run([rag, "ask", question, "--index", index], env)[0] for _ in range(args.cold_runs)
    ]
    st = [
        timed_run([sys.executable, "-c", "import sentence_transformers"], env)[0]
        for _ in range(args.baseline_runs)
    ]
    bare = [timed_run([sys.executable, "-c", "pass"], env)[0] for _ in range(args.baseline_runs)]
    result["cold_cli"] = {"question": question, **summary_s(cold)}
    result["baseline_import_sentence_transformers"] = summary_s(st)
    result["baseline_python_startup"] = summary_s(bare)
    result["cold_cli_vs_st_import"] = round(statistics.median(cold) / statistics.median(st), 3)

    # (b) warm in-process ------------------------------------------------------------------
    t0 = time.perf_counter()
    system = QASystem.open(Settings(index_dir=args.index))
    system.warm_up()
    open_s = time.perf_counter() - t0
    stages: dict[str, list[float]] = {"wall": []}
    warm_answers: dict[str, dict[str, Any]] = {}
    try:
        for _ in range(args.rounds):
            for q in questions:
                t1 = time.perf_counter()
                answer = system.ask(q)
                stages["wall"].append((time.perf_counter() - t1) * 1000)
                for stage, ms in answer.timings_ms.items():
                    stages.setdefault(stage, []).append(ms)
                warm_answers[q] = answer.model_dump(mode="json")
    finally:
        system.close()
    result["warm"] = {
        "open_and_warm_up_s": round(open_s, 3),
        "rounds": args.rounds,
        "asks": len(stages["wall"]),
        "stages": {name: summary_ms(samples) for name, samples in stages.items()},
    }

    # (c) cold --json answers equal warm ones ------------------------------------------------
    subset = questions[: args.identical_max] if args.identical_max else questions
    mismatches = []
    for q in subset:
        _, out = timed_run([rag, "ask", q, "--index", index, "--json"], env)
        if compared(json.loads(out)) != compared(warm_answers[q]):
            mismatches.append(q)
    result["identical"] = {
        "compared_fields": list(COMPARED),
        "questions": len(subset),
        "subset": "all" if len(subset) == len(questions) else f"first {len(subset)}",
        "mismatches": len(mismatches),
        "mismatched_questions": mismatches,
    }
    write_result(result, args.out, args.name)


if __name__ == "__main__":
    main()
