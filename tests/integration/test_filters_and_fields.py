"""One filter shape on every door, filters that match nothing said so, and dates and metadata
given at ingest (issue 28: documents and filters as analysts use them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from index.errors import InvalidFilterError
from rag.settings import Settings
from rag.system import QASystem
from service.app import create_app

QUESTION = "What did Sweden say about times of crisis?"
HEADERS = {"X-Requested-With": "pytest"}


@pytest.fixture(scope="module")
def settings(
    corpus_index: Settings,
    index_copier: Callable[[Path, Path], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    folder = index_copier(corpus_index.index_dir, tmp_path_factory.mktemp("filters") / "index")
    return corpus_index.model_copy(update={"index_dir": folder, "api_key": None})


@pytest.fixture(scope="module")
def system(settings: Settings) -> Iterator[QASystem]:
    qa = QASystem.open(settings)
    yield qa
    qa.close()


@pytest.fixture(scope="module")
def client(settings: Settings, system: QASystem) -> Iterator[TestClient]:
    app = create_app(settings, system=system)
    with TestClient(app, base_url="http://127.0.0.1", headers=HEADERS) as c:
        yield c


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"country": "swe"}, "no document has country 'swe'; close: SWE"),
        ({"country": "FIN"}, "no document has country 'FIN'"),
        ({"doc_id": "nonexistent"}, "no document has id 'nonexistent'"),
        ({"doc_id": "ungdc:swe_77_2022"}, "close: ungdc:SWE_77_2022"),
        ({"source": "UNGDC"}, "close: UN General Debate Corpus (UNGDC)"),
        ({"date_from": "2030"}, "no document is dated from 2030 (documents are dated"),
        ({"date_from": "2023", "date_to": "2021-06"}, "date_from 2023 is after date_to 2021-06"),
        ({"colour": "red"}, "unknown filter key 'colour'"),
    ],
)
def test_a_filter_that_matches_nothing_says_so(
    system: QASystem, filters: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidFilterError) as caught:
        system.ask(QUESTION, filters=filters)
    assert message in str(caught.value), str(caught.value)
    with pytest.raises(InvalidFilterError):
        system.search(QUESTION, filters=filters)


def test_filters_that_match_still_answer(system: QASystem) -> None:
    answer = system.ask(QUESTION, filters={"country": "SWE", "session": 77, "date_to": "2022"})
    assert {p.doc_id for p in answer.passages} == {"ungdc:SWE_77_2022"}


def test_post_ask_takes_the_flat_shape_and_the_nested_one(client: TestClient) -> None:
    flat = client.post("/ask", json={"question": QUESTION, "filters": {"country": "SWE"}})
    nested = client.post(
        "/ask", json={"question": QUESTION, "filters": {"metadata": {"country": "SWE"}}}
    )
    assert flat.status_code == nested.status_code == 200, flat.text
    assert {p["doc_id"] for p in flat.json()["passages"]} == {"ungdc:SWE_77_2022"}
    assert flat.json()["answer"] == nested.json()["answer"]
    one_id = client.post(
        "/ask", json={"question": QUESTION, "filters": {"doc_id": "ungdc:JPN_77_2022"}}
    )
    assert {p["doc_id"] for p in one_id.json()["passages"]} == {"ungdc:JPN_77_2022"}


def test_post_ask_names_close_values(client: TestClient) -> None:
    r = client.post("/ask", json={"question": QUESTION, "filters": {"country": "swe"}})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_filter"
    assert "no document has country 'swe'; close: SWE" in error["message"]
    r = client.post("/ask", json={"question": QUESTION, "filters": {"country": ["SWE"]}})
    assert r.status_code == 422, r.text
    r = client.post("/ask", json={"question": QUESTION, "filters": {"bad key!": "x"}})
    assert r.status_code == 422, r.text


def test_the_flat_shape_is_in_the_openapi_schema(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    filters = schemas["RequestFilters"]
    assert filters["additionalProperties"]["anyOf"]
    assert "doc_id" in filters["properties"]
    assert "flat" in filters["description"].lower() or "flat" in str(filters)


def test_upload_sets_date_and_metadata(client: TestClient) -> None:
    body = b"Estonia and Latvia agreed on a joint air-defence plan in the spring."
    r = client.post(
        "/documents",
        files={"file": ("baltic.txt", body)},
        data={"date": "2021-04", "meta": "country=EST\nsession=76"},
    )
    assert r.status_code == 201, r.text
    doc = client.get("/documents/baltic.txt").json()
    assert (doc["source"], doc["date"]) == ("baltic.txt", "2021-04")
    assert doc["metadata"]["country"] == "EST" and doc["metadata"]["session"] == 76
    answer = client.post(
        "/ask",
        json={"question": "What did Estonia and Latvia agree on?", "filters": {"country": "EST"}},
    )
    assert answer.status_code == 200, answer.text
    assert {p["doc_id"] for p in answer.json()["passages"]} == {"baltic.txt"}
    bad = client.post("/documents", files={"file": ("b2.txt", body)}, data={"date": "last spring"})
    assert bad.status_code == 422 and "not a date" in bad.json()["error"]["message"], bad.text
    bad = client.post("/documents", files={"file": ("b3.txt", body)}, data={"meta": "country"})
    assert bad.status_code == 422 and "KEY=VALUE" in bad.json()["error"]["message"], bad.text
