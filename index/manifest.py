"""The index manifest: which model, dimension and chunking built the index, and its format."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from index.errors import CorruptIndexError, IncompatibleIndexError

# 2: the FTS5 table holds analysed text (Snowball stems by language, CJK bigrams).
FORMAT_VERSION = 2
MANIFEST_NAME = "manifest.json"


class Manifest(BaseModel):
    """Written once when an index folder is created; checked every time it is opened."""

    format_version: int = FORMAT_VERSION
    model_name: str
    dimension: int = Field(..., ge=1)
    chunk_tokens: int = Field(..., ge=1)
    chunk_overlap_sentences: int = Field(..., ge=0)
    token_encoding: str
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())

    def check_compatible(self, *, model_name: str, dimension: int) -> None:
        """Refuse an index built with another embedding model."""
        if self.model_name != model_name or self.dimension != dimension:
            raise IncompatibleIndexError(
                f"index was built with model {self.model_name!r} (dimension {self.dimension}), "
                f"but {model_name!r} (dimension {dimension}) is configured",
                hint="configure the same model (RAG_MODEL_PATH), or ingest into a new index folder",
            )

    def check_chunking(self, *, chunk_tokens: int, overlap: int, token_encoding: str) -> None:
        """Refuse to mix chunking parameters inside one index."""
        ours = (self.chunk_tokens, self.chunk_overlap_sentences, self.token_encoding)
        theirs = (chunk_tokens, overlap, token_encoding)
        if ours != theirs:
            raise IncompatibleIndexError(
                f"index was chunked with tokens={ours[0]}, overlap={ours[1]}, encoding={ours[2]}; "
                f"settings ask for tokens={theirs[0]}, overlap={theirs[1]}, encoding={theirs[2]}",
                hint="use the index's chunking settings (RAG_CHUNK_TOKENS, "
                "RAG_CHUNK_OVERLAP_SENTENCES), or ingest into a new index folder",
            )


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise CorruptIndexError(f"cannot read {path}: {exc}") from exc
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if version != FORMAT_VERSION:
        raise IncompatibleIndexError(
            f"index format version {version!r} is not supported (this program reads version "
            f"{FORMAT_VERSION})",
            hint="rebuild the index: ingest the documents into a new index folder",
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        raise CorruptIndexError(f"invalid manifest {path}: {exc}") from exc


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Atomically write the manifest (temp file, fsync, rename)."""
    path = folder / MANIFEST_NAME
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(manifest.model_dump_json(indent=2))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
