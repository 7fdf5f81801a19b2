"""Question answering over foreign-policy documents with verifiable citations.

The Python API, loaded lazily so that ``import rag`` stays light::

    from rag import QASystem, Settings, Document
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.filters import Filters
    from rag.models import Answer, Document
    from rag.settings import Settings
    from rag.system import QASystem

__all__ = ["Answer", "Document", "Filters", "QASystem", "Settings", "__version__"]

_EXPORTS = {
    "QASystem": "rag.system",
    "Settings": "rag.settings",
    "Document": "rag.models",
    "Answer": "rag.models",
    "Filters": "rag.filters",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("rag-foreign-policy")
        except PackageNotFoundError:
            return "0"
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
