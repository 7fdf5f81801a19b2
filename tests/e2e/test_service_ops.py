"""Operations: access log with request ids, Prometheus /metrics, offline /docs, HTTP 422 for
unknown filter keys. A real `rag serve` process; /docs is also rendered in headless Chromium
with every host but the loopback unresolvable."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.settings import Settings
from tests.e2e.test_service_process import CHROMIUM, QUESTION, Server, chromium_command
from tests.processes import serving_a_copy

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def ops_server(
    article_index: Settings, index_copier: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("ops")
    with serving_a_copy(article_index.index_dir, index_copier, base, Server) as running:
        yield running


def wait_for_log(server: Server, text: str, timeout: float = 10.0) -> str:
    """The server's log once it holds ``text`` (lines are written as responses finish)."""
    deadline = time.monotonic() + timeout
    while True:
        log = server.log_path.read_text()
        if text in log or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def test_access_log_and_request_ids(ops_server: Server) -> None:
    r = ops_server.http.post(
        "/ask", json={"question": QUESTION}, headers={"X-Request-ID": "trace-42.a_b"}
    )
    assert r.status_code == 200 and r.headers["x-request-id"] == "trace-42.a_b"
    bad = ops_server.http.get("/health", headers={"X-Request-ID": "has spaces\tand tabs"})
    generated = bad.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    missing = ops_server.http.get("/documents/no-such-doc")
    assert missing.status_code == 404 and missing.headers["x-request-id"]
    log = wait_for_log(ops_server, "path=/documents/no-such-doc")
    line = re.search(
        r"INFO service\.access: method=POST path=/ask route=/ask status=200 "
        r"duration_ms=[0-9.]+ request_id=trace-42\.a_b\n",
        log,
    )
    assert line, log[-3000:]
    assert f"request_id={generated}" in log
    assert re.search(
        r"path=/documents/no-such-doc route=/documents/\{doc_id:path\} status=404", log
    ), log[-3000:]
    assert QUESTION not in log  # questions are not logged unless RAG_LOG_QUESTIONS is set


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        found = dict(re.findall(r'(\w+)="([^"]*)"', head))
        if head.split("{")[0] == name and all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    raise AssertionError(f"{name}{labels} not in /metrics:\n{text[:3000]}")


def test_metrics_in_prometheus_format(ops_server: Server) -> None:
    before = ops_server.http.get("/metrics").text
    asked = metric(before, "rag_http_requests_total", route="/ask", method="POST", status="200")
    for _ in range(2):
        assert ops_server.http.post("/ask", json={"question": QUESTION}).status_code == 200
    off_topic = ops_server.http.post("/ask", json={"question": "What is the price of bread?"})
    assert off_topic.status_code == 200 and off_topic.json()["abstained"] is True
    r = ops_server.http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert "# TYPE rag_http_requests_total counter" in text
    assert (
        metric(text, "rag_http_requests_total", route="/ask", method="POST", status="200")
        == asked + 3
    )
    for stage in ("encode", "retrieve", "answer"):
        assert metric(text, "rag_ask_stage_seconds_count", stage=stage) >= 3
        assert metric(text, "rag_ask_stage_seconds_bucket", stage=stage, le="+Inf") >= 3
    assert metric(text, "rag_answers_total", abstained="true") >= 1
    assert metric(text, "rag_answers_total", abstained="false") >= 1
    assert metric(text, "rag_http_request_duration_seconds_count", route="/ask") >= 3
    assert metric(text, "rag_index_documents") == 1.0
    assert metric(text, "rag_index_chunks") >= 1.0


def test_unknown_filter_key_is_422_naming_known_keys(ops_server: Server) -> None:
    r = ops_server.http.post(
        "/ask", json={"question": QUESTION, "filters": {"metadata": {"contry": "ALB"}}}
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_filter"
    assert "contry" in error["message"] and "known keys: doc_id" in error["message"]
    assert "language" in error["message"]


def test_docs_use_only_local_assets(ops_server: Server) -> None:
    r = ops_server.http.get("/docs")
    assert r.status_code == 200
    html = r.text
    refs = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r'url: "([^"]+)"', html)
    assert refs and not re.search(r"https?://", html), html
    assets = [ref for ref in refs if ref.startswith("/docs/assets/")]
    assert len(assets) >= 3, refs  # js, css, favicon
    for ref in refs:
        assert ref.startswith("/"), ref
        assert ops_server.http.get(ref).status_code == 200, ref
    js = ops_server.http.get("/docs/assets/swagger-ui-bundle.js")
    assert len(js.content) > 500_000 and "javascript" in js.headers["content-type"]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium)")
def test_docs_render_with_no_network(ops_server: Server, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "docs.png"
    shot.unlink(missing_ok=True)
    offline = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"
    base = ["--virtual-time-budget=15000", offline, "--window-size=1280,1000"]
    url = f"{ops_server.url}/docs"
    done = subprocess.run(
        chromium_command(tmp_path / "p1", *base, "--enable-logging=stderr", "--dump-dom", url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom, console = done.stdout, done.stderr
    assert 'class="swagger-ui"' in dom, console[-3000:]
    assert "opblock-summary-path" in dom, console[-3000:]  # the operations were rendered
    assert "/ask" in dom
    assert "Foreign-policy QA" in dom
    subprocess.run(
        chromium_command(tmp_path / "p2", *base, f"--screenshot={shot}", url),
        capture_output=True,
        timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 10_000
