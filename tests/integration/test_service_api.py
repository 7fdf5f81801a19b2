"""HTTP handlers, in process (FastAPI's TestClient), over a real small index and the real model."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from index.lock import WriterLock
from rag.models import Answer
from rag.settings import Settings
from rag.system import QASystem
from service.app import create_app
from service.errors import PayloadTooLargeError
from service.uploads import read_body, read_multipart

QUESTION = "When did Sweden join NATO?"
ARTICLE_ID = "japan-sweden-security-cooperation.txt"
KEY = "s3cret-key"
#: The server listens on loopback, so it answers only to loopback host names.
LOCAL = "http://127.0.0.1"
#: What a non-browser client sends with a file upload (see service/csrf.py).
CLIENT_HEADERS = {"X-Requested-With": "pytest"}
FINLAND = (
    "Finland joined NATO on 4 April 2023, ending decades of military non-alignment. "
    "The accession followed a request submitted in May 2022."
)


# --- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def settings(
    article_index: Settings, index_copier: Any, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    folder = index_copier(article_index.index_dir, tmp_path_factory.mktemp("api") / "index")
    return article_index.model_copy(update={"index_dir": folder, "api_key": None})


@pytest.fixture(scope="module")
def system(settings: Settings) -> Iterator[QASystem]:
    qa = QASystem.open(settings)
    qa.warm_up()
    yield qa
    qa.close()


def client_for(settings: Settings, system: QASystem | None = None, **update: Any) -> TestClient:
    app = create_app(Settings(**{**settings.model_dump(), **update}), system=system)
    return TestClient(app, base_url=LOCAL, headers=CLIENT_HEADERS)


@pytest.fixture(scope="module")
def client(settings: Settings, system: QASystem) -> Iterator[TestClient]:
    with client_for(settings, system) as c:
        yield c


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is an error of the one shape; returns its ``error`` object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "hint", "details"}
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return dict(error)


def doc_path(doc_id: str) -> str:
    return "/documents/" + doc_id


# --- health, page, docs ----------------------------------------------------------------------
def test_health_reports_the_index(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["ready"] is True
    assert body["documents"] == 1
    assert body["chunks"] >= 3 and body["sentences"] > body["chunks"]
    assert body["vector_index"] == "flat"
    assert "MiniLM" in body["model"] and body["dimension"] == 384
    assert body["auth_required"] is False
    assert body["writes_pending"] == 0
    assert body["write_queue_size"] == Settings().write_queue_size


def test_page_is_served(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    html = response.text
    for needle in ('id="ask-form"', 'id="upload-form"', 'id="documents"', "/ask", 'el("mark"'):
        assert needle in html


def test_openapi_documents_the_request_timeout(client: TestClient) -> None:
    """A request whose head or body does not arrive in time is a 408 (issue 28's timeouts)."""
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/ask", "/documents"):
        described = paths[path]["post"]["responses"]["408"]["description"]
        assert "request_timeout" in described and "body_timeout_s" in described, path


def test_openapi_documents_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert client.get("/docs").status_code == 200
    ops = {
        (path, method): op for path, item in spec["paths"].items() for method, op in item.items()
    }
    assert set(ops) == {
        ("/health", "get"),
        ("/ask", "post"),
        ("/compare", "post"),
        ("/filters", "get"),
        ("/documents", "get"),
        ("/documents", "post"),
        ("/documents/{doc_id}", "get"),
        ("/documents/{doc_id}", "delete"),
    }
    for (path, method), op in ops.items():
        ok = next(s for s in op["responses"] if s.startswith("2"))
        assert "$ref" in json.dumps(op["responses"][ok]), (path, method)  # a response model
        errors = [s for s in op["responses"] if s[0] in "45"]
        assert errors, (path, method)
        for status in errors:
            schema = op["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (path, status)
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's own 422 shape is never used
    ask_schema = schemas["AskRequest"]["properties"]["question"]
    assert ask_schema["maxLength"] == 1000 and ask_schema["pattern"] == r"\S"
    for name in (
        "AskRequest",
        "CompareRequest",
        "Comparison",
        "ComparisonRow",
        "RequestFilters",
        "HealthResponse",
        "DocumentList",
        "IngestResponse",
        "DeleteResponse",
        "ErrorBody",
        "ErrorDetail",
    ):
        for prop, sub in schemas[name]["properties"].items():
            assert sub.get("description"), f"{name}.{prop} has no description"
    body = ops[("/documents", "post")]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}


# --- asking ----------------------------------------------------------------------------------
def test_ask_returns_the_same_answer_as_the_system(client: TestClient, system: QASystem) -> None:
    response = client.post("/ask", json={"question": QUESTION})
    assert response.status_code == 200
    got = Answer.model_validate(response.json())
    expected = system.ask(QUESTION)
    assert got.model_dump(exclude={"timings_ms"}) == expected.model_dump(exclude={"timings_ms"})
    assert not got.abstained and "2024" in got.answer
    assert got.short_answer and "2024" in got.short_answer
    assert got.citations and "[1]" in got.answer
    text = client.get(doc_path(ARTICLE_ID)).json()["text"]
    for citation in got.citations:
        assert text[citation.char_start : citation.char_end] == citation.quote


def test_ask_honours_k_mode_and_filters(client: TestClient) -> None:
    body = {"question": QUESTION, "k": 2, "mode": "lexical", "filters": {"doc_ids": [ARTICLE_ID]}}
    answer = client.post("/ask", json=body).json()
    assert answer["mode"] == "lexical"
    assert 1 <= len(answer["passages"]) <= 2
    none = {"question": QUESTION, "filters": {"source": "no such source"}}
    error = assert_error(client.post("/ask", json=none), 422, "invalid_filter")
    assert "no document has source 'no such source'" in error["message"]  # not an abstention


def test_unrelated_question_abstains_with_closest_passages(client: TestClient) -> None:
    answer = client.post("/ask", json={"question": "What is the boiling point of tungsten?"})
    body = answer.json()
    assert body["abstained"] is True
    assert body["citations"] == [] and body["passages"]


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"question": ""}, "body.question"),
        ({"question": "   \n\t "}, "body.question"),
        ({"question": "x" * 1001}, "body.question"),
        ({"question": QUESTION, "k": 0}, "body.k"),
        ({"question": QUESTION, "k": 51}, "body.k"),
        ({"question": QUESTION, "k": "five"}, "body.k"),
        ({"question": QUESTION, "mode": "psychic"}, "body.mode"),
        ({"question": QUESTION, "filters": {"country": ["SWE"]}}, "body.filters.metadata"),
        ({"question": QUESTION, "filters": {"metadata": {"bad key": 1}}}, "body.filters.metadata"),
        ({"question": QUESTION, "colour": "blue"}, "body.colour"),
        ({}, "body.question"),
        (["a list"], "body"),
    ],
)
def test_bad_questions_are_422_saying_what_is_wrong(
    client: TestClient, body: Any, location: str
) -> None:
    error = assert_error(client.post("/ask", json=body), 422, "invalid_request")
    assert location in error["message"]
    assert any(d["location"].startswith(location) for d in error["details"])


