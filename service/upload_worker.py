"""Parsing uploads in a separate, short-lived process with budgets.

An uploaded file is untrusted: a 0.2 MB PDF can decompress to hundreds of MB, a 2 MB HTML page
can keep a parser busy for minutes. So the service never parses an upload in its own process.
Each upload is parsed by a fresh child process (forked from a ``forkserver`` that has the loaders
imported, so a child starts in milliseconds) under these budgets:

- address space: ``RLIMIT_AS`` = what the child already maps + ``memory_bytes``;
- time: ``RLIMIT_CPU`` and a wall-clock deadline after which the parent kills the child;
- pages (PDF) and tags (HTML) counted before the parser runs;
- characters of text the upload yields.

Over a budget the child is gone and its memory with it; the caller gets
:class:`UploadTooComplexError` naming the limit. The parent waits for the child in a thread of its
own pool, never on the event loop.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

from index.records import Document
from rag.errors import LoaderError, UnsupportedFileTypeError
from rag.settings import Settings
from service.errors import ClientGoneError, ServiceError

logger = logging.getLogger(__name__)

#: Modules the forkserver imports once, so that each child starts with them loaded.
PRELOAD = ["rag.loaders", "rag.loaders.pdf", "rag.loaders.html", "service.upload_worker"]


class UploadTooComplexError(ServiceError):
    """Parsing the upload would exceed one of the server's budgets (size after decompression,
    pages, elements, memory or time)."""

    status = 413
    code = "upload_too_complex"


@dataclass(frozen=True)
class ParseLimits:
    """The budgets of one upload's parse."""

    seconds: float
    memory_bytes: int
    max_chars: int
    max_pages: int
    max_elements: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ParseLimits:
        return cls(
            seconds=settings.upload_parse_seconds,
            memory_bytes=settings.upload_parse_memory_bytes,
            max_chars=settings.upload_max_chars,
            max_pages=settings.upload_max_pages,
            max_elements=settings.upload_max_elements,
        )


