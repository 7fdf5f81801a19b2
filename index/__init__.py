"""Storage engine: vectors (FAISS), chunk text and metadata (SQLite), lexical index (FTS5).

Knows nothing of questions or answers; ``rag`` builds on it.
"""

from index.errors import (
    CorruptIndexError,
    DocumentNotFoundError,
    IncompatibleIndexError,
    IndexFullError,
    IndexLockedError,
    IndexNotFoundError,
    InvalidDocumentError,
    InvalidFilterError,
    RagError,
)
from index.records import Chunk, ChunkFilter, Document, DocumentInfo, Sentence

__all__ = [
    "Chunk",
    "ChunkFilter",
    "CorruptIndexError",
    "Document",
    "DocumentInfo",
    "DocumentNotFoundError",
    "IncompatibleIndexError",
    "IndexFullError",
    "IndexLockedError",
    "IndexNotFoundError",
    "InvalidDocumentError",
    "InvalidFilterError",
    "RagError",
    "Sentence",
]