def test_whitespace_question_message_is_plain(client: TestClient) -> None:
    error = assert_error(client.post("/ask", json={"question": "   "}), 422)
    assert "the question is empty" in error["message"]


@pytest.mark.parametrize(
    "raw", [b"{not json", b'{"question": "a", }', b"\xff\xfe\x00", b'{"question": "a"']
)
def test_malformed_json_is_422(client: TestClient, raw: bytes) -> None:
    response = client.post("/ask", content=raw, headers={"content-type": "application/json"})
    error = assert_error(response, 422)
    assert error["code"] in ("malformed_json", "malformed_request")
    assert "JSON" in error["message"] or "parsed" in error["message"]


# --- routing errors --------------------------------------------------------------------------
def test_unknown_route_and_method_share_the_error_shape(client: TestClient) -> None:
    error = assert_error(client.get("/nowhere"), 404, "not_found")
    assert "/nowhere" in error["message"]
    response = client.put("/documents")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, POST"
    assert client.patch("/documents/x").headers["allow"] == "DELETE, GET"


def test_unknown_document_is_404(client: TestClient) -> None:
    error = assert_error(client.get(doc_path("no/such:doc")), 404, "document_not_found")
    assert "no/such:doc" in error["message"]
    assert_error(client.delete(doc_path("no/such:doc")), 404, "document_not_found")


