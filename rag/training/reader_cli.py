"""``rag train-reader``: the recipe behind the bundled reader, runnable by anyone.

Not part of ``make test`` or CI: it needs ``../shared`` and hours on two CPU cores. It resumes
from its checkpoint when run again with the same ``--work`` folder, so a long run can be spread
over several sittings (``--stop-after N`` ends a sitting after N steps).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.errors import ConfigurationError
from rag.settings import Settings
from rag.training.cli import non_negative_int, positive_int, shared_folder, stage_log

AddCommon = Callable[[argparse.ArgumentParser], None]


def register(subparsers: Any, add_common: AddCommon) -> None:
    p = subparsers.add_parser(
        "train-reader",
        help="train the reader (cross-encoder with a no-answer slot) from ../shared (slow)",
        description="Build the reader's training groups from the product's own evidence step "
        "(policy-qa over the article and both corpora; squad-train and its paraphrases), train "
        "the listwise cross-encoder with a learned no-answer slot (checkpointed, resumable, "
        "validated at fixed steps), and export the best step as int8 ONNX into --out/reader.",
    )
    p.add_argument("--shared", metavar="DIR", help="shared material (default: <repo>/../shared)")
    p.add_argument(
        "--work",
        metavar="DIR",
        default=".rag/train-reader",
        help="groups, checkpoints and the learning curve (default: .rag/train-reader)",
    )
    p.add_argument(
        "--policy-index",
        metavar="DIR",
        help="an index of the sample article and both corpora (default: built into --work; "
        "`rag eval`'s cached article+corpora index serves as well)",
    )
    p.add_argument(
        "--squad-index",
        metavar="DIR",
        help="an index of squad-train's paragraphs (default: built into --work)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        default="rag/answering/model",
        help="the model folder the reader goes into, as reader/ (default: the bundled one)",
    )
    p.add_argument("--steps", type=positive_int, default=1500, help="training steps (default 1500)")
    p.add_argument("--layers", type=positive_int, default=6, help="MiniLM layers kept (default 6)")
    p.add_argument(
        "--candidates",
        type=positive_int,
        default=8,
        help="candidates of each group read per training step: up to two positives, the rest "
        "negatives (default 8)",
    )
    p.add_argument(
        "--nearest",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="the top document's sentences nearest the question that the reader also reads, "
        "in training groups and at query time (default 0: stage 1's best only)",
    )
    p.add_argument("--seed", type=int, default=13, help="random seed (default 13)")
    p.add_argument(
        "--stop-after",
        type=positive_int,
        metavar="N",
        help="end this sitting after N steps; the next run resumes from the checkpoint",
    )
    p.add_argument(
        "--export-only",
        action="store_true",
        help="export the best checkpoint in --work without training further",
    )
    p.set_defaults(handler=cmd_train_reader)


def require_torch() -> None:
    """Training runs on torch, which the main job's environment leaves out (`make demo`)."""
    import importlib.util

    for package in ("torch", "transformers"):
        if importlib.util.find_spec(package) is None:
            raise ConfigurationError(
                f"training the reader needs {package}, which is not installed",
                hint="pip install torch==2.13.0 && pip install -e '.[train]'",
            )


