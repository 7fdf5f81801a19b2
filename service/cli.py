"""``rag serve``: run the HTTP service under uvicorn (registered under ``rag.commands``)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import Any

from rag.settings import Settings
from service.csrf import is_loopback

logger = logging.getLogger(__name__)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from rag.system import QASystem
    from service.app import create_app
    from service.auth import write_key

    # Open before binding: a missing or incompatible index is a clear error and exit code.
    system = QASystem.open(settings)
    try:
        if not is_loopback(settings.host) and write_key(settings) is None:
            logger.warning(
                "serving on %s without an API key: anyone who can reach it can add and delete "
                "documents (set RAG_API_KEY)",
                settings.host,
            )
        app = create_app(settings, system=system)
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            access_log=bool(getattr(args, "verbose", False)),
        )
    finally:
        system.close()
    return 0


def register(
    subparsers: Any, add_common_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add ``serve`` to the ``rag`` command line."""
    p = subparsers.add_parser("serve", help="serve the HTTP API and the web page over an index")
    add_common_options(p)
    p.add_argument("--host", help="address to bind (default: $RAG_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: $RAG_PORT or 8000)")
    p.set_defaults(handler=cmd_serve)
