"""Prometheus metrics of one service (``GET /metrics``), in a registry of its own.

- ``rag_http_requests_total{route, method, status}`` — every response, by route template
  (``/documents/{doc_id}``, not the id; ``unmatched`` for unknown paths);
- ``rag_http_request_duration_seconds{route}`` — request latency;
- ``rag_ask_stage_seconds{stage}`` — where an answer's time goes: ``encode``, ``retrieve``,
  ``answer``;
- ``rag_answers_total{abstained}`` — answers given and abstentions (the abstention rate is
  ``rag_answers_total{abstained="true"} / sum(rag_answers_total)``);
- ``rag_index_documents``, ``rag_index_chunks``, ``rag_index_sentences`` — what the index holds,
  read from a snapshot at each scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from rag.models import Answer

logger = logging.getLogger(__name__)

#: Stage latencies run from ~1 ms (encode) to seconds (a cold reranker on a loaded machine).
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class IndexSizeCollector(Collector):
    """Index counts, read when scraped (``counts`` returns {} while the service starts)."""

    def __init__(self, counts: Callable[[], Mapping[str, int]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        try:
            counts = self.counts()
        except Exception:  # a scrape never fails because the index is busy or damaged
            logger.debug("index counts unavailable", exc_info=True)
            counts = {}
        for key in ("documents", "chunks", "sentences"):
            if key in counts:
                family = GaugeMetricFamily(f"rag_index_{key}", f"{key.capitalize()} in the index.")
                family.add_metric([], float(counts[key]))
                yield family


class ServiceMetrics:
    """The service's metrics; one instance per application."""

    def __init__(self, counts: Callable[[], Mapping[str, int]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "rag_http_requests",
            "HTTP responses by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rag_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["route"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.stages = Histogram(
            "rag_ask_stage_seconds",
            "Time an answer spends in each stage: encode, retrieve, answer.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "rag_answers",
            "Answers given, by whether the system abstained.",
            ["abstained"],
            registry=self.registry,
        )
        for value in ("true", "false"):
            self.answers.labels(abstained=value)
        for stage in ("encode", "retrieve", "answer"):
            self.stages.labels(stage=stage)
        self.registry.register(IndexSizeCollector(counts))

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route=route, method=method, status=str(status)).inc()
        self.latency.labels(route=route).observe(seconds)

    def observe_answer(self, answer: Answer) -> None:
        self.answers.labels(abstained="true" if answer.abstained else "false").inc()
        for stage in ("encode", "retrieve", "answer"):
            ms = answer.timings_ms.get(stage)
            if ms is not None:
                self.stages.labels(stage=stage).observe(ms / 1000.0)
