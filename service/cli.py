"""``rag serve``: run the HTTP service under uvicorn (registered under ``rag.commands``)."""

from __future__ import annotations

import argparse
import errno
import logging
import socket
from collections.abc import Callable
from typing import Any

from rag.errors import ServeAddressError
from rag.settings import Settings
from service.csrf import is_loopback

logger = logging.getLogger(__name__)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from rag.system import QASystem
    from service.app import create_app
    from service.auth import write_key
    from service.http_shape import protocol_with_timeouts

    # Open before binding: a missing, incompatible or damaged index is a clear error and exit
    # code (the snapshot verifies the catalog and the vector file's checksum).
    system = QASystem.open(settings)
    try:
        system.stats()
        sock = bind_socket(settings.host, settings.port)
        if not is_loopback(settings.host) and write_key(settings) is None:
            logger.warning(
                "serving on %s without an API key: anyone who can reach it can add and delete "
                "documents (set RAG_API_KEY)",
                settings.host,
            )
        app = create_app(settings, system=system)
        logging.getLogger("service.access").setLevel(logging.INFO)
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            access_log=False,  # service.access_log writes one structured line per request
            http=protocol_with_timeouts(settings.header_timeout_s),  # JSON 400s, header timeout
            timeout_keep_alive=settings.keep_alive_timeout_s,
        )
        url = server_url(settings.host, int(sock.getsockname()[1]))
        logger.info("listening on %s", url)
        # Always said (not only with -v): where the page is, and how to stop.
        print(f"Serving the page on {url}/ and the API on {url}/docs; Ctrl-C stops it.", flush=True)
        with sock:
            uvicorn.Server(config).run(sockets=[sock])
    finally:
        system.close()
    return 0


def server_url(host: str, port: int) -> str:
    """The URL to open for a server bound to ``host:port`` (IPv6 in brackets; a wildcard
    address as ``127.0.0.1``/``[::1]``, which a browser on this machine can open)."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def bind_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or :class:`ServeAddressError` (in use, not permitted)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeAddressError(
            f"cannot listen on {host}:{port}: unknown host ({exc.strerror})",
            hint="give an address with --host, e.g. 127.0.0.1",
        ) from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        in_use = exc.errno == errno.EADDRINUSE
        raise ServeAddressError(
            f"cannot listen on {host}:{port}: "
            + ("the port is in use" if in_use else str(exc.strerror or exc)),
            hint="choose another port with --port (or RAG_PORT)"
            if in_use
            else "choose another --host/--port",
        ) from exc
    return sock


def register(
    subparsers: Any, add_common_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add ``serve`` to the ``rag`` command line."""
    p = subparsers.add_parser("serve", help="serve the HTTP API and the web page over an index")
    add_common_options(p)
    p.add_argument("--host", help="address to bind (default: $RAG_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: $RAG_PORT or 8000)")
    p.set_defaults(handler=cmd_serve)
