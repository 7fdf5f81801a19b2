"""Pipeline-side errors, extending the single hierarchy rooted at :class:`index.errors.RagError`."""

from __future__ import annotations

from index.errors import InvalidFilterError, RagError


class LoaderError(RagError):
    """A file could not be turned into documents (unreadable, empty, binary, encrypted, corrupt)."""

    def __init__(self, path: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"{path}: {reason}", hint=hint)
        self.path = path
        self.reason = reason


class UnsupportedFileTypeError(LoaderError):
    """The file's type is not one ingest accepts."""


class InvalidQuestionError(RagError):
    """The question is empty, too long or otherwise unusable."""


class InvalidComparisonError(InvalidFilterError):
    """A comparison cannot group as asked: an unknown grouping key, a key no document carries,
    or more groups than ``Settings.compare_max_groups``."""


class ModelError(RagError):
    """The embedding model could not be loaded or run."""


class ConfigurationError(RagError):
    """A setting is missing or contradicts another."""


class SettingsError(ConfigurationError):
    """A setting (option or ``RAG_*`` variable) has a value of the wrong form."""


class InvalidArgumentError(RagError):
    """A command-line argument cannot be used as given (bytes that are not UTF-8 text, say)."""


class ServeAddressError(RagError):
    """The service cannot listen on the address asked for (in use, not permitted, unknown)."""


class ClusterError(RagError):
    """A cluster run (``rag ingest --ray``) failed: workers lost beyond their retries, or a task
    raised."""