def cmd_train_reader(args: argparse.Namespace, settings: Settings) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from rag.answering.fingerprint import READER_MODULES, code_fingerprint
    from rag.answering.scorer import READER_DIR
    from rag.embedding import default_model_path
    from rag.training.reader import ReaderRecipe, export, load_best, train
    from rag.training.reader_recipe import build_groups, load_all, validation_sample
    from rag.training.stages import ensure_index

    require_torch()
    shared = shared_folder(args.shared, "policy-qa/train.jsonl", "policy-qa")
    work = Path(args.work)
    log = stage_log()

    recipe = ReaderRecipe(
        layers=args.layers,
        steps=args.steps,
        seed=args.seed,
        candidates_per_group=args.candidates,
        nearest=args.nearest,
    )
    folder = work / recipe.run_name
    if not args.export_only:
        from rag.loaders import iter_documents

        if args.policy_index:
            policy_index = Path(args.policy_index)
        else:
            inputs = [
                *sorted((Path(__file__).resolve().parents[1] / "data").glob("*.txt")),
                shared / "corpora" / "history-state-gov.jsonl",
                shared / "corpora" / "un-general-debate-2020-2024.jsonl",
            ]  # the bundled sample article, then both corpora
            policy_index = ensure_index(work / "policy-index", iter_documents(inputs), log)
        if args.squad_index:
            squad_index = Path(args.squad_index)
        else:
            docs = shared / "benchmarks" / "squad-train" / "documents.jsonl"
            squad_index = ensure_index(work / "squad-train-index", iter_documents([docs]), log)
        groups = load_all(
            build_groups(shared, work, policy_index, squad_index, log, nearest=recipe.nearest)
        )
        for name, gs in groups.items():
            log(f"{name}: {len(gs)} groups, {sum(len(g.texts) for g in gs)} candidates")

        def progress(step: int, loss: float, metrics: dict[str, float] | None) -> None:
            if metrics is not None:
                log(
                    f"step {step}: loss {loss:.3f}; validation top-1 {metrics['top1']:.3f}, "
                    f"AUC {metrics['auc']:.3f}, decision {metrics['decision']:.3f}"
                )
            elif step % 25 == 0:
                log(f"step {step}: loss {loss:.3f}")

        train(
            default_model_path(),
            groups["policy-train"],
            groups["squad-train"],
            validation_sample(groups),
            recipe,
            folder,
            on_progress=progress,
            stop_after=args.stop_after,
        )
    model, null, step = load_best(default_model_path(), recipe, folder)
    out = Path(args.out)
    export(
        model,
        null,
        out / READER_DIR,
        extra={
            "step": step,
            "recipe": recipe.__dict__,
            "input_fingerprint": code_fingerprint(READER_MODULES),
        },
    )
    log(f"reader exported to {out / READER_DIR} (best validation step {step})")
    chosen = select(out, work, recipe, log)
    print(
        f"reader written to {out / READER_DIR}: best validation step {step}, reads the top "
        f"{chosen['top']}, threshold {chosen['threshold']}, "
        f"further-sentence ratio {chosen['extra_sentence_ratio']}"
    )
    return 0


def select(out: Path, work: Path, recipe: Any, log: Callable[[str], None]) -> dict[str, Any]:
    """Choose the reader's threshold and further-sentence ratio on validation groups with the
    exported model, and write them into ``out``'s scorer.json (and the curves beside it)."""
    import json

    from rag.answering.scorer import READER_DIR, SCORER_FILE, CrossEncoder
    from rag.training.reader_card import CARD_FILE, reader_card
    from rag.training.reader_data import read_groups
    from rag.training.reader_recipe import group_paths
    from rag.training.reader_select import (
        choose_ratio,
        choose_threshold,
        ratio_curve,
        threshold_curve,
    )
    from rag.training.reader_select import read_groups as read_with

    reader = CrossEncoder(out / READER_DIR, threads=recipe.threads)
    top = recipe.eval_top
    paths = group_paths(work, recipe.nearest)
    policy = read_with(reader, read_groups(paths["policy-validation"]), top)
    squad = read_with(reader, read_groups(paths["squad-validation"]), top)
    curve = threshold_curve(policy, squad)
    threshold = choose_threshold(curve)
    ratios = ratio_curve([*policy, *squad], threshold)
    chosen = {
        "top": top,
        "threshold": threshold,
        "extra_sentence_ratio": choose_ratio(ratios),
        "nearest": recipe.nearest,
    }
    log(f"chosen on validation: {chosen}")
    path = out / SCORER_FILE
    spec = json.loads(path.read_text(encoding="utf-8"))
    # Whether the reader answers by default is a release decision, kept from the model folder.
    chosen["default"] = bool((spec.get("reader") or {}).get("default", False))
    spec["reader"] = chosen
    path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    report = {"chosen": chosen, "threshold_curve": curve, "ratio_curve": ratios}
    learning = work / recipe.run_name / "curve.json"
    if learning.is_file():
        report["learning_curve"] = json.loads(learning.read_text(encoding="utf-8"))
    (out / "reader-report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    exported = json.loads((out / READER_DIR / SCORER_FILE).read_text(encoding="utf-8"))
    (out / CARD_FILE).write_text(reader_card(report, exported), encoding="utf-8")
    return chosen
