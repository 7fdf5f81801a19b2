"""``rag train-answerer``: the recipe behind the bundled answer scorer, runnable by anyone.

Not part of ``make test`` or CI: it needs ``../shared`` and, on two CPU cores, about 15 minutes
(fusion weight, features, sentence and answerability models, both variants). The reader is
trained apart (``rag train-reader``, :mod:`rag.training.reader_cli`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.errors import ConfigurationError
from rag.settings import Settings

AddCommon = Callable[[argparse.ArgumentParser], None]


def whole_number(text: str, *, least: int) -> int:
    """A whole number of at least ``least`` (argparse makes anything else a usage error,
    exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < least:
        wanted = "a positive whole number" if least == 1 else f"a whole number of at least {least}"
        raise argparse.ArgumentTypeError(f"must be {wanted}, not {text}")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    return whole_number(text, least=1)


def non_negative_int(text: str) -> int:
    """A whole number of at least 0."""
    return whole_number(text, least=0)


def shared_folder(given: str | None, needed: str, what: str) -> Path:
    """The shared material (``given``, else ``<repo>/../shared``), checked to hold
    ``benchmarks/<needed>`` (``what`` names it in the error)."""
    shared = Path(given) if given else Path(__file__).resolve().parents[2].parent / "shared"
    if not (shared / "benchmarks" / needed).is_file():
        benchmark = needed.split("/")[0]
        raise ConfigurationError(
            f"no {what} training data under {shared}",
            hint=f"pass --shared DIR, the folder that holds benchmarks/{benchmark}",
        )
    return shared


def stage_log() -> Callable[[str], None]:
    """A logger for a long recipe: each line on standard error with the seconds since start."""
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.0f} s] {message}", file=sys.stderr, flush=True)

    return log


def register(subparsers: Any, add_common: AddCommon) -> None:
    p = subparsers.add_parser(
        "train-answerer",
        help="rebuild the answer-sentence scorer from ../shared (slow; not run by tests)",
        description="Train the answer scorer on benchmarks/squad-train with a fixed seed: "
        "the training indexes (the articles as paragraphs and as long documents), the RRF dense "
        "weight, labelled candidates (as asked, article "
        "removed, answer removed), the sentence and answerability models "
        "(hybrid and lexical-only variants) and the abstention thresholds, all chosen on "
        "validation articles. Writes scorer.json (keeping the reader settings of one already "
        "there), training-report.json and MODEL_CARD.md into --out.",
    )
    p.add_argument("--shared", metavar="DIR", help="shared material (default: <repo>/../shared)")
    p.add_argument(
        "--work",
        metavar="DIR",
        default=".rag/train",
        help="cache of the training index and candidates (default: .rag/train)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        default="rag/answering/model",
        help="where the model goes (default: rag/answering/model, the bundled one)",
    )
    p.add_argument("--seed", type=int, default=13, help="random seed (default 13)")
    p.set_defaults(handler=cmd_train)


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from rag.training.recipe import run

    shared = shared_folder(args.shared, "squad-train/questions.jsonl", "SQuAD")
    report = run(shared, Path(args.work), Path(args.out), seed=args.seed, log=stage_log())
    chosen = report["chosen"]
    print(f"scorer written to {args.out}: threshold {chosen['threshold']['threshold']}")
    return 0
