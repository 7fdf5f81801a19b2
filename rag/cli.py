"""The `rag` command line. Domain errors become exit codes and one-line messages here only.

Subcommands ``ingest``, ``ask``, ``documents`` and ``stats`` are built in; others (``serve``,
``eval``, ``eval-squad``, ``train-answerer``) come from packages that register under the
``rag.commands`` entry point group, so ``rag`` never imports the service or the evaluation code it
does not run. Every command goes through :class:`rag.system.QASystem`. The query path imports
neither torch nor sentence-transformers.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from index.errors import (
    CorruptIndexError,
    DocumentNotFoundError,
    IncompatibleIndexError,
    IndexFullError,
    IndexLockedError,
    IndexNotFoundError,
    IndexPathError,
    InvalidDocumentError,
    InvalidFilterError,
    RagError,
)
from rag.answer_text import format_answer
from rag.errors import (
    InvalidArgumentError,
    InvalidQuestionError,
    LoaderError,
    ServeAddressError,
    SettingsError,
)
from rag.option_values import parse_filters, parse_passages, settings_error
from rag.printable import printable
from rag.settings import MAX_K, RETRIEVAL_MODES, Settings

EXIT_OK = 0
EXIT_PARTIAL = 1  # ingest finished but some inputs failed
EXIT_USAGE = 2  # bad options, arguments or settings (RAG_* variables)
EXIT_NO_INDEX = 3
EXIT_BAD_INPUT = 4
EXIT_LOCKED = 5
EXIT_ERROR = 6
EXIT_CORRUPT = 7  # the index is damaged (catalog or vector file), or `stats --check` found problems
EXIT_INDEX_PATH = 8  # --index / RAG_INDEX_DIR cannot hold an index (a file, under a file, /proc)
EXIT_ADDRESS = 9  # rag serve cannot listen on --host/--port (in use, not permitted)
EXIT_NO_SPACE = 10  # the disk holding the index is full; the index keeps its last commit
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away (128 + SIGPIPE, as a shell reports it)

BUILTIN = ("ingest", "ask", "compare", "documents", "stats")
Handler = Callable[[argparse.Namespace, Settings], int]

logger = logging.getLogger("rag")


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "index", None):
        overrides["index_dir"] = Path(args.index)
    for name in ("chunk_tokens", "vector_index", "host", "port", "ray_address", "ray_actors"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise settings_error(exc, overrides) from None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--index",
        metavar="DIR",
        help="index folder (default: $RAG_INDEX_DIR or ~/.local/share/rag/index)",
    )


# --- ingest ---------------------------------------------------------------------------------------
def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    started = time.perf_counter()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from rag.loaders import iter_documents
    from rag.loaders.overrides import DocumentFields, with_fields
    from rag.progress import IngestProgress
    from rag.system import QASystem

    try:
        fields = DocumentFields.parse(args.meta or (), args.date)
    except ValueError as exc:
        raise InvalidArgumentError(
            str(exc), hint="e.g. --meta country=SWE --date 2022-05"
        ) from None
    if fields and settings.ray_address:
        raise InvalidArgumentError(
            "--meta and --date are not supported with --ray",
            hint="ingest these files without --ray, or give the fields in a JSONL corpus",
        )
    QASystem.check_folder(settings.index_dir)  # an unusable folder (a file, /proc) fails first
    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise LoaderError(
            ", ".join(missing),
            "no such file or folder",
            hint="give files or folders that exist; nothing was ingested",
        )

    def on_export() -> None:
        print(
            "Converting the embedding model to ONNX (once per model version; kept in "
            f"{settings.onnx_cache_dir or 'this index'}) …",
            file=sys.stderr,
        )

    progress = IngestProgress(disable=args.quiet)
    try:
        if settings.ray_address:
            from rag.distributed.ingest import ClusterOptions, build_index_on_cluster

            options = ClusterOptions.from_settings(settings)
            report = build_index_on_cluster(
                settings, paths, options, on_event=progress, on_export=on_export
            )
        else:
            report = QASystem.build(
                settings,
                with_fields(iter_documents(paths), fields),
                on_event=progress,
                on_export=on_export,
            )
    finally:
        progress.close()
    if report.documents == 0 and report.failures:
        print(
            f"nothing to ingest: none of the {len(report.failures)} input(s) could be loaded "
            f"({report.skipped} skipped, {report.failed} failed); the index was not touched",
            file=sys.stderr,
        )
        return EXIT_PARTIAL
    wall = time.perf_counter() - started
    rate = report.chunks / wall if wall > 0 else 0.0
    print(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.skipped} skipped, {report.failed} failed; {report.chunks} chunks, "
        f"{report.sentences} sentences in {wall:.1f} s, model preparation included "
        f"({report.prepare_seconds:.1f} s; {rate:.1f} chunks/s) → {settings.index_dir}"
    )
    return EXIT_PARTIAL if report.failed or report.skipped else EXIT_OK


# --- ask ------------------------------------------------------------------------------------------
def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from rag.system import QASystem

    if args.file is not None and args.question is not None:
        raise InvalidQuestionError(
            "give a question or --file, not both", hint="rag ask --file questions.txt"
        )
    if args.file is not None:
        return ask_batch(args, settings)
    if args.question is None:
        raise InvalidQuestionError(
            "no question given",
            hint='rag ask "question", rag ask - (reads standard input) or rag ask --file FILE',
        )
    question = read_stdin(settings.ask_file_max_bytes) if args.question == "-" else args.question
    filters = parse_filters(args.filter or [])
    system = QASystem.open(settings)
    try:
        answer = system.ask(question, k=args.k, filters=filters, mode=args.mode)
    finally:
        system.close()
    if args.json:
        print(answer.model_dump_json(indent=2))
    else:
        print(printable(format_answer(answer)))  # no terminal escapes from document text
    return EXIT_OK


def read_stdin(limit: int) -> str:
    """Standard input as UTF-8 text, at most ``limit`` bytes (more, e.g. ``< /dev/zero``, is a
    :class:`LoaderError`: bad input, exit 4)."""
    from rag.batch import read_capped

    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream without bytes (a caller's replacement): its characters
        text = str(sys.stdin.read(limit + 1))
        if len(text) > limit:
            raise LoaderError("standard input", f"more than {limit} characters of questions")
        return text
    try:
        return read_capped(stream, limit, "standard input").decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoaderError("standard input", "not UTF-8 text") from exc


def ask_batch(args: argparse.Namespace, settings: Settings) -> int:
    """``rag ask --file``: one answer per question, as JSONL (--json) or text; progress on
    stderr. Exit 1 when some questions could not be asked."""
    from rag.batch import (
        answer_batch,
        batch_record,
        looks_like_jsonl,
        parse_questions,
        read_questions,
    )
    from rag.loaders.reading import os_reason
    from rag.system import QASystem

    hint = 'one question a line, or .jsonl records {"question", ...}; - reads standard input'
    try:
        if args.file == "-":
            text = read_stdin(settings.ask_file_max_bytes)
            items, name = parse_questions(text, looks_like_jsonl(text)), "standard input"
        else:
            path = Path(args.file)
            items = read_questions(path, max_bytes=settings.ask_file_max_bytes)
            name = path.name
    except UnicodeDecodeError as exc:
        raise LoaderError(args.file, "not UTF-8 text", hint=hint) from exc
    except OSError as exc:
        raise LoaderError(args.file, os_reason(exc), hint=hint) from exc
    filters = parse_filters(args.filter or [])
    defaults = {"k": args.k, "filters": filters, "mode": args.mode}
    system = QASystem.open(settings)
    failed = 0
    show = sys.stderr.isatty() or args.progress
    try:
        for n, (item, answer, error) in enumerate(answer_batch(system, items, defaults), 1):
            if error is not None:
                failed += 1
            if args.json:
                print(batch_record(item, answer, error), flush=True)
            else:
                print(printable(f"Q{item.line}: {item.question}"))
                print(printable(format_answer(answer) if answer is not None else f"error: {error}"))
                print(flush=True)
            if show:
                print(f"\ranswered {n}/{len(items)}", end="", file=sys.stderr, flush=True)
    finally:
        system.close()
    if show:
        print(file=sys.stderr)
    print(
        f"{len(items) - failed} answered, {failed} could not be asked ({name})",
        file=sys.stderr,
    )
    return EXIT_PARTIAL if failed else EXIT_OK


# --- documents and stats --------------------------------------------------------------------------
def cmd_documents(args: argparse.Namespace, settings: Settings) -> int:
    from rag.system import QASystem

    system = QASystem.open(settings)
    try:
        if args.action == "list":
            docs, _ = system.list_documents()
            if args.json:
                print(json.dumps([d.model_dump() for d in docs], indent=2, ensure_ascii=False))
            for d in docs if not args.json else []:
                print(printable(f"{d.id}\t{d.n_chunks} chunks\t{d.n_chars} chars\t{d.title[:60]}"))
            return EXIT_OK
        if not args.ids:
            raise InvalidQuestionError(
                f"`rag documents {args.action}` needs document ids",
                hint="`rag documents list` shows them",
            )
        if args.action == "show":
            found = system.get_documents(args.ids)
            for doc_id in args.ids:
                if found[doc_id] is None:
                    raise DocumentNotFoundError(
                        f"no document {doc_id!r} in the index",
                        hint="`rag documents list` shows the ids",
                    )
            for doc_id in args.ids:
                doc = found[doc_id]
                assert doc is not None
                print(  # --json: one document a line (JSONL), however many ids
                    doc.model_dump_json()
                    if args.json
                    else printable(
                        f"# {doc.title}\nid: {doc.id}\nsource: {doc.source}\n"
                        f"date: {doc.date or '-'}\n\n{doc.text}"
                    )
                )
            return EXIT_OK
        missing = system.delete_documents(args.ids)
        if args.json:
            deleted = [d for d in args.ids if d not in missing]
            print(json.dumps({"deleted": deleted, "not_found": missing}, ensure_ascii=False))
        for doc_id in args.ids if not args.json else []:
            print(f"{'not found' if doc_id in missing else 'deleted'}: {doc_id}")
        return EXIT_PARTIAL if missing else EXIT_OK
    finally:
        system.close()


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from rag.system import QASystem

    system = QASystem.open(settings, verify=not args.check)  # --check lists every problem
    try:
        info = system.stats(check=args.check)
    finally:
        system.close()
    stats: dict[str, Any] = dict(info.counts)
    stats["vector_index"] = info.vector_index
    stats.update(
        index_dir=info.index_dir,
        model=info.model,
        dimension=info.dimension,
        chunk_tokens=info.chunk_tokens,
        format_version=info.format_version,
    )
    if args.check:
        stats["problems"] = info.problems
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        for key, value in stats.items():
            print(f"{key}: {value}")
    if stats.get("problems"):
        print(
            f"error: the index at {settings.index_dir} is damaged: "
            + _one_line("; ".join(stats["problems"]))[:500],
            file=sys.stderr,
        )
        return EXIT_CORRUPT
    return EXIT_OK


# --- parser and dispatch --------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse with the command's failure shape: one ``error:`` line, a ``hint:`` line, exit 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {_one_line(message)}", file=sys.stderr)
        print(f"hint: see `{self.prog} --help`", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def build_parser(with_plugins: bool) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rag", description="Question answering over foreign-policy documents, with citations."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument(
        "--version", action="version", version=f"rag {_version()}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="add files or folders to the index")
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help=".txt .md .html .pdf .docx .rtf .odt .jsonl files or folders",
    )
    _common(p)
    p.add_argument("--chunk-tokens", type=int, help="token budget per chunk (new index only)")
    p.add_argument("--vector-index", choices=["auto", "flat", "ivf"], help="FAISS index type")
    p.add_argument(
        "--ray",
        dest="ray_address",
        metavar="ADDRESS",
        help="ingest on a Ray cluster: 'local' starts one, 'auto' joins a running one, "
        "or host:port (needs the extra: pip install -e '.[ray]')",
    )
    p.add_argument("--ray-actors", type=int, metavar="N", help="embedding actors (default 2)")
    p.add_argument(
        "--meta",
        action="append",
        metavar="KEY=VALUE",
        help="set this metadata on every document of this call (repeatable; added to a JSONL "
        "record's own, this value winning), e.g. --meta country=SWE --meta session=77; "
        "--filter KEY=VALUE then finds them",
    )
    p.add_argument(
        "--date",
        metavar="DATE",
        help="set this date (YYYY, YYYY-MM or YYYY-MM-DD) on every document of this call, "
        "replacing a date read from the file (HTML meta, PDF CreationDate, Word properties)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_ingest)

    p = sub.add_parser("ask", help="answer a question with citations")
    p.add_argument("question", nargs="?", help="the question; - reads it from standard input")
    _common(p)
    p.add_argument("--k", type=parse_passages, help=f"passages to retrieve (1-{MAX_K}, default 5)")
    p.add_argument(
        "--filter",
        action="append",
        metavar="KEY=VALUE",
        help="doc_id, source, date_from, date_to, or any metadata key; repeatable",
    )
    p.add_argument("--mode", choices=RETRIEVAL_MODES, help="retrieval mode")
    p.add_argument(
        "--json",
        action="store_true",
        help="print the answer model as JSON (with --file: one JSON answer per line)",
    )
    p.add_argument(
        "--file",
        metavar="FILE",
        help="answer a file of questions: one per line, or .jsonl records "
        '{"question", "id"?, "k"?, "filters"?, "mode"?}; - reads standard input',
    )
    p.add_argument(
        "--progress",
        action="store_true",
        help="with --file: show progress on stderr even when it is not a terminal",
    )
    p.set_defaults(handler=cmd_ask)

    from rag.compare_cli import register as register_compare

    register_compare(sub, _common)

    p = sub.add_parser("documents", help="list, show or delete documents")
    p.add_argument("action", choices=["list", "show", "delete"], help="what to do")
    p.add_argument("ids", nargs="*", metavar="ID", help="document ids (show, delete)")
    _common(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_documents)

    p = sub.add_parser("stats", help="what the index holds")
    _common(p)
    p.add_argument("--check", action="store_true", help="cross-check rows, full text and vectors")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_stats)

    if with_plugins:
        from importlib.metadata import entry_points

        for ep in entry_points(group="rag.commands"):
            register = ep.load()
            register(sub, _common)
    return parser


def _exit_code(exc: RagError) -> int:
    if isinstance(exc, IndexNotFoundError | IncompatibleIndexError):
        return EXIT_NO_INDEX
    if isinstance(exc, CorruptIndexError):
        return EXIT_CORRUPT
    if isinstance(exc, IndexPathError):
        return EXIT_INDEX_PATH
    if isinstance(exc, IndexFullError):
        return EXIT_NO_SPACE
    if isinstance(exc, ServeAddressError):
        return EXIT_ADDRESS
    if isinstance(exc, SettingsError | InvalidArgumentError):
        return EXIT_USAGE
    if isinstance(exc, IndexLockedError):
        return EXIT_LOCKED
    if isinstance(
        exc,
        InvalidQuestionError
        | InvalidFilterError
        | InvalidDocumentError
        | LoaderError
        | DocumentNotFoundError,
    ):
        return EXIT_BAD_INPUT
    return EXIT_ERROR


def _parse_args(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse; ``documents ACTION`` takes its ids before or after options."""
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "command", None) == "documents":
        ids = [a for a in extra if not a.startswith("-")]
        if len(ids) == len(extra):
            args.ids = [*args.ids, *ids]
            extra = []
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _shown(raw: str) -> str:
    """An argument as typed, its undecodable bytes as ``\\xNN``."""
    return raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def check_text_arguments(args: argparse.Namespace) -> None:
    """Document ids and filters are text: an argument holding bytes that are not UTF-8 (which
    Python hands over as lone surrogates) is refused here, naming it, instead of failing deep in
    the index. (Paths may hold any bytes; a question is checked as a question.)"""
    for what, values, hint in (
        ("document id", getattr(args, "ids", None), "`rag documents list` shows the ids"),
        ("filter", getattr(args, "filter", None), "e.g. --filter doc_id=ID --filter country=SWE"),
    ):
        for raw in values or ():
            try:
                raw.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidArgumentError(
                    f"{what} '{_shown(raw)}' is not UTF-8 text",
                    hint=f"give it as UTF-8 text; {hint}",
                ) from None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rag-foreign-policy")
    except PackageNotFoundError:
        return "0"


