"""``rag eval``, ``rag eval-squad``, ``rag eval-policy-qa`` and ``rag eval-compare``: the
evaluation commands, registered as a ``rag`` plugin.

Registered through the ``rag.commands`` entry point group (``eval = "eval.cli:register"``). This
is an edge: it sets the offline flags for the embedding model, draws progress bars and prints;
domain errors propagate to :func:`rag.cli.main`, which turns them into messages and exit codes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.dataset import EvalSetError
from rag.option_values import parse_scalar
from rag.settings import MAX_K, Settings

if TYPE_CHECKING:
    from eval.harness import EvalConfig, OverrideValue
    from rag.ingest import IngestEvent
    from rag.system import QASystem

EXIT_OK = 0
EXIT_FAILED_CHECKS = 1  # some question raised, or some citation did not match its document

AddCommon = Callable[[argparse.ArgumentParser], None]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag-eval"


def register(subparsers: Any, add_common: AddCommon) -> None:
    """Add ``eval``, ``eval-squad`` and ``eval-policy-qa`` to the ``rag`` command line."""
    p = subparsers.add_parser(
        "eval",
        help="measure retrieval, answers, abstention and citations on the article eval set",
        description="Build (once, cached) an index of the chosen corpus and run the article "
        "evaluation set through it under each configuration. With --index, evaluate that "
        "existing index instead (it must hold the sample article).",
    )
    p.add_argument(
        "--corpus",
        choices=["article", "article+corpora"],
        default="article",
        help="article alone, or with the shared corpora as distractors (default: article)",
    )
    p.add_argument("--eval-set", metavar="FILE", help="evaluation set (default: the packaged one)")
    _shared_options(p, add_common)
    p.add_argument(
        "--sweep",
        metavar="PARAM=V1,V2,…",
        help="instead of the configurations, run the detail configuration once per value of "
        "an answerer setting, e.g. abstain_threshold=0.3,0.35,0.4",
    )
    p.set_defaults(handler=cmd_eval)

    p = subparsers.add_parser(
        "eval-squad",
        help="run the SQuAD politics benchmark from ../shared/benchmarks",
        description="Build (once, cached) an index of the benchmark's paragraphs and ask its "
        "questions (a fixed-seed sample with --limit).",
    )
    _shared_options(p, add_common)
    p.add_argument("--seed", type=int, help="sampling seed for --limit (default: fixed)")
    p.set_defaults(handler=cmd_eval_squad)

    p = subparsers.add_parser(
        "eval-policy-qa",
        help="run the policy-qa benchmark from ../shared/benchmarks",
        description="Build (once, cached) an index of the sample article and both corpora and "
        "ask every policy-qa question of a split through it, with the default settings; report "
        "accuracy, precision, abstention, gold-document citation, citation validity and latency "
        "against issue 25's floors and goals.",
    )
    add_common(p)
    p.add_argument(
        "--split",
        choices=["train", "validation"],
        default="validation",
        help="which questions (default: validation)",
    )
    p.add_argument(
        "--corpus",
        choices=["article+corpora", "article"],
        default="article+corpora",
        help="the index to build: the article with both corpora (default), or the article alone "
        "(a plumbing check only: the questions are about the corpora)",
    )
    _model_dir_option(p)
    p.add_argument("--k", type=int, help="passages per question (default: the setting's)")
    p.add_argument(
        "--mode",
        choices=["hybrid", "dense", "lexical"],
        help="retrieval mode (default: the setting's)",
    )
    p.add_argument("--cache", metavar="DIR", help="index cache (default: ~/.cache/rag-eval)")
    p.add_argument("--shared", metavar="DIR", help="shared material (default: <repo>/../shared)")
    p.add_argument("--out", metavar="DIR", help="also write the report as Markdown and JSON here")
    p.add_argument("--show-failures", action="store_true", help="list failing questions")
    p.add_argument("--limit", type=int, help="ask only N questions (fixed-seed sample)")
    p.add_argument("--seed", type=int, help="sampling seed for --limit (default: fixed)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=cmd_eval_policy_qa)

    p = subparsers.add_parser(
        "eval-compare",
        help="run the compare set (positions across countries and sessions) through rag compare",
        description="Build (once, cached) the index of the sample article and both corpora and "
        "ask every question of the compare set (eval/data/compare.v1.jsonl) of its groups "
        "through QASystem.compare; report cell accuracy, silent groups declined and citation "
        "validity (issue 27's floors), per key and per question.",
    )
    add_common(p)
    p.add_argument("--eval-set", metavar="FILE", help="compare set (default: the packaged one)")
    _model_dir_option(p)
    p.add_argument("--cache", metavar="DIR", help="index cache (default: ~/.cache/rag-eval)")
    p.add_argument("--shared", metavar="DIR", help="shared material (default: <repo>/../shared)")
    p.add_argument("--out", metavar="DIR", help="also write the report as Markdown and JSON here")
    p.add_argument("--show-failures", action="store_true", help="list the wrong cells")
    p.add_argument("--limit", type=int, help="ask only N questions (fixed-seed sample)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=cmd_eval_compare)


def _model_dir_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model-dir",
        metavar="DIR",
        help="answer model folder (default: $RAG_ANSWER_MODEL_DIR, else the bundled one)",
    )


def _shared_options(p: argparse.ArgumentParser, add_common: AddCommon) -> None:
    add_common(p)  # --index: evaluate that index instead of building one
    p.add_argument(
        "--configs",
        default="dense,lexical,hybrid",
        metavar="LIST",
        help="comma-separated retrieval modes, each optionally MODE@K (default: "
        "dense,lexical,hybrid)",
    )
    p.add_argument("--k", type=int, default=5, help="passages per question (default 5)")
    p.add_argument(
        "--detail",
        metavar="CONFIG",
        help="configuration shown per category / swept (default: hybrid if run, else the first)",
    )
    p.add_argument("--cache", metavar="DIR", help="index cache (default: ~/.cache/rag-eval)")
    p.add_argument("--shared", metavar="DIR", help="shared material (default: <repo>/../shared)")
    p.add_argument("--out", metavar="DIR", help="also write the report as Markdown and JSON here")
    p.add_argument("--show-failures", action="store_true", help="list failing questions")
    p.add_argument("--limit", type=int, help="ask only N questions (fixed-seed sample)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    _model_dir_option(p)


# --- argument parsing -----------------------------------------------------------------------------
def parse_configs(text: str, k: int) -> list[EvalConfig]:
    """``dense,hybrid@10`` into configurations named as written."""
    from eval.harness import EvalConfig

    configs: list[EvalConfig] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        mode, sep, k_text = item.partition("@")
        if mode not in ("dense", "lexical", "hybrid"):
            raise EvalSetError(
                f"unknown retrieval mode {mode!r} in --configs",
                hint="use dense, lexical or hybrid, optionally with @K (e.g. hybrid@10)",
            )
        config_k = k
        if sep:
            try:
                config_k = int(k_text)
            except ValueError as exc:
                raise EvalSetError(f"--configs item {item!r}: K must be an integer") from exc
        if not 1 <= config_k <= MAX_K:
            raise EvalSetError(f"--configs item {item!r}: K must be between 1 and {MAX_K}")
        configs.append(EvalConfig(name=item, mode=mode, k=config_k))
    if not configs:
        raise EvalSetError("--configs names no configuration", hint="e.g. --configs hybrid")
    return configs


def parse_sweep(text: str) -> tuple[str, list[OverrideValue]]:
    """``abstain_threshold=0.3,0.35`` into the setting name and its values."""
    name, sep, values_text = text.partition("=")
    name = name.strip()
    values = [v.strip() for v in values_text.split(",") if v.strip()]
    if not sep or not name or not values:
        raise EvalSetError(
            f"--sweep {text!r} is not PARAM=V1,V2,…", hint="e.g. --sweep abstain_threshold=0.3,0.4"
        )
    return name, [parse_scalar(v) for v in values]


# --- shared steps ---------------------------------------------------------------------------------
def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _build_progress(
    paths: Sequence[Path], quiet: bool
) -> tuple[Callable[[IngestEvent], None], Any]:
    """An ingest callback drawing the chunk bar (created on the first event: none if cached)."""
    from rag.progress import IngestProgress

    progress = IngestProgress(desc="index", disable=quiet)
    return progress, progress.close


def with_model_dir(settings: Settings, model_dir: str | None) -> Settings:
    """``settings`` answering with the model in ``model_dir`` (unchanged when None)."""
    if model_dir is None:
        return settings
    folder = Path(model_dir)
    if not folder.is_dir():
        raise EvalSetError(
            f"--model-dir {model_dir}: no such folder",
            hint="pass the folder of a trained answer model (the one holding its model card)",
        )
    return settings.model_copy(update={"answer_model_dir": folder})


def _open_system(
    args: argparse.Namespace, settings: Settings, corpus: str, shared: Path | None
) -> QASystem:
    """The system over ``--index``, or over the cached index of ``corpus`` (built if needed),
    answering with ``--model-dir``'s model when given."""
    from eval.corpora import corpus_paths, ensure_index
    from rag.system import QASystem

    settings = with_model_dir(settings, getattr(args, "model_dir", None))
    if args.index:
        system = QASystem.open(settings)
    else:
        _offline()
        cache = Path(args.cache) if args.cache else default_cache_dir()
        paths = corpus_paths(corpus, shared)
        on_event, close = _build_progress(paths, args.quiet)
        try:
            folder = ensure_index(corpus, settings, cache, paths=paths, on_event=on_event)
        finally:
            close()
        system = QASystem.open(settings.model_copy(update={"index_dir": folder}))
    system.warm_up()
    return system