# --- documents -------------------------------------------------------------------------------
def test_list_documents_paginates(client: TestClient) -> None:
    page = client.get("/documents", params={"limit": 1}).json()
    assert page["total"] >= 1 and page["limit"] == 1 and len(page["documents"]) == 1
    assert page["documents"][0]["n_chunks"] >= 1
    empty = client.get("/documents", params={"offset": 10_000}).json()
    assert empty["documents"] == [] and empty["offset"] == 10_000
    assert_error(client.get("/documents", params={"limit": 0}), 422, "invalid_request")
    assert_error(client.get("/documents", params={"limit": "many"}), 422, "invalid_request")


def test_document_with_slashes_and_colons_round_trips(client: TestClient) -> None:
    doc_id = "un/press:2023/04/finland"
    doc = {"id": doc_id, "title": "Finland joins NATO", "text": FINLAND, "date": "2023-04-04"}
    created = client.post("/documents", json=doc)
    assert created.status_code == 201, created.text
    assert created.json()["ids"] == [doc_id] and created.json()["added"] == 1
    try:
        for path in (doc_path(doc_id), "/documents/un%2Fpress%3A2023%2F04%2Ffinland"):
            got = client.get(path)
            assert got.status_code == 200 and got.json()["text"] == FINLAND
        # Answerable at once, and the citation points into it.
        answer = client.post("/ask", json={"question": "When did Finland join NATO?"}).json()
        assert not answer["abstained"]
        cited = [c for c in answer["citations"] if c["doc_id"] == doc_id]
        assert cited and FINLAND[cited[0]["char_start"] : cited[0]["char_end"]] == cited[0]["quote"]
        listed = client.get("/documents").json()
        assert doc_id in [d["id"] for d in listed["documents"]]
        again = client.post("/documents", json=doc).json()
        assert again["unchanged"] == 1 and again["added"] == 0
    finally:
        deleted = client.delete(doc_path(doc_id))
    assert deleted.status_code == 200 and deleted.json() == {"id": doc_id, "deleted": True}
    assert_error(client.get(doc_path(doc_id)), 404)
    answer = client.post("/ask", json={"question": "When did Finland join NATO?"}).json()
    assert all(c["doc_id"] != doc_id for c in answer["citations"])


def test_ids_are_data_not_paths(client: TestClient, settings: Settings) -> None:
    before = sorted(p.name for p in settings.index_dir.parent.iterdir())
    doc_id = "../../outside.txt"
    response = client.post("/documents", json={"id": doc_id, "text": FINLAND})
    assert response.status_code == 201
    try:
        assert client.get("/documents/..%2F..%2Foutside.txt").json()["id"] == doc_id
        assert_error(client.get("/documents/..%2F..%2Fetc%2Fpasswd"), 404)
    finally:
        client.delete("/documents/..%2F..%2Foutside.txt")
    assert sorted(p.name for p in settings.index_dir.parent.iterdir()) == before


@pytest.mark.parametrize(
    ("doc", "location"),
    [
        ({"id": "x", "text": "   "}, "body.text"),
        ({"id": "", "text": FINLAND}, "body.id"),
        ({"id": "bad\nid", "text": FINLAND}, "body.id"),
        ({"id": "x", "text": FINLAND, "date": "April 2023"}, "body.date"),
        ({"id": "x", "text": FINLAND, "page_starts": [False]}, "body.page_starts"),
        ({"text": FINLAND}, "body.id"),
    ],
)
def test_invalid_json_documents_are_422(client: TestClient, doc: Any, location: str) -> None:
    error = assert_error(client.post("/documents", json=doc), 422, "invalid_request")
    assert location in error["message"]