def _quiet_broken_pipe() -> int:
    """The reader went away (``rag ask … | head``): stop quietly, like a killed pipe writer."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(with_plugins=first not in BUILTIN)
    args = _parse_args(parser, argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # Libraries' own chatter: faiss logs each CPU-specific build it tries (not found is normal);
    # pypdf warns about damage that the loader reports itself as a failed file.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        check_text_arguments(args)
        settings = _settings(args)
        handler: Handler = args.handler
        code = handler(args, settings)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except RagError as exc:
        print(f"error: {printable(_one_line(exc.message))}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {printable(_one_line(exc.hint))}", file=sys.stderr)
        return _exit_code(exc)
    except KeyboardInterrupt:
        print("interrupted; the index keeps its last committed state", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {_one_line(exc.strerror or exc)}{where}", file=sys.stderr)
        logger.debug("details", exc_info=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            print(f"hint: {_one_line(IndexFullError.DEFAULT_HINT)}", file=sys.stderr)
            return EXIT_NO_SPACE
        return EXIT_ERROR
    except Exception as exc:  # the last resort: one line, the traceback only with -v
        print(f"error: unexpected {type(exc).__name__}: {_one_line(exc)[:300]}", file=sys.stderr)
        print("hint: run again with -v for details, and report it", file=sys.stderr)
        if args.verbose:
            logger.exception("unexpected error")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
