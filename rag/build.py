"""Building an index: open or create it for the model, ingest, export the query encoder."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from index.manifest import Manifest
from index.records import Document
from index.store import IndexStore
from rag.embedding import SentenceTransformerEmbedder
from rag.ingest import IngestEvent, IngestReport, ingest
from rag.loaders import LoadFailure
from rag.settings import Settings
from rag.system import encoder_folder, ingest_options
from rag.tokens import TiktokenCounter

logger = logging.getLogger(__name__)


def manifest_for(
    settings: Settings, embedder: SentenceTransformerEmbedder, encoding: str
) -> Manifest:
    return Manifest(
        model_name=embedder.model_name,
        dimension=embedder.dimension,
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap_sentences=settings.chunk_overlap_sentences,
        token_encoding=encoding,
    )


def open_for_ingest(
    settings: Settings, embedder: SentenceTransformerEmbedder, counter: TiktokenCounter
) -> IndexStore:
    """Open the index (refusing another model or chunking) or create it."""
    return IndexStore.open_or_create(
        settings.index_dir,
        manifest_for(settings, embedder, counter.name),
        nprobe=settings.ivf_nprobe,
    )


def ensure_query_encoder(index_dir: Path, embedder: SentenceTransformerEmbedder) -> bool:
    """Export the ONNX query encoder into the index unless a current one is there."""
    from rag.onnx_export import encoder_is_current, export_query_encoder

    folder = encoder_folder(index_dir)
    if encoder_is_current(folder, embedder.model_path):
        return False
    logger.info("exporting the ONNX query encoder to %s", folder)
    export_query_encoder(embedder.model_path, folder)
    return True


def build_index(
    settings: Settings,
    items: Iterable[Document | LoadFailure],
    *,
    embedder: SentenceTransformerEmbedder,
    counter: TiktokenCounter,
    on_event: Callable[[IngestEvent], None] | None = None,
) -> IngestReport:
    """Ingest ``items`` into ``settings.index_dir`` and make it ready to answer."""
    store = open_for_ingest(settings, embedder, counter)
    try:
        with store.writer(policy=settings.vector_index, ivf_threshold=settings.ivf_threshold) as w:
            report = ingest(
                items, w, embedder, counter, ingest_options(settings), on_event=on_event
            )
        ensure_query_encoder(settings.index_dir, embedder)
    finally:
        store.close()
    return report
