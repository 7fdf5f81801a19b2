"""The real thing: `rag serve` processes on 127.0.0.1, driven over HTTP (and by a browser)."""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from rag.models import Answer
from rag.settings import Settings
from tests import processes
from tests.processes import free_port, offline_env, serve_command, serving_a_copy

QUESTION = "When did Sweden join NATO?"
ARTICLE_ID = "japan-sweden-security-cooperation.txt"
KEY = "process-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
UPLOAD_LIMIT = 64 * 1024
CHROMIUM = Path("/usr/bin/chromium")

EXTRA_DOCS = {
    "nordic/finland:2023": (
        "Finland joined NATO on 4 April 2023, ending decades of military non-alignment. "
        "Its accession doubled the alliance's land border with Russia."
    ),
    "baltic/estonia:2004": (
        "Estonia joined NATO on 29 March 2004 together with Latvia and Lithuania. "
        "The Baltic states had regained independence in 1991."
    ),
    "asia/japan-australia:2022": (
        "Japan and Australia signed a Reciprocal Access Agreement in January 2022. "
        "The agreement eases joint training and exercises between their forces."
    ),
}
EXTRA_QUESTIONS = [
    "When did Finland join NATO?",
    "When did Estonia join NATO?",
    "What did Japan and Australia sign in January 2022?",
]


# --- running servers -------------------------------------------------------------------------
def server_env(**extra: str) -> dict[str, str]:
    """The servers of these tests: a write key and a small upload limit."""
    return offline_env(RAG_API_KEY=KEY, RAG_MAX_UPLOAD_BYTES=str(UPLOAD_LIMIT), **extra)


@dataclass
class Server(processes.Server):
    """A ``rag serve`` process with :func:`server_env`."""

    env: dict[str, str] = field(default_factory=server_env)


@pytest.fixture
def private_index(article_index: Settings, index_copier: Any, tmp_path: Path) -> Path:
    return Path(index_copier(article_index.index_dir, tmp_path / "index"))