def _question_bar(total: int, quiet: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="q", desc="questions", file=sys.stderr, disable=quiet)


# --- commands -------------------------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from eval.dataset import load_eval_set
    from eval.harness import run_eval, sample_questions, sweep
    from eval.report import eval_markdown, sweep_markdown, write_outputs

    configs = parse_configs(args.configs, args.k)
    swept = parse_sweep(args.sweep) if args.sweep else None
    eval_set = load_eval_set(Path(args.eval_set) if args.eval_set else None)
    eval_set = sample_questions(eval_set, args.limit)
    shared = Path(args.shared) if args.shared else None
    system = _open_system(args, settings, args.corpus, shared)
    try:
        if swept is not None:
            name, values = swept
            detail = _pick(configs, args.detail)
            bar = _question_bar(len(eval_set.questions) * len(values), args.quiet)
            sweep_report = sweep(
                system,
                eval_set,
                name,
                values,
                mode=detail.mode,
                k=detail.k,
                on_question=lambda _c, _r: bar.update(1),
            )
            bar.close()
            markdown = sweep_markdown(sweep_report)
            print(markdown)
            if args.out:
                _print_written(write_outputs(Path(args.out), "sweep", markdown, sweep_report))
            return EXIT_OK
        bar = _question_bar(len(eval_set.questions) * len(configs), args.quiet)
        report = run_eval(system, eval_set, configs, on_question=lambda _c, _r: bar.update(1))
        bar.close()
    finally:
        system.close()
    markdown = eval_markdown(report, detail=args.detail, show_failures=args.show_failures)
    print(markdown)
    if args.out:
        _print_written(write_outputs(Path(args.out), "results", markdown, report))
    broken = [
        r.config.name
        for r in report.results
        if r.overall.errors or (r.overall.citation_validity or 1.0) < 1.0
    ]
    if broken:
        print(
            f"failed checks (errors or invalid citations) in: {', '.join(broken)}", file=sys.stderr
        )
        return EXIT_FAILED_CHECKS
    return EXIT_OK


