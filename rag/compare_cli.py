"""``rag compare``: one question asked of every group of a metadata key, as a cited table
(text, ``--json`` or ``--csv``), with a progress bar on standard error."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from rag.errors import InvalidArgumentError, InvalidComparisonError
from rag.option_values import parse_filters, parse_passages
from rag.printable import printable
from rag.settings import MAX_K, RETRIEVAL_MODES, Settings

EXIT_OK = 0


def parse_groups(text: str | None) -> list[str] | None:
    """``USA,CHN, FRA`` into ``["USA", "CHN", "FRA"]``; None when not given."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise InvalidArgumentError(
            f"--groups '{shown}' is not UTF-8 text", hint="give the groups as UTF-8 text"
        ) from None
    groups = [g.strip() for g in text.split(",") if g.strip()]
    if not groups:
        raise InvalidComparisonError(
            "--groups names no group", hint="e.g. --groups USA,CHN,FRA, or leave it out for all"
        )
    return groups


def format_comparison(comparison: Any) -> str:
    """The table for a terminal: per group its status, answer and sources."""
    lines = [f"{comparison.question}  (by {comparison.by})"]
    for row in comparison.rows:
        lines.append("")
        lines.append(f"{row.label}: {row.status.replace('_', ' ')} ({row.confidence:.2f})")
        answer = row.answer
        if row.status != "answered" or answer is None:
            continue
        lines.append(f"  {answer.answer}")
        for c in answer.citations:
            lines.append(f"  [{c.marker}] {c.doc_id} {c.char_start}-{c.char_end}: “{c.quote}”")
    if comparison.declined:
        lines += ["", f"No statement on this ({len(comparison.declined)}): "]
        lines[-1] += ", ".join(comparison.declined)
    total = comparison.timings_ms.get("total", 0.0)
    answered = sum(r.status == "answered" for r in comparison.rows)
    lines += ["", f"{answered} of {comparison.groups_total} groups answer ({total / 1000:.1f} s)"]
    return "\n".join(lines)


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    from rag.compare_export import to_csv
    from rag.system import QASystem

    filters = parse_filters(args.filter or [])
    groups = parse_groups(args.groups)
    show = (sys.stderr.isatty() or args.progress) and not args.quiet
    bar: Any = None

    def on_row(row: Any, done: int, total: int) -> None:
        nonlocal bar
        if not show:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="group", desc="groups", file=sys.stderr)
        bar.update(1)

    system = QASystem.open(settings)
    try:
        comparison = system.compare(
            args.question,
            by=args.by,
            groups=groups,
            filters=filters or None,
            k=args.k,
            mode=args.mode,
            on_row=on_row,
        )
    finally:
        if bar is not None:
            bar.close()
        system.close()
    if args.json:
        print(comparison.model_dump_json(indent=2))
    elif args.csv:
        sys.stdout.write(to_csv(comparison))
    else:
        print(printable(format_comparison(comparison)))
    return EXIT_OK


def register(
    subparsers: Any, add_common_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add ``compare`` to the ``rag`` command line."""
    p = subparsers.add_parser(
        "compare",
        help="ask one question of every country, session, year or source: a cited table",
        description="Ask QUESTION of each group of --by (its documents only): one row per "
        "group with the cited answer, or a decline where the group's documents are silent.",
    )
    p.add_argument("question", help="the question, e.g. 'What did China say about X?'")
    add_common_options(p)
    p.add_argument(
        "--by",
        required=True,
        metavar="KEY",
        help="group by this key: country, session, date (by year), source or any metadata key",
    )
    p.add_argument(
        "--groups",
        metavar="LIST",
        help="comma-separated groups to ask, e.g. USA,CHN,FRA (default: every group present; "
        "the table then keeps the groups that answer, most confident first)",
    )
    p.add_argument(
        "--filter",
        action="append",
        metavar="KEY=VALUE",
        help="filters every group shares, as for rag ask (e.g. session=78); repeatable",
    )
    p.add_argument("--k", type=parse_passages, help=f"passages per group (1-{MAX_K}, default 5)")
    p.add_argument("--mode", choices=RETRIEVAL_MODES, help="retrieval mode")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the Comparison model as JSON")
    out.add_argument(
        "--csv", action="store_true", help="print CSV: one line per group, with its citations"
    )
    p.add_argument(
        "--progress",
        action="store_true",
        help="show the progress bar on stderr even when it is not a terminal",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_compare)
