"""Ingest on a Ray cluster (optional extra: ``pip install -e '.[ray]'``).

Nothing here imports ray at module level; :func:`rag.distributed.ingest.build_index_on_cluster`
imports it when called, so the default install never needs it. Reading, parsing and chunking run
as Ray tasks over work units (:mod:`rag.distributed.units`), embedding runs in a pool of actors
that each hold one ONNX Runtime session, and the driver is the index's single writer: it checks
content hashes, forms the same embedding groups as a local ingest and writes them in input order
through :func:`rag.ingest.drive`, so the final index is the one a local ingest would build.
"""