def cmd_eval_squad(args: argparse.Namespace, settings: Settings) -> int:
    from eval.corpora import SQUAD_QUESTIONS, shared_file
    from eval.harness import SAMPLE_SEED, deterministic_sample
    from eval.report import squad_markdown, write_outputs
    from eval.squad import load_squad_questions, run_squad

    configs = parse_configs(args.configs, args.k)
    shared = Path(args.shared) if args.shared else None
    questions = load_squad_questions(shared_file(shared, SQUAD_QUESTIONS))
    seed = args.seed if args.seed is not None else SAMPLE_SEED
    questions = deterministic_sample(questions, args.limit, seed)
    system = _open_system(args, settings, "squad", shared)
    try:
        bar = _question_bar(len(questions) * len(configs), args.quiet)
        report = run_squad(
            system,
            questions,
            configs,
            sample_seed=seed if args.limit is not None else None,
            on_question=lambda _c, _r: bar.update(1),
        )
        bar.close()
    finally:
        system.close()
    markdown = squad_markdown(report, detail=args.detail, show_failures=args.show_failures)
    print(markdown)
    if args.out:
        _print_written(write_outputs(Path(args.out), "squad", markdown, report))
    return EXIT_OK


def cmd_eval_policy_qa(args: argparse.Namespace, settings: Settings) -> int:
    from eval.harness import SAMPLE_SEED, deterministic_sample
    from eval.policy_qa import evaluate_policy_qa, load_policy_qa, policy_qa_path
    from eval.report import policy_qa_markdown, write_outputs

    if args.k is not None and not 1 <= args.k <= MAX_K:
        raise EvalSetError(f"--k must be between 1 and {MAX_K}, not {args.k}")
    shared = Path(args.shared) if args.shared else None
    questions = load_policy_qa(policy_qa_path(shared, args.split))
    seed = args.seed if args.seed is not None else SAMPLE_SEED
    questions = deterministic_sample(questions, args.limit, seed)
    system = _open_system(args, settings, args.corpus, shared)
    try:
        bar = _question_bar(len(questions), args.quiet)
        report = evaluate_policy_qa(
            system,
            questions,
            k=args.k,
            mode=args.mode,
            split=args.split,
            sample_seed=seed if args.limit is not None else None,
            on_progress=lambda _r: bar.update(1),
        )
        bar.close()
    finally:
        system.close()
    markdown = policy_qa_markdown(report, show_failures=args.show_failures)
    print(markdown)
    if args.out:
        _print_written(write_outputs(Path(args.out), f"policy-qa-{args.split}", markdown, report))
    m = report.metrics
    if m.errors or (m.citation_validity or 1.0) < 1.0:
        print("failed checks: errors or invalid citations", file=sys.stderr)
        return EXIT_FAILED_CHECKS
    return EXIT_OK


