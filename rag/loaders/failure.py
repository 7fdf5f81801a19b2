"""The record of one input that could not be loaded."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rag.errors import LoaderError, UnsupportedFileTypeError


def unexpected_reason(exc: BaseException) -> str:
    """One line for an exception a parser raised on hostile or broken content (nesting deeper
    than Python's stack, a count too large for memory, a bad number or encoding): the file is a
    failed file, never the end of an ingest."""
    if isinstance(exc, RecursionError):
        return "the file is nested too deeply to read"
    if isinstance(exc, MemoryError):
        return "reading the file needs more memory than is available"
    detail = " ".join(str(exc).split())[:200]
    return f"unreadable content ({type(exc).__name__}{': ' + detail if detail else ''})"


class LoadFailure(BaseModel):
    """One file (or one JSONL record) that could not be turned into a document.

    Iteration over many inputs yields these instead of raising, so one bad file never stops an
    ingest run.
    """

    model_config = ConfigDict(frozen=True)

    path: str = Field(..., description="The file as given or as found under a directory.")
    reason: str = Field(..., description="One line saying what is wrong and what to do.")
    record: int | None = Field(default=None, description="1-based line of a bad JSONL record.")
    skipped: bool = Field(
        default=False, description="True when the file is of a type ingest does not read."
    )

    @classmethod
    def from_error(cls, error: LoaderError) -> LoadFailure:
        skipped = isinstance(error, UnsupportedFileTypeError)
        return cls(path=error.path, reason=error.reason, skipped=skipped)

    def __str__(self) -> str:
        where = f"{self.path}:{self.record}" if self.record is not None else self.path
        return f"{where}: {self.reason}"
