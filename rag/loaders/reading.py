"""Reading raw bytes from disk and naming file types, with loader-style errors."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from rag.errors import LoaderError


def os_reason(exc: OSError) -> str:
    """The operating system's reason for a failed read, as one line."""
    return f"cannot read file: {exc.strerror or exc}"


def read_file_bytes(path: Path) -> bytes:
    """All bytes of ``path``; missing, unreadable or directory paths raise :class:`LoaderError`."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LoaderError(str(path), os_reason(exc)) from exc


def base_name(filename: str) -> str:
    """The last component of a file name given with ``/`` or ``\\`` separators."""
    return PurePosixPath(filename.replace("\\", "/")).name


def suffix_of(filename: str) -> str:
    """The lower-cased suffix (``".txt"``) of a file name, or ``""``."""
    return PurePosixPath(base_name(filename)).suffix.lower()
