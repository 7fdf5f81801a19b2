"""``rag mcp``: a Model Context Protocol server over stdio, answering through the same
:class:`~rag.system.QASystem` as the CLI and the HTTP service.

Tools: ``ask`` (an answer with citations, or an abstention), ``search`` (the retrieved passages
only), ``compare`` (one question asked of every country, session, year or source: a cited
table) and ``get_document`` (a document's full text, to read a citation in context). Needs the
``mcp`` extra (``pip install 'rag-foreign-policy[mcp]'``).

The stdio transport is this module's own (:func:`serve_stdio`), not the SDK's: every line gets a
JSON-RPC answer where one is due (a line that is not JSON: -32700; not a request object, or
strings that are not Unicode text: -32600; ``params`` that are not an object: -32602), the
client closing its end is a normal exit (status 0), and standard output is never closed under
the command. The server reports the project's version, not the SDK's.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from typing import Any, BinaryIO

from index.errors import DocumentNotFoundError
from rag.errors import ConfigurationError
from rag.settings import Settings

logger = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
#: The longest line read as one message; a longer one is refused (-32600) and skipped.
MAX_LINE_BYTES = 16 * 1024 * 1024


def project_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rag-foreign-policy")
    except PackageNotFoundError:
        return "0"


def error_reply(message_id: Any, code: int, text: str) -> bytes:
    """One JSON-RPC error response, as a line."""
    body = {"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": text}}
    return json.dumps(body, ensure_ascii=True).encode("ascii") + b"\n"


def _is_text(value: Any) -> bool:
    """Whether every string (and key) in a parsed JSON value is Unicode text: JSON's ``\\ud800``
    escapes give lone surrogates, which no UTF-8 output can carry."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def screen_line(line: bytes) -> tuple[Any, bytes | None]:
    """A line from the client as ``(message, None)`` to hand to the MCP session, or
    ``(None, reply)`` with the error reply it gets, or ``(None, None)`` to drop (a blank line,
    or a bad notification or response, which nobody waits for)."""
    import mcp.types as types
    from pydantic import ValidationError

    text = line.strip()
    if not text:
        return None, None
    try:
        raw = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return None, error_reply(None, PARSE_ERROR, f"Parse error: {exc}")
    if not isinstance(raw, dict):
        return None, error_reply(
            None, INVALID_REQUEST, "Invalid Request: a message is a JSON object"
        )
    message_id = raw.get("id")
    valid_id = isinstance(message_id, str | int) and not isinstance(message_id, bool)
    reply_id = message_id if valid_id and _is_text(message_id) else None
    awaited = "method" in raw and "id" in raw  # a request: its sender waits for an answer
    if not _is_text(raw):
        logger.info("MCP message with strings that are not Unicode text")
        return None, (
            error_reply(
                reply_id,
                INVALID_REQUEST,
                "Invalid Request: strings must be Unicode text (a lone surrogate such as "
                "\\udcff is not)",
            )
            if awaited
            else None
        )
    if "params" in raw and raw["params"] is not None and not isinstance(raw["params"], dict):
        logger.info("MCP message whose params are not an object")
        return None, (
            error_reply(reply_id, INVALID_PARAMS, "Invalid params: params must be an object")
            if awaited
            else None
        )
    try:
        message = types.JSONRPCMessage.model_validate(raw)
    except ValidationError as exc:
        logger.info("invalid MCP message: %s", exc)
        first = exc.errors()[0]["msg"] if exc.errors() else "invalid"
        return None, (
            error_reply(reply_id, INVALID_REQUEST, f"Invalid Request: {first}") if awaited else None
        )
    return message, None