def cmd_eval_compare(args: argparse.Namespace, settings: Settings) -> int:
    from eval.compare import compare_markdown, evaluate_compare, load_compare_set
    from eval.harness import SAMPLE_SEED, deterministic_sample
    from eval.report import write_outputs

    path = Path(args.eval_set) if args.eval_set else None
    questions = deterministic_sample(load_compare_set(path), args.limit, SAMPLE_SEED)
    shared = Path(args.shared) if args.shared else None
    system = _open_system(args, settings, "article+corpora", shared)
    try:
        bar = _question_bar(len(questions), args.quiet)
        report = evaluate_compare(
            system,
            questions,
            eval_set=path.name if path else "compare.v1.jsonl",
            on_progress=lambda _r: bar.update(1),
        )
        bar.close()
    finally:
        system.close()
    markdown = compare_markdown(report, show_failures=args.show_failures)
    print(markdown)
    if args.out:
        _print_written(write_outputs(Path(args.out), "compare", markdown, report))
    m = report.metrics
    if m.errors or (m.citation_validity or 1.0) < 1.0:
        print("failed checks: errors or invalid citations", file=sys.stderr)
        return EXIT_FAILED_CHECKS
    return EXIT_OK


def _pick(configs: Sequence[EvalConfig], name: str | None) -> EvalConfig:
    if name is not None:
        for config in configs:
            if config.name == name:
                return config
        raise EvalSetError(
            f"--detail {name!r} is not among --configs",
            hint=f"one of: {', '.join(c.name for c in configs)}",
        )
    return next((c for c in configs if c.name == "hybrid"), configs[0])


def _print_written(paths: Sequence[Path]) -> None:
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
