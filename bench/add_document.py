"""One document added to an existing index: what a `POST /documents` or `rag ingest FILE` waits for.

    python -m bench.add_document --index .rag/index [--repeats 5]

Copies the index (never writes to it) and, on each copy, adds one document through
``QASystem.ingest``, timing the call: the packaged article (7 chunks, 33 sentences) and a
long document of 900 short sentences. Reports the median per document. Writes
``bench/results/add_document.json``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import machine, write_result
from rag.models import Document
from rag.settings import Settings
from rag.system import QASystem

ARTICLE = (
    Path(__file__).resolve().parents[1] / "rag" / "data" / "japan-sweden-security-cooperation.txt"
)


def documents() -> dict[str, str]:
    long_text = " ".join(
        f"Delegation {n} of the long conference discussed maritime security in region {n}."
        for n in range(900)
    )
    return {"article": ARTICLE.read_text(encoding="utf-8"), "long-900-sentences": long_text}


def time_add(index: Path, text: str, repeats: int) -> list[float]:
    seconds: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-add-") as tmp:
        for rep in range(repeats):
            copy = Path(tmp) / f"index-{rep}"
            shutil.copytree(index, copy)
            with QASystem.create_or_open(Settings(index_dir=copy)) as system:
                t0 = time.perf_counter()
                system.ingest([Document(id=f"bench-{rep}", text=text)])
                seconds.append(time.perf_counter() - t0)
            shutil.rmtree(copy)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="an index folder (not changed)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": machine(), "index": str(args.index), "documents": {}}
    for name, text in documents().items():
        seconds = time_add(args.index, text, args.repeats)
        result["documents"][name] = {
            "median_s": round(statistics.median(seconds), 3),
            "runs_s": [round(s, 3) for s in seconds],
        }
    write_result(result, args.out, "add_document")


if __name__ == "__main__":
    main()
