"""What every benchmark records: the machine, its load, latency percentiles, the result file."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def machine() -> str:
    """The CPU architecture, core count and Python version of this machine."""
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"


def latency_summary(latencies_s: Sequence[float], wall_s: float) -> dict[str, Any]:
    """Wall time, answered requests per second and p50/p95 in milliseconds."""
    ms = np.asarray(latencies_s) * 1000 if len(latencies_s) else np.zeros(1)
    return {
        "wall_s": round(wall_s, 2),
        "requests_per_s": round(len(latencies_s) / wall_s, 2),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
    }


def write_result(result: dict[str, Any], out: Path, name: str) -> Path:
    """Record the load average at the end, write ``out/NAME.json`` and show it."""
    result["load_avg_end"] = os.getloadavg()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return path
