"""`rag serve` says where it serves, without -v (issue 28: first run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.settings import Settings
from service.cli import server_url
from tests.processes import Server, serving_a_copy


def test_rag_serve_prints_its_url_without_verbose(
    article_index: Settings, index_copier: Any, tmp_path: Path
) -> None:
    with serving_a_copy(article_index.index_dir, index_copier, tmp_path, Server) as running:
        log = running.log()
    assert f"Serving the page on {running.url}/ and the API on {running.url}/docs" in log, log


def test_the_url_is_one_a_browser_opens() -> None:
    assert server_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert server_url("0.0.0.0", 8080) == "http://127.0.0.1:8080"
    assert server_url("::1", 8000) == "http://[::1]:8000"
    assert server_url("example.org", 80) == "http://example.org:80"