@pytest.fixture(scope="module")
def server(
    article_index: Settings, index_copier: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("serve")
    with serving_a_copy(article_index.index_dir, index_copier, base, Server) as running:
        yield running


def check_citations(answer: Answer, texts: dict[str, str]) -> None:
    """Every citation quotes its document exactly where it says."""
    for c in answer.citations:
        assert c.doc_id in texts, c.doc_id
        assert texts[c.doc_id][c.char_start : c.char_end] == c.quote, c
        assert f"[{c.marker}]" in answer.answer


# --- tests -----------------------------------------------------------------------------------
def test_serve_on_a_missing_index_fails_clearly(tmp_path: Path) -> None:
    done = subprocess.run(
        serve_command(tmp_path / "no-index", free_port()),
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3
    assert "no index at" in done.stderr and "rag ingest" in done.stderr


def test_server_process_does_not_load_torch(server: Server) -> None:
    assert server.proc is not None
    maps = Path(f"/proc/{server.proc.pid}/maps")
    if not maps.exists():
        pytest.skip("needs /proc to see the libraries a process loaded")
    libraries = maps.read_text()
    assert "onnxruntime" in libraries
    assert "libtorch" not in libraries


def test_ask_add_and_delete(server: Server) -> None:
    http = server.http
    article = http.get(f"/documents/{ARTICLE_ID}").json()["text"]
    answer = Answer.model_validate(http.post("/ask", json={"question": QUESTION}).json())
    assert not answer.abstained and answer.short_answer and "2024" in answer.short_answer
    check_citations(answer, {ARTICLE_ID: article})

    doc_id, text = next(iter(EXTRA_DOCS.items()))
    assert http.post("/documents", json={"id": doc_id, "text": text}).status_code == 401
    created = http.post("/documents", json={"id": doc_id, "text": text}, headers=AUTH)
    assert created.status_code == 201, created.text
    answer = Answer.model_validate(http.post("/ask", json={"question": EXTRA_QUESTIONS[0]}).json())
    assert any(c.doc_id == doc_id for c in answer.citations)
    check_citations(answer, {ARTICLE_ID: article, doc_id: text})

    assert http.delete(f"/documents/{doc_id}", headers=AUTH).status_code == 200
    assert http.get(f"/documents/{doc_id}").status_code == 404
    answer = Answer.model_validate(http.post("/ask", json={"question": EXTRA_QUESTIONS[0]}).json())
    assert all(c.doc_id != doc_id for c in answer.citations)


def test_declared_oversize_upload_is_413(server: Server) -> None:
    big = b"word " * (UPLOAD_LIMIT // 4)
    response = server.http.post("/documents", files={"file": ("big.txt", big)}, headers=AUTH)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_streamed_upload_is_cut_off_at_the_limit(server: Server) -> None:
    """A chunked upload without Content-Length gets 413 long before its end."""
    total, chunk = 4 * 1024 * 1024, b"x" * 16384
    head = (
        "POST /documents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: multipart/form-data; boundary=bnd\r\n"
        f"Authorization: Bearer {KEY}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    part = b'--bnd\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + b"%x\r\n%s\r\n" % (len(part), part))
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0.01)
            if readable:
                break
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        reply = b""
        while b"payload_too_large" not in reply and len(reply) < 65536:
            data = sock.recv(65536)
            if not data:
                break
            reply += data
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"payload_too_large" in reply
    assert sent < total // 4


def test_concurrent_asks_during_ingest(server: Server) -> None:
    """8 threads x 10 questions while 3 documents are added and deleted: all answered,
    every citation exact."""
    http = server.http
    texts = {ARTICLE_ID: http.get(f"/documents/{ARTICLE_ID}").json()["text"], **EXTRA_DOCS}
    questions = [QUESTION, *EXTRA_QUESTIONS]
    failures: list[str] = []
    answers: list[Answer] = []
    lock = threading.Lock()

    def asker(n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60.0) as client:
            for i in range(10):
                question = questions[(n + i) % len(questions)]
                response = client.post("/ask", json={"question": question})
                with lock:
                    if response.status_code != 200:
                        failures.append(f"{response.status_code}: {response.text[:300]}")
                    else:
                        answers.append(Answer.model_validate(response.json()))

    threads = [threading.Thread(target=asker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for doc_id, text in EXTRA_DOCS.items():
        response = http.post("/documents", json={"id": doc_id, "text": text}, headers=AUTH)
        assert response.status_code == 201, response.text
    for doc_id in EXTRA_DOCS:
        assert http.delete(f"/documents/{doc_id}", headers=AUTH).status_code == 200
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    assert len(answers) == 80
    for answer in answers:
        check_citations(answer, texts)
    assert http.get("/health").json()["documents"] == 1


def test_changes_survive_a_restart(private_index: Path, tmp_path: Path) -> None:
    doc_id, text = next(iter(EXTRA_DOCS.items()))
    first = Server(private_index, tmp_path / "serve.log").start()
    try:
        added = first.http.post("/documents", json={"id": doc_id, "text": text}, headers=AUTH)
        assert added.status_code == 201
        upload = first.http.post(
            "/documents", files={"file": ("notes.md", b"# Notes\n\nA short note.\n")}, headers=AUTH
        )
        assert upload.status_code == 201
        assert first.http.delete(f"/documents/{ARTICLE_ID}", headers=AUTH).status_code == 200
    finally:
        first.stop(kill=True)  # no clean shutdown: committed changes must already be on disk

    second = Server(private_index, tmp_path / "serve.log").start()
    try:
        ids = {d["id"] for d in second.http.get("/documents").json()["documents"]}
        assert ids == {doc_id, "notes.md"}
        assert second.http.get(f"/documents/{ARTICLE_ID}").status_code == 404
        answer = Answer.model_validate(
            second.http.post("/ask", json={"question": EXTRA_QUESTIONS[0]}).json()
        )
        assert any(c.doc_id == doc_id for c in answer.citations)
        check_citations(answer, {doc_id: text})
    finally:
        second.stop()


def test_openapi_fuzzing_finds_no_server_errors(private_index: Path, tmp_path: Path) -> None:
    """Schemathesis against the running server: no 5xx, every response as documented.

    Two checks are left out because the schema cannot state what they expect:
    ``positive_data_acceptance`` (a schema-valid upload may still be an unsupported file type, or
    a document whose ``page_starts`` point past its text) and ``ensure_resource_availability``
    (schemathesis puts a created id containing '%' into the URL without escaping it). One worker:
    hypothesis' lambda reflection is not thread-safe.
    """
    st = Path(sys.executable).parent / "st"
    if not st.exists():
        pytest.skip("schemathesis (test extra) is not installed")
    server = Server(private_index, tmp_path / "serve.log").start()
    try:
        done = subprocess.run(
            [str(st), "run", f"{server.url}/openapi.json",
             "--checks", "all",
             "--exclude-checks", "positive_data_acceptance,ensure_resource_availability",
             "--max-examples", "30", "--workers", "1", "--seed", "20240307",
             "--generation-database", "none", "--request-timeout", "30", "--no-color",
             "--header", f"Authorization: Bearer {KEY}"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=240,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )  # fmt: skip
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-6000:]
        assert re.search(r"\b\d+ passed\b", output), output[-2000:]
        assert server.proc is not None and server.proc.poll() is None
    finally:
        server.stop()


def chromium_command(profile: Path, *args: str) -> list[str]:
    return [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *args,
    ]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium)")
def test_page_answers_in_a_real_browser(server: Server, tmp_path: Path) -> None:
    url = f"{server.url}/?q={quote(QUESTION)}"
    done = subprocess.run(
        chromium_command(tmp_path / "profile", "--virtual-time-budget=20000", "--dump-dom", url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom = done.stdout
    assert done.returncode == 0 and "<html" in dom, done.stderr[-2000:]
    assert 'data-abstained="false"' in dom, dom[-3000:]
    answer = re.search(r'<div class="card" id="answer"[^>]*>(.*?)</div>', dom, re.S)
    assert answer and "2024" in answer.group(1)
    assert re.search(r'<button class="marker"[^>]*data-marker="1"[^>]*>\[1\]</button>', dom)
    assert re.search(r'id="short-answer"[^>]*>Short answer: [^<]*2024', dom)
    # Citation 1 shows its quote highlighted inside the passage around it (fetched document).
    cite = re.search(r'id="cite-1">(.*?)</li>', dom, re.S)
    assert cite, dom[-3000:]
    context = re.search(r'<p class="context">(.*?)<mark>(.+?)</mark>(.*?)</p>', cite.group(1), re.S)
    assert context and "Sweden" in context.group(2)
    assert len(context.group(1)) + len(context.group(3)) > 100  # surrounding text is shown
    # The documents list is rendered too.
    assert f'data-doc-id="{ARTICLE_ID}"' in dom
