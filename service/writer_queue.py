"""Writes run outside the threads that serve reads: one writer thread behind a bounded queue.

``/ask``, ``/health`` and the ``GET`` routes run in the server's shared worker-thread pool. A write
must never hold one of those threads while it waits for the index's single writer, or a burst of
uploads would starve every reader. So a write request, on the event loop:

1. takes a slot in the write queue, or gets 503 with ``Retry-After`` when ``write_queue_size``
   writes are already pending, or when its client address already holds
   ``write_queue_per_client`` of them (nothing is read or parsed before that; a body that
   trickles in is cut off by ``body_timeout_s``);
2. has its upload parsed by a budgeted child process, waited for in the parse pool's own thread
   (:mod:`service.upload_worker`);
3. awaits its turn on the single writer thread, which embeds and commits.

A client that disconnects while its write waits has its parse child killed, or its write dropped
before it starts, so an abandoned upload does not hold the writer.

Waiting is an ``await`` on the event loop, which costs no thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TypeVar

from starlette.requests import Request

from service.errors import ClientGoneError, ServiceError

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds a client is told to wait when the queue is full.
RETRY_AFTER_S = 5
#: How often a waiting write checks whether its client is still there.
WATCH_INTERVAL_S = 0.25


class WriteQueueFullError(ServiceError):
    """Too many writes are pending; the client should retry later."""

    status = 503
    code = "write_queue_full"


async def _watch(request: Request, gone: threading.Event) -> None:
    """Set ``gone`` once the client of ``request`` (whose body has been read) disconnects."""
    while not await request.is_disconnected():
        await asyncio.sleep(WATCH_INTERVAL_S)
    logger.info("%s %s: the client left; its pending work is dropped", request.method, request.url)
    gone.set()


class WriteQueue:
    """Admission (bounded), upload parsing (own pool) and the single writer thread."""

    def __init__(self, size: int, *, per_client: int | None = None, parse_workers: int = 2) -> None:
        self.size = size
        self.per_client = per_client
        self._pending = 0
        self._by_client: dict[str, int] = {}
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-writer")
        self._parser = ThreadPoolExecutor(max_workers=parse_workers, thread_name_prefix="rag-parse")

    @property
    def pending(self) -> int:
        return self._pending

    @asynccontextmanager
    async def slot(self, client: str | None = None) -> AsyncIterator[None]:
        """Hold one of ``size`` places for the whole write, or raise 503 at once; ``client``
        (an address) may hold at most ``per_client`` of them, so one slow or hostile client
        cannot take every place."""
        if self._pending >= self.size:
            raise WriteQueueFullError(
                f"{self._pending} writes are already waiting; the limit is {self.size}",
                hint=f"retry in {RETRY_AFTER_S} s (RAG_WRITE_QUEUE_SIZE sets the limit)",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        mine = self._by_client.get(client, 0) if client is not None else 0
        if self.per_client is not None and client is not None and mine >= self.per_client:
            raise WriteQueueFullError(
                f"this client already has {mine} uploads in the write queue; the limit per "
                f"client is {self.per_client}",
                hint=f"wait for them to finish, then retry in {RETRY_AFTER_S} s "
                "(RAG_WRITE_QUEUE_PER_CLIENT sets the limit)",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        self._pending += 1
        if client is not None:
            self._by_client[client] = mine + 1
        try:
            yield
        finally:
            self._pending -= 1
            if client is not None:
                left = self._by_client.pop(client, 1) - 1
                if left > 0:
                    self._by_client[client] = left

    async def parse(self, fn: Callable[[threading.Event], T], request: Request | None = None) -> T:
        """Run ``fn`` (which waits for a parse child) in the parse pool. ``fn`` gets an event
        that is set when ``request``'s client disconnects, so it can stop the child."""
        gone = threading.Event()
        return await self._run(self._parser, lambda: fn(gone), gone, request)

    async def write(self, fn: Callable[[], T], request: Request | None = None) -> T:
        """Run ``fn`` on the single writer thread, after the writes queued before it; dropped
        when ``request``'s client has disconnected by the time its turn comes."""
        gone = threading.Event()

        def job() -> T:
            if gone.is_set():
                raise ClientGoneError("the client disconnected; its write was dropped")
            return fn()

        return await self._run(self._writer, job, gone, request)

    async def _run(
        self,
        pool: ThreadPoolExecutor,
        job: Callable[[], T],
        gone: threading.Event,
        request: Request | None,
    ) -> T:
        future = asyncio.get_running_loop().run_in_executor(pool, job)
        watcher = asyncio.create_task(_watch(request, gone)) if request is not None else None
        try:
            return await future
        finally:
            if watcher is not None:
                watcher.cancel()

    def close(self) -> None:
        self._parser.shutdown(wait=False, cancel_futures=True)
        self._writer.shutdown(wait=True, cancel_futures=True)