async def serve_stdio(server: Any, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Run the FastMCP ``server``'s session over ``stdin``/``stdout`` (binary, one JSON-RPC
    message a line) until the client closes its end."""
    import anyio
    from mcp.shared.message import SessionMessage

    lowlevel = server._mcp_server
    read_writer, read_stream = anyio.create_memory_object_stream[Any](0)
    write_stream, write_reader = anyio.create_memory_object_stream[Any](0)
    out_lock = anyio.Lock()
    gone = False  # the client stopped reading: answers are dropped

    def write(data: bytes) -> None:
        nonlocal gone
        if gone:
            return
        try:
            stdout.write(data)
            stdout.flush()
        except (BrokenPipeError, ValueError, OSError):
            gone = True

    async def emit(data: bytes) -> None:
        async with out_lock:
            await anyio.to_thread.run_sync(write, data)

    async def read_lines() -> None:
        async with read_writer:
            while True:
                line = await anyio.to_thread.run_sync(
                    stdin.readline, MAX_LINE_BYTES, abandon_on_cancel=True
                )
                if not line:
                    return  # the client closed its end
                if len(line) >= MAX_LINE_BYTES and not line.endswith(b"\n"):
                    while (
                        rest := await anyio.to_thread.run_sync(
                            stdin.readline, MAX_LINE_BYTES, abandon_on_cancel=True
                        )
                    ) and not rest.endswith(b"\n"):
                        pass
                    await emit(
                        error_reply(
                            None, INVALID_REQUEST, f"Invalid Request: over {MAX_LINE_BYTES} bytes"
                        )
                    )
                    continue
                message, reply = screen_line(line)
                if reply is not None:
                    await emit(reply)
                elif message is not None:
                    await read_writer.send(SessionMessage(message))

    async def write_messages() -> None:
        async with write_reader:
            async for session_message in write_reader:
                text = session_message.message.model_dump_json(by_alias=True, exclude_none=True)
                await emit(text.encode("utf-8", "backslashreplace") + b"\n")

    async with anyio.create_task_group() as tg:
        reading = anyio.CancelScope()

        async def reader() -> None:
            with reading:
                await read_lines()

        tg.start_soon(reader)
        tg.start_soon(write_messages)
        async with write_stream:
            await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
        reading.cancel()  # the session ended first (it does on EOF, after the reader)


def build_server(system: Any) -> Any:
    """A FastMCP server whose tools call ``system`` (a :class:`~rag.system.QASystem`)."""
    try:
        from mcp.server.fastmcp import FastMCP
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError(
            "the MCP server needs the 'mcp' package",
            hint="pip install 'rag-foreign-policy[mcp]'",
        ) from exc

    server = FastMCP(
        "rag",
        instructions="Answers questions about foreign-policy documents with verbatim, located "
        "citations; abstains when the documents do not answer.",
    )
    server._mcp_server.version = project_version()  # the SDK reports its own otherwise

    @server.tool()
    def ask(
        question: str,
        k: int | None = None,
        filters: dict[str, Any] | None = None,
        mode: str | None = None,
    ) -> dict[str, Any]:
        """Answer a question from the documents. Every sentence carries [n] markers that refer
        to citations (document id, character span, verbatim quote, date, metadata); when the
        documents do not answer, `abstained` is true. `filters` takes doc_id, source,
        date_from, date_to and metadata keys such as country."""
        answer = system.ask(question, k=k, filters=filters, mode=mode)
        return dict(answer.model_dump(mode="json"))

    @server.tool()
    def search(
        query: str, k: int | None = None, filters: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The passages most relevant to a query (hybrid retrieval), each with its document,
        span, text, rank and 0..1 relevance."""
        answer = system.ask(query, k=k, filters=filters)
        return [p.model_dump(mode="json", exclude={"debug"}) for p in answer.passages]

    @server.tool()
    def compare(
        question: str,
        by: str,
        groups: list[str] | None = None,
        filters: dict[str, Any] | None = None,
        k: int | None = None,
        mode: str | None = None,
    ) -> dict[str, Any]:
        """Ask one question of every group of documents — each country, session, year (`by`:
        "date") or source — and get a table: one row per group with its cited answer (as
        `ask` gives it, from that group's documents only), `declined` where they are silent,
        or `no_documents`. `groups` names the groups (e.g. ["USA", "CHN"]); without it every
        group under `filters` is asked and the rows keep those that answer, most confident
        first, the silent ones listed in `declined`. E.g. question "What did China say about
        climate finance?", by "country", filters {"session": 78}."""
        table = system.compare(question, by=by, groups=groups, filters=filters, k=k, mode=mode)
        return dict(table.model_dump(mode="json"))

    @server.tool()
    def get_document(doc_id: str) -> dict[str, Any]:
        """A document with its full text (citations index into `text` by character)."""
        doc = system.get_document(doc_id)
        if doc is None:
            raise DocumentNotFoundError(f"no document {doc_id!r} in the index")
        return dict(doc.model_dump(mode="json"))

    return server


def cmd_mcp(args: argparse.Namespace, settings: Settings) -> int:
    import sys

    import anyio

    from rag.system import QASystem

    system = QASystem.open(settings)
    try:
        server = build_server(system)
        logger.info("MCP server on stdio over %s", settings.index_dir)
        anyio.run(serve_stdio, server, sys.stdin.buffer, sys.stdout.buffer)
    finally:
        system.close()
    return 0


def register(
    subparsers: Any, add_common_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add ``mcp`` to the ``rag`` command line."""
    p = subparsers.add_parser(
        "mcp", help="serve ask, search, compare and get_document to MCP clients over stdio"
    )
    add_common_options(p)
    p.set_defaults(handler=cmd_mcp)
