"""Reading raw bytes from disk and naming file types, with loader-style errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from rag.errors import LoaderError


def os_reason(exc: OSError) -> str:
    """The operating system's reason for a failed read, as one line."""
    return f"cannot read file: {exc.strerror or exc}"


#: Largest single file read whole (a JSONL corpus is streamed and not bound by it).
MAX_FILE_BYTES = 512 * 1024 * 1024

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def open_regular(path: Path) -> BinaryIO:
    """Open ``path`` for reading only if it is (or links to) a regular file.

    Opened non-blocking, so a FIFO cannot hang the open; devices such as ``/dev/zero`` behind a
    ``z.txt`` symlink are refused before a byte is read. Raises :class:`LoaderError`.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        raise LoaderError(str(path), os_reason(exc)) from exc
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise LoaderError(str(path), "cannot read file: Is a directory")
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise LoaderError(str(path), f"{kind}; only regular files are ingested")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_file_bytes(path: Path, *, limit: int = MAX_FILE_BYTES) -> bytes:
    """All bytes of a regular file of at most ``limit`` bytes; anything else (missing,
    unreadable, a directory, FIFO or device, too large) raises :class:`LoaderError`."""
    with open_regular(path) as fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            if size > limit:
                raise LoaderError(str(path), f"file of {size} bytes; the limit is {limit}")
            data = fh.read(limit + 1)
        except OSError as exc:
            raise LoaderError(str(path), os_reason(exc)) from exc
    if len(data) > limit:
        raise LoaderError(str(path), f"file larger than the limit of {limit} bytes")
    return data


def base_name(filename: str) -> str:
    """The last component of a file name given with ``/`` or ``\\`` separators."""
    return PurePosixPath(filename.replace("\\", "/")).name


def suffix_of(filename: str) -> str:
    """The lower-cased suffix (``".txt"``) of a file name, or ``""``."""
    return PurePosixPath(base_name(filename)).suffix.lower()