def test_upload_markdown_file(client: TestClient) -> None:
    text = b"# Oslo notes\n\nThe Oslo Accords were signed in September 1993 in Washington.\n"
    response = client.post(
        "/documents",
        files={"file": ("notes/oslo.md", text, "text/markdown")},
        data={"doc_id": "oslo"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["ids"] == ["oslo"]
    try:
        doc = client.get(doc_path("oslo")).json()
        assert "Oslo Accords" in doc["text"]
        answer = client.post("/ask", json={"question": "When were the Oslo Accords signed?"}).json()
        assert any(c["doc_id"] == "oslo" for c in answer["citations"])
    finally:
        assert client.delete(doc_path("oslo")).status_code == 200


def test_upload_word_file_is_answerable_with_its_language(client: TestClient) -> None:
    import docx

    word = docx.Document()
    word.add_heading("Nordic briefing", level=1)
    word.add_paragraph(
        "Finland joined NATO in April 2023, ending decades of military non-alignment."
    )
    buffer = io.BytesIO()
    word.save(buffer)
    response = client.post("/documents", files={"file": ("briefing.docx", buffer.getvalue())})
    assert response.status_code == 201, response.text
    try:
        doc = client.get(doc_path("briefing.docx")).json()
        assert doc["title"] == "Nordic briefing" and doc["metadata"]["language"] == "en"
        answer = client.post("/ask", json={"question": "When did Finland join NATO?"}).json()
        assert any(c["doc_id"] == "briefing.docx" for c in answer["citations"])
    finally:
        assert client.delete(doc_path("briefing.docx")).status_code == 200


def test_upload_jsonl_holds_many_documents(client: TestClient) -> None:
    lines = [
        {"id": "speech/1", "text": "The minister spoke about Arctic security in Tromsø."},
        {"id": "speech/2", "text": "The summit in Vilnius discussed air defence."},
    ]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    response = client.post("/documents", files={"file": ("speeches.jsonl", data)})
    assert response.status_code == 201, response.text
    assert response.json()["ids"] == ["speech/1", "speech/2"] and response.json()["added"] == 2
    for line in lines:
        assert client.delete(doc_path(str(line["id"]))).status_code == 200


def test_upload_errors(client: TestClient) -> None:
    assert_error(
        client.post("/documents", files={"file": ("virus.exe", b"MZ\x90\x00")}),
        415,
        "unsupported_file_type",
    )
    assert_error(
        client.post("/documents", files={"file": ("empty.txt", b"   \n")}), 422, "unreadable_file"
    )
    assert_error(
        client.post("/documents", files={"file": ("broken.pdf", b"%PDF-1.4 garbage")}),
        422,
        "unreadable_file",
    )
    assert_error(
        client.post("/documents", data={"doc_id": "x"}, files={"other": ("a.txt", b"hello")}),
        422,
        "invalid_request",
    )
    assert_error(
        client.post("/documents", content=b"hello", headers={"content-type": "text/plain"}),
        415,
        "unsupported_media_type",
    )
    bad_boundary = {"content-type": "multipart/form-data; boundary=zzz"}
    assert_error(client.post("/documents", content=b"--zzz\r\nnope", headers=bad_boundary), 422)


def test_upload_over_the_limit_is_413(settings: Settings, system: QASystem) -> None:
    with client_for(settings, system, max_upload_bytes=1000) as small:
        big = b"word " * 400  # 2000 bytes
        error = assert_error(
            small.post("/documents", files={"file": ("big.txt", big)}), 413, "payload_too_large"
        )
        assert "1000 bytes" in error["message"]
        doc = {"id": "big", "text": "word " * 400}
        assert_error(small.post("/documents", json=doc), 413, "payload_too_large")
        ok = small.post("/documents", files={"file": ("small.txt", b"A small document.")})
        assert ok.status_code == 201
        assert small.delete(doc_path("small.txt")).status_code == 200


def test_other_bodies_are_capped_too(client: TestClient) -> None:
    json_type = {"content-type": "application/json"}
    big = b'{"question": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    assert_error(client.post("/ask", content=big, headers=json_type), 413, "payload_too_large")

    def chunked() -> Iterator[bytes]:  # no Content-Length: cut off while reading
        yield b'{"question": "'
        for _ in range(300):
            yield b"a" * 8192
        yield b'"}'

    response = client.post("/ask", content=chunked(), headers=json_type)
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "payload_too_large")


def _streaming_request(chunks: Iterator[bytes], content_type: str) -> tuple[Request, list[int]]:
    """A request whose body arrives in chunks, recording how many were read; no Content-Length."""
    read: list[int] = []

    async def receive() -> dict[str, Any]:
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        read.append(len(chunk))
        return {"type": "http.request", "body": chunk, "more_body": True}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/documents",
        "headers": [(b"content-type", content_type.encode())],
    }
    return Request(scope, receive), read