# --- in the child ----------------------------------------------------------------------------
def _mapped_bytes() -> int:
    """Virtual memory the process maps now (``/proc/self/statm``), 0 when unknown."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _apply_budgets(limits: ParseLimits) -> None:
    mapped = _mapped_bytes()
    if mapped:
        cap = mapped + limits.memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    seconds = max(1, int(limits.seconds) + 1)
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))


def _count_budgets(filename: str, data: bytes, limits: ParseLimits) -> str | None:
    """The budget the raw upload already exceeds, or None."""
    from rag.loaders.reading import suffix_of

    suffix = suffix_of(filename)
    if suffix in (".html", ".htm"):
        tags = data.count(b"<")
        if tags > limits.max_elements:
            return f"the page has more than {limits.max_elements} HTML tags"
    elif suffix == ".pdf":
        from pypdf import PdfReader

        try:
            pages = len(PdfReader(io.BytesIO(data)).pages)
        except Exception:  # the loader reports a damaged PDF in its own words
            return None
        if pages > limits.max_pages:
            return f"the PDF has {pages} pages; the limit is {limits.max_pages}"
    return None


def _child(
    conn: multiprocessing.connection.Connection,
    filename: str,
    data: bytes,
    doc_id: str | None,
    limits: ParseLimits,
) -> None:
    """Parse and send back ``("ok", [document dicts])`` or ``(kind, label, reason)``."""
    from rag.loaders import load_bytes

    try:
        _apply_budgets(limits)
        over = _count_budgets(filename, data, limits)
        if over is not None:
            conn.send(("budget", filename, over))
            return
        documents = load_bytes(filename, data, doc_id=doc_id)
        chars = sum(len(d.text) for d in documents)
        if chars > limits.max_chars:
            conn.send(
                (
                    "budget",
                    filename,
                    f"the upload yields {chars} characters of text; "
                    f"the limit is {limits.max_chars}",
                )
            )
            return
        conn.send(("ok", [d.model_dump() for d in documents]))
    except UnsupportedFileTypeError as exc:
        conn.send(("unsupported", exc.path, exc.reason))
    except LoaderError as exc:
        conn.send(("loader", exc.path, exc.reason))
    except MemoryError:
        conn.send(("budget", filename, "parsing it needs more memory than the server allows"))
    except RecursionError:
        conn.send(("loader", filename, "the file is nested too deeply to parse"))
    except Exception as exc:  # any other parser exception on hostile content: a failed file
        from rag.loaders.failure import unexpected_reason

        conn.send(("loader", filename, unexpected_reason(exc)))
    finally:
        conn.close()


# --- in the server ---------------------------------------------------------------------------
class UploadParser:
    """Parses uploads in budgeted child processes; thread-safe, call from worker threads."""

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self._ctx: Any = multiprocessing.get_context("forkserver")
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        """Start the forkserver with the loaders imported (slow once; call at start-up)."""
        with self._lock:
            if self._started:
                return
            multiprocessing.set_forkserver_preload(PRELOAD)
            self._started = True
        # A trivial child makes the forkserver start and import now, not at the first upload.
        proc = self._ctx.Process(target=os.getpid, daemon=True)
        proc.start()
        proc.join(60)

    def parse(
        self,
        filename: str,
        data: bytes,
        doc_id: str | None,
        cancel: threading.Event | None = None,
    ) -> list[Document]:
        """The documents of one upload, or a loader error, or :class:`UploadTooComplexError`;
        :class:`ClientGoneError` (the child killed) once ``cancel`` is set."""
        self.start()
        receiver, sender = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(
            target=_child, args=(sender, filename, data, doc_id, self.limits), daemon=True
        )
        proc.start()
        sender.close()
        try:
            result = self._receive(receiver, proc, filename, cancel)
        finally:
            receiver.close()
            if proc.is_alive():
                proc.kill()
            proc.join(10)
        return self._documents(result, filename)

    def _wait(
        self, receiver: multiprocessing.connection.Connection, cancel: threading.Event | None
    ) -> bool:
        """Whether the child answered (or died) within the time budget."""
        deadline = time.monotonic() + self.limits.seconds
        while (left := deadline - time.monotonic()) > 0:
            if receiver.poll(min(left, 0.2)):
                return True
            if cancel is not None and cancel.is_set():
                raise ClientGoneError("the client disconnected; its upload was dropped")
        return False

    def _receive(
        self,
        receiver: multiprocessing.connection.Connection,
        proc: Any,
        filename: str,
        cancel: threading.Event | None,
    ) -> Any:
        limits = self.limits
        if not self._wait(receiver, cancel):
            proc.kill()
            proc.join(10)
            if (
                proc.exitcode is not None
                and proc.exitcode < 0
                and proc.exitcode not in (-signal.SIGKILL,)
            ):
                return ("budget", filename, self._signal_reason(-proc.exitcode))
            return ("budget", filename, f"parsing it takes longer than {limits.seconds:g} s")
        try:
            return receiver.recv()
        except (EOFError, OSError):
            proc.join(10)
            code = proc.exitcode
            reason = (
                self._signal_reason(-code)
                if code is not None and code < 0
                else "parsing it needs more memory than the server allows"
            )
            return ("budget", filename, reason)

    def _signal_reason(self, signum: int) -> str:
        if signum == signal.SIGXCPU:
            return f"parsing it takes longer than {self.limits.seconds:g} s"
        return "parsing it needs more memory or time than the server allows"

    @staticmethod
    def _documents(result: Any, filename: str) -> list[Document]:
        kind = result[0]
        if kind == "ok":
            return [Document.model_validate(d) for d in result[1]]
        _, label, reason = result
        if kind == "unsupported":
            raise UnsupportedFileTypeError(label, reason)
        if kind == "loader":
            raise LoaderError(label, reason)
        logger.warning("upload %r refused: %s", filename, reason)
        raise UploadTooComplexError(
            f"{label}: {reason}",
            hint="split the file, or raise the server's RAG_UPLOAD_* limits",
        )
