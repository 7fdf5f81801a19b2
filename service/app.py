"""The HTTP service: :func:`create_app` builds the FastAPI application for one index.

The model and the index are loaded once, at start-up (the lifespan), and shared by all requests.
Questions run in worker threads against store snapshots, so they never block each other and
each sees the index as it was before or after a write, never in between. Writes never take those
threads: uploads are parsed in budgeted child processes and writes queue (bounded) for a single
writer thread (:mod:`service.writer_queue`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from rag.settings import Settings
from rag.system import QASystem
from rag.tokens import TiktokenCounter
from service.access_log import AccessLogMiddleware
from service.csrf import CrossSiteGuardMiddleware, is_loopback
from service.errors import install_error_handlers
from service.http_shape import ResponseHeadersMiddleware
from service.limits import BodyLimitMiddleware, BodyTimeoutMiddleware
from service.metrics import ServiceMetrics
from service.routes_ask import ask_router
from service.routes_compare import compare_router
from service.routes_docs import install_docs
from service.routes_documents import documents_router
from service.routes_filters import router as filters_router
from service.routes_health import router as health_router
from service.routes_page import page_router
from service.state import ServiceState
from service.upload_worker import ParseLimits, UploadParser
from service.writer_queue import WriteQueue

logger = logging.getLogger(__name__)

DESCRIPTION = """\
Question answering over foreign-policy documents. Every statement of an answer cites a verbatim
quote with its document id and character span (`document.text[char_start:char_end] == quote`);
when the documents do not answer, the service abstains and shows the closest passages.

Errors always have the body `{"error": {"code", "message", "hint", "details"}}`. Adding and
deleting documents needs `Authorization: Bearer <key>` when the server has an API key.
"""


def _package_version() -> str:
    try:
        return version("rag-foreign-policy")
    except PackageNotFoundError:
        return "0"


def create_app(settings: Settings, *, system: QASystem | None = None) -> FastAPI:
    """The application over ``settings.index_dir``, or over ``system`` when one is given.

    A given ``system`` stays the caller's to close; one opened here is closed at shutdown.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        qa = system if system is not None else await run_in_threadpool(QASystem.open, settings)
        writes = WriteQueue(settings.write_queue_size, per_client=settings.write_queue_per_client)
        try:
            await run_in_threadpool(qa.warm_up)
            uploads = UploadParser(ParseLimits.from_settings(settings))
            await run_in_threadpool(uploads.start)
            counter = TiktokenCounter(qa.manifest.token_encoding)
            app.state.service = ServiceState(
                settings=settings, system=qa, counter=counter, writes=writes, uploads=uploads
            )
            logger.info("serving the index at %s", settings.index_dir)
            yield
        finally:
            app.state.service = None
            writes.close()
            if system is None:
                qa.close()

    app = FastAPI(
        title="Foreign-policy QA",
        version=_package_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from the package by install_docs (no CDN)
        redoc_url=None,
    )

    def index_counts() -> dict[str, int]:
        state = getattr(app.state, "service", None)
        if state is None:
            return {}
        return dict(state.system.stats().counts)

    metrics = ServiceMetrics(index_counts)
    app.state.metrics = metrics

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    install_docs(app)
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(BodyTimeoutMiddleware, seconds=settings.body_timeout_s)
    app.add_middleware(
        CrossSiteGuardMiddleware,
        allowed_origins=settings.cors_origins,
        loopback_only=is_loopback(settings.host),
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(ResponseHeadersMiddleware)  # every response gets nosniff
    app.add_middleware(  # outermost: request id, access log and request metrics
        AccessLogMiddleware,
        metrics=metrics,
        routes=app.router.routes,
        log_questions=settings.log_questions,
    )
    app.include_router(health_router)
    app.include_router(ask_router(settings))
    app.include_router(compare_router(settings))
    app.include_router(filters_router)
    app.include_router(documents_router(settings))
    app.include_router(page_router())
    return app
