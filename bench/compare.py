"""Comparisons: how long a table of groups takes, and how each group's candidates are found.

    python -m bench.compare --index ~/.cache/rag-eval/article_corpora-<key> --out bench/results

(a) five groups: the five permanent members of the Security Council (session 78), one question
after another (``--questions``), ``--rounds`` rounds: p50/p95 of ``QASystem.compare`` (warm).
(b) every country of one session (``--session``, no ``--groups``): the whole table's wall time,
with ``compare_workers`` 1 and 2 — the CLI's progress bar counts these groups.
(c) candidates per group, the two ways: *filtered* — each group's own dense (FAISS id
selector over the group's chunk ids) and BM25 (SQL-joined to the group's documents, by their ids,
with the group's own BM25 statistics) searches, top ``depth`` each, as ``compare`` runs them;
*partitioned* — one dense and one BM25 search over every group's documents at once, deep
enough to hold all of them, the hits then split by group and cut at ``depth``. Both are timed
over every country of the session, with the number of groups whose candidates (the set of
chunk ids) agree. ``compare`` uses the filtered searches (``ask`` with the group's documents as
its filter); the partitioned figures are what the alternative would cost.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import machine, write_result
from rag.filters import Filters
from rag.settings import Settings
from rag.system import QASystem
from rag.text_features import content_terms

P5 = ["USA", "CHN", "FRA", "GBR", "RUS"]
QUESTIONS = [
    "What did China say about climate change?",
    "What did the United States say about Security Council reform?",
    "What did France say about nuclear weapons?",
    "What did Russia say about sanctions?",
    "What did the United Kingdom say about artificial intelligence?",
]


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    ms = np.asarray(samples) * 1000
    return {
        "runs": len(samples),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "max_ms": round(float(ms.max()), 1),
    }


def five_groups(system: QASystem, session: int, rounds: int) -> dict[str, Any]:
    samples: list[float] = []
    for _ in range(rounds):
        for q in QUESTIONS:
            t0 = time.perf_counter()
            system.compare(q, by="country", groups=P5, filters={"session": session})
            samples.append(time.perf_counter() - t0)
    return percentiles(samples)


def all_countries(system: QASystem, session: int, workers: int) -> dict[str, Any]:
    settings = system.settings.model_copy(update={"compare_workers": workers})
    runner = system.with_settings(settings)
    t0 = time.perf_counter()
    table = runner.compare(QUESTIONS[0], by="country", filters={"session": session})
    wall = time.perf_counter() - t0
    return {
        "workers": workers,
        "groups": table.groups_total,
        "answered": len(table.rows),
        "wall_s": round(wall, 2),
        "per_group_ms": round(wall * 1000 / max(1, table.groups_total), 1),
        "timings_ms": table.timings_ms,
    }


def candidates(system: QASystem, session: int, depth: int, question: str) -> dict[str, Any]:
    """Per-group candidates found the two ways (retrieval only: dense and BM25 lists)."""
    vector = system.encoder.encode_query(question)
    terms = content_terms(question)
    with system.snapshot() as snap:
        union = Filters(metadata={"session": session}).to_chunk_filter()
        found = snap.group_documents("metadata", union, key="country")
        countries = list(dict.fromkeys(str(v) for v, _, _ in found))
        members: dict[str, list[str]] = {}
        for v, doc_id, _ in found:
            members.setdefault(str(v), []).append(doc_id)
        # as compare asks them: each group by its documents' ids (the plan finds them at once)
        flt = {c: Filters(doc_ids=members[c]).to_chunk_filter() for c in countries}
        t0 = time.perf_counter()
        filtered: dict[str, set[int]] = {}
        for c, f in flt.items():
            dense = snap.search_dense(vector, depth, f)
            lexical = snap.search_lexical(terms, depth, f)
            filtered[c] = {i for i, _ in dense} | {i for i, _ in lexical}
        t_filtered = time.perf_counter() - t0

        t0 = time.perf_counter()
        total = snap.counts()["chunks"]
        dense_all = snap.search_dense(vector, total, union)
        lexical_all = snap.search_lexical(terms, total, union)
        chunk_ids = sorted({i for i, _ in dense_all} | {i for i, _ in lexical_all})
        chunks = snap.chunks(chunk_ids)
        docs = snap.documents(list({ch.doc_id for ch in chunks.values()}))
        group_of = {i: str(docs[ch.doc_id].metadata.get("country")) for i, ch in chunks.items()}
        partitioned: dict[str, set[int]] = {c: set() for c in countries}
        for hits in (dense_all, lexical_all):
            taken: dict[str, int] = {}
            for i, _ in hits:
                g = group_of.get(i)
                if g in partitioned and taken.get(g, 0) < depth:
                    partitioned[g].add(i)
                    taken[g] = taken.get(g, 0) + 1
        t_partitioned = time.perf_counter() - t0
    same = sum(filtered[c] == partitioned[c] for c in countries)
    return {
        "groups": len(countries),
        "depth": depth,
        "filtered_s": round(t_filtered, 3),
        "filtered_per_group_ms": round(t_filtered * 1000 / max(1, len(countries)), 2),
        "partitioned_s": round(t_partitioned, 3),
        "groups_with_the_same_candidates": same,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True, help="an index of the UN General Debate corpus")
    parser.add_argument("--session", type=int, default=78)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--depth", type=int, default=40, help="candidates per retriever per group")
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args(argv)
    settings = Settings(index_dir=Path(args.index))
    with QASystem.open(settings) as system:
        system.warm_up()
        system.compare(QUESTIONS[0], by="country", groups=P5, filters={"session": args.session})
        result: dict[str, Any] = {
            "machine": machine(),
            "index": str(args.index),
            "answerer": system.answerer.name,
            "five_groups": five_groups(system, args.session, args.rounds),
            "all_countries": [all_countries(system, args.session, w) for w in (1, 2)],
            "candidates": [candidates(system, args.session, args.depth, q) for q in QUESTIONS[:2]],
        }
    write_result(result, Path(args.out), "compare")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
