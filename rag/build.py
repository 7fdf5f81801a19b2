"""Building an index: open or create it for the model, export the encoder, ingest.

The embedding model runs in ONNX Runtime for ingest and queries alike. torch (through
sentence-transformers) is needed only once per index, to export the model into
``<index>/encoder``; the export is checked against torch before it is kept, and its vectors match
sentence-transformers' to cosine >= 0.9999.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable, Iterable

from index.manifest import Manifest
from index.records import Document
from index.store import IndexStore
from rag.embedding import Embedder, SentenceTransformerEmbedder
from rag.embedding.onnx_runtime import OnnxQueryEncoder
from rag.ingest import IngestEvent, IngestReport, ingest
from rag.loaders.failure import LoadFailure
from rag.settings import Settings
from rag.system import encoder_folder, ingest_options, open_writer
from rag.tokens import TiktokenCounter

logger = logging.getLogger(__name__)


def manifest_for(settings: Settings, embedder: Embedder, encoding: str) -> Manifest:
    return Manifest(
        model_name=embedder.model_name,
        dimension=embedder.dimension,
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap_sentences=settings.chunk_overlap_sentences,
        token_encoding=encoding,
    )


def embed_threads(settings: Settings) -> int:
    return settings.embed_threads or os.cpu_count() or 1


def open_for_ingest(
    settings: Settings,
    counter: TiktokenCounter,
    *,
    on_export: Callable[[], None] | None = None,
) -> tuple[IndexStore, OnnxQueryEncoder]:
    """Open the index (refusing another model or chunking) or create it; make sure its encoder
    is a current export of the configured model, exporting it when not."""
    from rag.embedding.onnx_export import encoder_is_current, export_query_encoder

    model = SentenceTransformerEmbedder(settings.model_path)  # reads config only, loads nothing
    store = IndexStore.open_or_create(
        settings.index_dir, manifest_for(settings, model, counter.name), nprobe=settings.ivf_nprobe
    )
    folder = encoder_folder(settings.index_dir)
    if not encoder_is_current(folder, str(model.model_path)):
        if on_export is not None:
            on_export()
        logger.info("exporting %s to ONNX in %s", model.model_name, folder)
        export_query_encoder(str(model.model_path), folder)
    encoder = OnnxQueryEncoder(folder, threads=embed_threads(settings))
    encoder.warm_up()
    return store, encoder


def build_index(
    settings: Settings,
    items: Iterable[Document | LoadFailure],
    *,
    counter: TiktokenCounter | None = None,
    on_event: Callable[[IngestEvent], None] | None = None,
    on_export: Callable[[], None] | None = None,
) -> IngestReport:
    """Ingest ``items`` into ``settings.index_dir``; the index answers as soon as this returns.

    Inputs are read up to the first loadable document before anything else happens: when there
    is none, the failures are reported (events and report) and no index is created or opened,
    and no model is loaded (``report.documents == 0``).
    """
    started = time.perf_counter()
    stream = iter(items)
    head: list[Document | LoadFailure] = []
    for item in stream:
        head.append(item)
        if isinstance(item, Document):
            break
    else:
        report = IngestReport()
        run_failures = [i for i in head if isinstance(i, LoadFailure)]
        for failure in run_failures:
            if failure.skipped:
                report.skipped += 1
            else:
                report.failed += 1
            report.failures.append(failure)
            if on_event is not None:
                on_event(IngestEvent("failure", failure=failure))
        report.seconds = time.perf_counter() - started
        return report
    counter = counter or TiktokenCounter()
    store, encoder = open_for_ingest(settings, counter, on_export=on_export)
    prepared = time.perf_counter()
    try:
        options = ingest_options(store.manifest, settings)
        with open_writer(store, settings) as w:
            report = ingest(
                itertools.chain(head, stream), w, encoder, counter, options, on_event=on_event
            )
    finally:
        store.close()
    report.prepare_seconds = prepared - started
    return report