def test_size_limit_is_enforced_while_reading() -> None:
    def endless_file() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
        while True:
            yield b"x" * 1024

    request, read = _streaming_request(endless_file(), "multipart/form-data; boundary=b")
    with pytest.raises(PayloadTooLargeError):
        asyncio.run(read_multipart(request, 10_000))
    assert sum(read) < 12_000  # stopped soon after the limit, not at the end of the body

    def endless_json() -> Iterator[bytes]:
        while True:
            yield b" " * 1024

    request, read = _streaming_request(endless_json(), "application/json")
    with pytest.raises(PayloadTooLargeError):
        asyncio.run(read_body(request, 10_000))
    assert sum(read) < 12_000


# --- auth, CORS, locking, unexpected errors --------------------------------------------------
def test_writes_need_the_key_when_one_is_set(settings: Settings, system: QASystem) -> None:
    doc = {"id": "keyed", "text": FINLAND}
    with client_for(settings, system, api_key=KEY) as keyed:
        assert keyed.get("/health").json()["auth_required"] is True
        response = keyed.post("/documents", json=doc)
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
        for header in (f"Bearer {KEY}x", "Bearer ", f"Basic {KEY}", KEY):
            r = keyed.post("/documents", json=doc, headers={"Authorization": header})
            assert_error(r, 401, "unauthorized")
        assert_error(keyed.delete(doc_path(ARTICLE_ID)), 401, "unauthorized")
        # Reads stay open.
        assert keyed.post("/ask", json={"question": QUESTION}).status_code == 200
        assert keyed.get(doc_path(ARTICLE_ID)).status_code == 200
        auth = {"Authorization": f"Bearer {KEY}"}
        assert keyed.post("/documents", json=doc, headers=auth).status_code == 201
        assert keyed.delete(doc_path("keyed"), headers=auth).status_code == 200
        spec = keyed.get("/openapi.json").json()
        assert "BearerKey" in spec["components"]["securitySchemes"]
        assert "401" in spec["paths"]["/documents"]["post"]["responses"]


def test_cors_is_off_unless_configured(
    client: TestClient, settings: Settings, system: QASystem
) -> None:
    origin = {"Origin": "http://example.org"}
    assert "access-control-allow-origin" not in client.get("/health", headers=origin).headers
    with client_for(settings, system, cors_origins=["http://example.org"]) as cors:
        response = cors.get("/health", headers=origin)
        assert response.headers["access-control-allow-origin"] == "http://example.org"
        other = cors.get("/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_locked_index_is_409(client: TestClient, settings: Settings) -> None:
    lock = WriterLock(settings.index_dir)  # as if `rag ingest` were running
    with lock:
        error = assert_error(
            client.post("/documents", json={"id": "late", "text": FINLAND}), 409, "index_locked"
        )
        assert error["hint"]
        assert_error(client.delete(doc_path(ARTICLE_ID)), 409, "index_locked")
        assert client.post("/ask", json={"question": QUESTION}).status_code == 200
    assert client.get(doc_path(ARTICLE_ID)).status_code == 200


def test_unexpected_errors_keep_the_shape(
    settings: Settings, system: QASystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> Answer:
        raise RuntimeError("boom")

    monkeypatch.setattr(system, "ask", broken)
    app = create_app(settings, system=system)
    with TestClient(app, raise_server_exceptions=False, base_url=LOCAL) as c:
        error = assert_error(c.post("/ask", json={"question": QUESTION}), 500, "internal_error")
        assert "boom" not in error["message"]  # internals stay in the log


def test_app_opens_and_closes_its_own_system(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app, base_url=LOCAL) as c:
        assert c.get("/health").json()["ready"] is True
    assert app.state.service is None


def test_missing_index_fails_at_start(tmp_path: Path) -> None:
    from index.errors import IndexNotFoundError

    app = create_app(Settings(index_dir=tmp_path / "missing"))
    with pytest.raises(IndexNotFoundError), TestClient(app):
        pass
