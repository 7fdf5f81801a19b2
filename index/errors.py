"""The one error hierarchy of the project.

Every domain error derives from :class:`RagError`. Each carries a message that says what went
wrong and, where it helps, a ``hint`` that says what to do. The CLI maps these to exit codes and
the HTTP service to statuses; nothing below those edges prints or exits.
"""

from __future__ import annotations


class RagError(Exception):
    """Base of every error raised by ``index``, ``rag``, ``service`` and ``eval``."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class IndexNotFoundError(RagError):
    """No index exists at the given folder."""


class IncompatibleIndexError(RagError):
    """The index was built with another model, dimension or an unknown format version."""


class CorruptIndexError(RagError):
    """The index folder is damaged beyond what crash recovery can repair."""

    #: What to do, when the raiser gives no more precise hint.
    DEFAULT_HINT = (
        "restore the index folder from a backup, or re-ingest the documents into a new index"
    )

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or self.DEFAULT_HINT)


class IndexFullError(RagError):
    """The disk (or quota) holding the index is full: a write could not be completed. The index
    keeps its last committed state."""

    DEFAULT_HINT = (
        "free disk space where the index lives (or raise the quota), then run the write again; "
        "the index keeps its last committed state"
    )

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or self.DEFAULT_HINT)


class IndexPathError(RagError):
    """The index folder path cannot hold an index: it is a file, lies under a file, or is on a
    file system that refuses it (e.g. /proc)."""


class IndexLockedError(RagError):
    """Another process is writing to the index."""


class DocumentNotFoundError(RagError):
    """No document with that id is in the index."""


class InvalidDocumentError(RagError):
    """A document is malformed (empty id, empty text, bad metadata)."""


class InvalidFilterError(RagError):
    """A retrieval filter names an unknown field or has a malformed value."""
