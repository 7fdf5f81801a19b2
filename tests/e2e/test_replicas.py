"""Two `rag serve` replicas over one index folder: reads from either, a write through one is
visible to the other at its next snapshot (its next request), behind a round-robin client."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.models import Answer
from rag.settings import Settings
from tests.e2e.test_service_process import AUTH, EXTRA_DOCS, EXTRA_QUESTIONS, QUESTION, Server


@pytest.fixture
def replicas(
    article_index: Settings, index_copier: Any, tmp_path: Path
) -> Iterator[tuple[Server, Server]]:
    index_dir = Path(index_copier(article_index.index_dir, tmp_path / "index"))
    a = Server(index_dir, tmp_path / "a.log").start()
    try:
        b = Server(index_dir, tmp_path / "b.log").start()
    except BaseException:
        a.stop()
        raise
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def test_a_write_through_one_replica_is_visible_in_the_other(
    replicas: tuple[Server, Server],
) -> None:
    a, b = replicas
    assert a.port != b.port
    round_robin = itertools.cycle([a.http, b.http])
    answers = {
        Answer.model_validate(
            next(round_robin).post("/ask", json={"question": QUESTION}).json()
        ).model_dump_json(exclude={"timings_ms"})
        for _ in range(6)
    }
    assert len(answers) == 1  # both replicas answer from the same snapshot, identically

    doc_id, text = next(iter(EXTRA_DOCS.items()))
    assert b.http.get(f"/documents/{doc_id}").status_code == 404
    created = a.http.post("/documents", json={"id": doc_id, "text": text}, headers=AUTH)
    assert created.status_code == 201, created.text
    seen = b.http.get(f"/documents/{doc_id}")
    assert seen.status_code == 200 and seen.json()["text"] == text
    answer = Answer.model_validate(
        b.http.post("/ask", json={"question": EXTRA_QUESTIONS[0]}).json()
    )
    assert any(c.doc_id == doc_id for c in answer.citations)

    assert b.http.delete(f"/documents/{doc_id}", headers=AUTH).status_code == 200
    assert a.http.get(f"/documents/{doc_id}").status_code == 404
