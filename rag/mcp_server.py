"""``rag mcp``: a Model Context Protocol server over stdio, answering through the same
:class:`~rag.system.QASystem` as the CLI and the HTTP service.

Tools: ``ask`` (an answer with citations, or an abstention), ``search`` (the retrieved passages
only) and ``get_document`` (a document's full text, to read a citation in context). Needs the
``mcp`` extra (``pip install 'rag-foreign-policy[mcp]'``).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import Any

from index.errors import DocumentNotFoundError
from rag.errors import ConfigurationError
from rag.settings import Settings

logger = logging.getLogger(__name__)


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
    def get_document(doc_id: str) -> dict[str, Any]:
        """A document with its full text (citations index into `text` by character)."""
        doc = system.get_document(doc_id)
        if doc is None:
            raise DocumentNotFoundError(f"no document {doc_id!r} in the index")
        return dict(doc.model_dump(mode="json"))

    return server


def cmd_mcp(args: argparse.Namespace, settings: Settings) -> int:
    from rag.system import QASystem

    system = QASystem.open(settings)
    try:
        server = build_server(system)
        logger.info("MCP server on stdio over %s", settings.index_dir)
        server.run(transport="stdio")
    finally:
        system.close()
    return 0


def register(
    subparsers: Any, add_common_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add ``mcp`` to the ``rag`` command line."""
    p = subparsers.add_parser(
        "mcp", help="serve ask, search and get_document to MCP clients over stdio"
    )
    add_common_options(p)
    p.set_defaults(handler=cmd_mcp)
