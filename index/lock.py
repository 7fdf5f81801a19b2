"""One writer at a time: an advisory, process-wide lock on a file in the index folder.

``flock`` is released by the kernel when the holder dies, so a killed writer never leaves a stale
lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from index.errors import IndexLockedError, IndexPathError

LOCK_NAME = "writer.lock"


class WriterLock:
    def __init__(self, folder: Path) -> None:
        self._path = folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise IndexPathError(
                f"cannot write to the index at {self._path.parent}: {exc.strerror or exc}",
                hint="the index is read-only here: ask and list work; write to a writable copy",
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise IndexLockedError(
                f"another process is writing to the index at {self._path.parent}",
                hint="wait for the other ingest or delete to finish, then retry",
            ) from exc
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
