"""Issue 13 regressions, through the real parts: `rag serve` processes on 127.0.0.1 and `rag`
command-line subprocesses, against copies of a real index.

One test per finding of the attack run: a decompression bomb and a burst of queued writes cannot
freeze reads; cross-site writes are refused; nesting is bounded; a read-only index answers;
damage is reported; every CLI failure is one line and a documented exit code; special files are
refused; and the smaller items.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.settings import Settings
from tests.processes import Server, free_port, offline_env, run_rag, serving_a_copy

QUESTION = "When did Sweden join NATO?"
ARTICLE_ID = "japan-sweden-security-cooperation.txt"
#: Exit codes docs/cli.md documents (its "Exit codes" table).
CLI_DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
EXIT_CODES = {
    int(code)
    for code in re.findall(
        r"^\| (\d+) \|", CLI_DOC.read_text(encoding="utf-8").split("## Exit codes")[1], re.M
    )
}
FORM = {"X-Requested-With": "pytest"}


# --- helpers ---------------------------------------------------------------------------------
def assert_clean_failure(done: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    """Exit ``code``, an ``error:`` line, no traceback, each needle in stderr."""
    assert done.returncode == code, (done.returncode, done.stdout[-2000:], done.stderr[-3000:])
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout, done.stderr
    assert done.stderr.startswith("error:"), done.stderr  # argparse's usage errors too
    for needle in needles:
        assert needle in done.stderr, (needle, done.stderr)


def bomb_pdf(pages: int = 3, page_bytes: int = 70_000_000) -> bytes:
    """A small PDF whose every page's content stream inflates to ``page_bytes``."""
    content = zlib.compress(b"BT /F1 1 Tf " + b"(A) Tj " * (page_bytes // 7) + b"ET", 9)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(pages))
        + b"] /Count %d >>" % pages,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i in range(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i)
        )
        objects.append(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content)
            + content
            + b"\nendstream"
        )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def rss_bytes(server: Server) -> int:
    assert server.proc is not None
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(kib) * 1024


@pytest.fixture(scope="module")
def guarded(
    article_index: Settings, index_copier: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A keyless server (the default) with small parse budgets and a 40-place write queue."""
    base = tmp_path_factory.mktemp("hardening")
    env = offline_env(
        RAG_UPLOAD_PARSE_SECONDS="4",
        RAG_UPLOAD_PARSE_MEMORY_BYTES=str(384 * 1024 * 1024),
        RAG_WRITE_QUEUE_SIZE="40",
        RAG_WRITE_QUEUE_PER_CLIENT="64",  # these tests fill the whole queue from one address
        RAG_MAX_UPLOAD_BYTES="2000000",
    )
    with serving_a_copy(article_index.index_dir, index_copier, base, Server, env=env) as server:
        yield server


@pytest.fixture
def index_copy(article_index: Settings, index_copier: Any, tmp_path: Path) -> Path:
    return Path(index_copier(article_index.index_dir, tmp_path / "index"))


# --- 1 and 2: a bomb and queued writes cannot freeze reads -----------------------------------
def test_health_stays_fast_under_a_bomb_and_50_queued_posts(guarded: Server) -> None:
    bomb = bomb_pdf()
    assert len(bomb) < 400_000  # 0.3 MB that inflates to 210 MB
    results: dict[str, Any] = {}
    statuses: list[tuple[int, dict[str, str]]] = []
    lock = threading.Lock()

    def post_bomb() -> None:
        with httpx.Client(base_url=guarded.url, timeout=120) as client:
            results["bomb"] = client.post(
                "/documents", files={"file": ("bomb.pdf", bomb)}, headers=FORM
            )

    def post_doc(n: int) -> None:
        text = f"Queued note {n}: the delegation of country {n} met on day {n} of the talks."
        with httpx.Client(base_url=guarded.url, timeout=120) as client:
            r = client.post("/documents", json={"id": f"queued-{n}", "text": text})
        with lock:
            statuses.append((r.status_code, dict(r.headers)))

    rss_before = rss_bytes(guarded)
    latencies: list[float] = []
    ask_latencies: list[float] = []
    with ThreadPoolExecutor(max_workers=52) as pool:
        futures = [pool.submit(post_bomb)]
        time.sleep(0.5)  # the bomb is being parsed
        futures += [pool.submit(post_doc, n) for n in range(50)]
        with httpx.Client(base_url=guarded.url, timeout=30) as probe:
            while not all(f.done() for f in futures):
                t0 = time.perf_counter()
                assert probe.get("/health").status_code == 200
                latencies.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                assert probe.post("/ask", json={"question": QUESTION}).status_code == 200
                ask_latencies.append(time.perf_counter() - t0)
                time.sleep(0.05)
        for f in futures:
            f.result()
    growth = rss_bytes(guarded) - rss_before
    print(
        f"\n/health under bomb + 50 POSTs: n={len(latencies)} max={max(latencies):.3f}s; "
        f"/ask max={max(ask_latencies):.3f}s; server RSS growth {growth / 2**20:.0f} MiB"
    )
    assert growth < 150 * 2**20  # the bomb inflated in a child process that is gone
    assert len(latencies) >= 5
    assert max(latencies) < 1.0, sorted(latencies)[-5:]
    assert max(ask_latencies) < 2.0, sorted(ask_latencies)[-5:]
    bomb_reply = results["bomb"]
    assert bomb_reply.status_code == 413, bomb_reply.text
    error = bomb_reply.json()["error"]
    assert error["code"] == "upload_too_complex"
    assert "bomb.pdf" in error["message"]
    codes = [s for s, _ in statuses]
    assert set(codes) <= {201, 503}, codes
    assert codes.count(201) >= 30  # the queue holds 40, one place taken by the bomb
    for status, headers in statuses:
        if status == 503:
            assert headers.get("retry-after", "").isdigit()
    health = httpx.get(guarded.url + "/health").json()
    assert health["documents"] == 1 + codes.count(201)


def _writes_pending_becomes(server: Server, n: int, timeout: float = 60.0) -> bool:
    """Whether ``/health`` reports ``n`` writes pending within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(server.url + "/health", timeout=30).json()["writes_pending"] == n:
            return True
        time.sleep(0.1)
    return False


def test_queue_full_is_503_with_retry_after(guarded: Server) -> None:
    """40 writes hold the queue (their bodies arrive slowly); the 41st is refused at once."""
    head = (
        b"POST /documents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"X-Requested-With: pytest\r\nContent-Length: 1000\r\n\r\n{"
    )
    # A write left over from an earlier test would take one of the 40 places; wait it out.
    assert _writes_pending_becomes(guarded, 0), "earlier writes never finished"
    slow: list[socket.socket] = []
    try:
        for _ in range(40):
            sock = socket.create_connection(("127.0.0.1", guarded.port), timeout=30)
            sock.sendall(head)
            slow.append(sock)
        assert _writes_pending_becomes(guarded, 40), "the 40 slow writes did not all queue"
        t0 = time.perf_counter()
        r = httpx.post(guarded.url + "/documents", json={"id": "one-more", "text": "t"}, timeout=30)
        assert r.status_code == 503, r.text
        assert time.perf_counter() - t0 < 2.0  # refused at once, not queued
        assert r.json()["error"]["code"] == "write_queue_full"
        assert r.headers["Retry-After"].isdigit()
        assert httpx.get(guarded.url + "/health", timeout=5).status_code == 200
    finally:
        for sock in slow:
            sock.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the places come back once the slow clients are gone
        r = httpx.post(
            guarded.url + "/documents", json={"id": "after", "text": "A note."}, timeout=30
        )
        if r.status_code == 201:
            break
        time.sleep(0.2)
    assert r.status_code == 201, r.text
    deleted = httpx.delete(guarded.url + "/documents/after", headers=FORM, timeout=30)
    assert deleted.status_code == 200


def test_a_write_whose_client_left_is_dropped(guarded: Server) -> None:
    """A write still queued when its client disconnects never runs (it would hold the writer)."""
    sentences = [
        f"Delegation {n} of the long conference discussed maritime security in region {n}."
        for n in range(900)
    ]
    long_doc = {"id": "long-doc", "text": " ".join(sentences)}
    results: dict[str, httpx.Response] = {}

    def post_long() -> None:
        results["long"] = httpx.post(guarded.url + "/documents", json=long_doc, timeout=300)

    writer = threading.Thread(target=post_long)
    writer.start()
    time.sleep(1.0)  # the long document is being embedded on the writer thread
    body = json.dumps({"id": "gone-doc", "text": "Sent by a client that left."}).encode()
    head = (
        "POST /documents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=10) as sock:
        sock.sendall(head + body)
        time.sleep(0.3)
    writer.join(timeout=300)
    assert results["long"].status_code == 201, results["long"].text
    assert results["long"].json()["seconds"] > 1.0  # the gone client left while it waited
    time.sleep(1.0)
    assert httpx.get(guarded.url + "/documents/gone-doc", timeout=10).status_code == 404
    assert httpx.delete(guarded.url + "/documents/long-doc", headers=FORM).status_code == 200


# --- 3: cross-site request forgery ---------------------------------------------------------
def test_cross_site_writes_are_refused_without_a_key(guarded: Server) -> None:
    http = httpx.Client(base_url=guarded.url, timeout=30)
    assert httpx.get(guarded.url + "/health").json()["auth_required"] is False
    # What `fetch(url, {mode: "no-cors", method: "POST", body: formData})` sends from a page.
    no_cors = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    files = {"file": ("evil.txt", b"Sweden left NATO in 2025.")}
    r = http.post("/documents", files=files, headers=no_cors)
    assert r.status_code == 403 and r.json()["error"]["code"] == "cross_site_refused", r.text
    # An old browser without Sec-Fetch-*, or a plain HTML form: Origin alone decides.
    r = http.post("/documents", files=files, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    # A form post without any non-simple header is refused even without Origin.
    r = http.post("/documents", files=files)
    assert r.status_code == 403 and "X-Requested-With" in r.json()["error"]["hint"]
    r = http.delete(f"/documents/{ARTICLE_ID}", headers=no_cors)
    assert r.status_code == 403
    assert http.get("/documents/evil.txt").status_code == 404
    assert http.get(f"/documents/{ARTICLE_ID}").status_code == 200
    # DNS rebinding: a foreign host name for a loopback server is refused even for reads.
    assert http.get("/health", headers={"Host": "evil.example"}).status_code == 403
    # The server's own page (same origin) and command-line clients still write.
    own = {"Origin": guarded.url, "Sec-Fetch-Site": "same-origin", **FORM}
    r = http.post("/documents", files={"file": ("own.txt", b"A same-origin note.")}, headers=own)
    assert r.status_code == 201, r.text
    assert http.delete("/documents/own.txt", headers=own).status_code == 200


CHROMIUM = Path("/usr/bin/chromium")
EVIL_PAGE = """<!doctype html><html><head><title>waiting</title></head><body><script>
const form = new FormData();
form.append("file", new Blob(["Sweden left NATO in 2025."]), "evil.txt");
fetch("TARGET/documents", {method: "POST", mode: "no-cors", body: form})
  .then(() => { document.title = "sent"; }, (e) => { document.title = "failed " + e; });
</script></body></html>"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium)")
def test_a_real_browser_page_on_another_origin_cannot_add_a_document(
    guarded: Server, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "evil.html").write_text(EVIL_PAGE.replace("TARGET", guarded.url))
    port = free_port()
    pages = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=site,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://localhost:{port}/evil.html", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        done = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-dev-shm-usage",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--virtual-time-budget=8000",
                "--dump-dom",
                f"http://localhost:{port}/evil.html",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        pages.terminate()
        pages.wait(timeout=10)
    assert "<title>sent</title>" in done.stdout, (done.stdout[-1000:], done.stderr[-2000:])
    assert httpx.get(guarded.url + "/documents/evil.txt", timeout=10).status_code == 404


# --- issue 28: header, body and idle timeouts; a per-client cap on queued uploads ---------------
@pytest.fixture(scope="module")
def timed(
    article_index: Settings, index_copier: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server with short timeouts: 1 s for a request head, 2 s for a body, 1 s idle, and two
    queued uploads per client address."""
    base = tmp_path_factory.mktemp("timeouts")
    env = offline_env(
        RAG_HEADER_TIMEOUT_S="1",
        RAG_BODY_TIMEOUT_S="2",
        RAG_KEEP_ALIVE_TIMEOUT_S="1",
        RAG_WRITE_QUEUE_PER_CLIENT="2",
    )
    with serving_a_copy(article_index.index_dir, index_copier, base, Server, env=env) as server:
        yield server


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed ``sock`` within ``seconds``, and what it sent before."""
    sock.settimeout(0.2)
    received = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True, received
        if not chunk:
            return True, received
        received += chunk
    return False, received


def test_trickling_and_silent_connections_are_closed(timed: Server) -> None:
    """1,500 connections trickling their headers all stayed open; now each is closed once the
    head has not arrived in time (408 when part of it came), while /health answers at once."""
    trickling, silent = [], []
    try:
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", timed.port), timeout=5)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            trickling.append(sock)
        for _ in range(5):
            silent.append(socket.create_connection(("127.0.0.1", timed.port), timeout=5))
        started = time.monotonic()
        assert httpx.get(timed.url + "/health", timeout=5).status_code == 200
        assert time.monotonic() - started < 1.0
        for sock in trickling[:10]:  # a byte now and then does not extend the deadline
            sock.sendall(b"a")
        for sock in trickling:
            closed, sent = _closed_within(sock, 5.0)
            assert closed, "a trickling connection stayed open"
            assert sent.startswith(b"HTTP/1.1 408 "), sent[:200]
            assert b'"request_timeout"' in sent
        for sock in silent:
            closed, sent = _closed_within(sock, 5.0)
            assert closed and sent == b"", sent[:200]
        assert time.monotonic() - started < 8.0
    finally:
        for sock in trickling + silent:
            sock.close()
    with httpx.Client(base_url=timed.url, timeout=5) as client:  # whole requests are unaffected
        for _ in range(3):
            assert client.get("/health").status_code == 200  # keep-alive: one connection


def test_slow_bodies_get_408_and_a_client_cannot_fill_the_queue(timed: Server) -> None:
    """64 slow uploads from one client filled the write queue and every real write got 503.
    Now one address holds at most 2 places, a slow body is cut off with 408 after 2 s, and
    another client's write goes through meanwhile."""
    head = (
        b"POST /documents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"X-Requested-With: pytest\r\nContent-Length: 1000\r\n\r\n{"
    )
    assert _writes_pending_becomes(timed, 0, timeout=10)
    slow = []
    try:
        for _ in range(2):
            sock = socket.create_connection(("127.0.0.1", timed.port), timeout=5)
            sock.sendall(head)
            slow.append(sock)
        assert _writes_pending_becomes(timed, 2, timeout=5)
        third = httpx.post(timed.url + "/documents", json={"id": "third", "text": "T."}, timeout=5)
        assert third.status_code == 503, third.text
        assert "per client" in third.json()["error"]["message"]
        assert third.headers["Retry-After"].isdigit()
        other = httpx.Client(  # another address (127.0.0.2) is another client
            base_url=timed.url,
            transport=httpx.HTTPTransport(local_address="127.0.0.2"),
            timeout=60,
        )
        with other:
            r = other.post("/documents", json={"id": "other-client", "text": "Oslo hosted it."})
        assert r.status_code == 201, r.text
        for sock in slow:
            closed, sent = _closed_within(sock, 6.0)
            assert closed and sent.startswith(b"HTTP/1.1 408 "), sent[:300]
            assert b"did not arrive within 2 s" in sent
        assert _writes_pending_becomes(timed, 0, timeout=5)
    finally:
        for sock in slow:
            sock.close()
    r = httpx.post(timed.url + "/documents", json={"id": "after-slow", "text": "A."}, timeout=60)
    assert r.status_code == 201, r.text


def test_an_idle_keep_alive_connection_is_closed(timed: Server) -> None:
    with socket.create_connection(("127.0.0.1", timed.port), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        closed, sent = _closed_within(sock, 4.0)
    assert closed and sent.startswith(b"HTTP/1.1 200 "), sent[:200]


def test_a_hostile_json_body_does_not_stall_the_server(timed: Server) -> None:
    """A 40 KB body froze every request for 10 s (the depth check was quadratic): a 1 MB body
    of escaped quotes is now refused at once and /health never waits."""
    body = b'{"id": "x", "text": "' + b'\\"' * 500_000
    latencies: list[float] = []

    def probe() -> None:
        with httpx.Client(base_url=timed.url, timeout=10) as client:
            for _ in range(10):
                t0 = time.perf_counter()
                client.get("/health")
                latencies.append(time.perf_counter() - t0)
                time.sleep(0.05)

    prober = threading.Thread(target=probe)
    prober.start()
    started = time.perf_counter()
    r = httpx.post(
        timed.url + "/documents",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    took = time.perf_counter() - started
    prober.join()
    assert r.status_code == 422, r.text[:300]
    assert took < 3.0
    assert max(latencies) < 1.0, latencies


# --- 4: nesting ------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [1000, 100_000])
def test_deep_json_bodies_are_422_not_500(guarded: Server, depth: int) -> None:
    deep = "[" * depth + "]" * depth
    body = '{"id": "deep", "text": "x", "metadata": ' + deep + "}"
    for path in ("/documents", "/ask"):
        r = httpx.post(
            guarded.url + path,
            content=body.encode(),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert r.status_code == 422, (path, r.status_code, r.text[:300])
        if path == "/documents":
            assert "nested" in r.json()["error"]["message"]


def test_deep_jsonl_record_fails_alone(index_copy: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("Finland joined NATO on 4 April 2023 after a request in May 2022.\n")
    deep = tmp_path / "deep.jsonl"
    nested = "[" * 20_000 + "]" * 20_000
    deep.write_text(
        json.dumps({"id": "ok-record", "text": "Norway hosted the talks in 2021."})
        + "\n"
        + '{"id": "deep", "text": "t", "x": '
        + nested
        + "}\n"
    )
    done = run_rag("ingest", good, deep, "--index", index_copy, "-q")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    failed = [line for line in done.stderr.splitlines() if line.startswith("failed:")]
    assert len(failed) == 1 and "deep.jsonl" in failed[0] and "nested" in failed[0], failed
    listed = run_rag("documents", "list", "--index", index_copy)
    assert "good.txt" in listed.stdout and "ok-record" in listed.stdout


def test_hostile_files_fail_alone_in_rag_ingest(index_copy: Path, tmp_path: Path) -> None:
    """Issue 28: a space bomb, an overflowing count and 5000-deep nesting in .odt files and a
    lone surrogate in a JSONL record each fail alone; the good files beside them are ingested."""
    from tests.unit.test_loaders import odt_bytes

    folder = tmp_path / "in"
    folder.mkdir()
    for name, body in {
        "bomb.odt": '<text:p>a<text:s text:c="1500000000"/>b</text:p>',
        "huge.odt": '<text:p>a<text:s text:c="100000000000000000000"/>b</text:p>',
        "deep.odt": f"<text:p>{'<text:span>' * 5000}Deep.{'</text:span>' * 5000}</text:p>",
    }.items():
        (folder / name).write_bytes(odt_bytes(body))
    (folder / "good.txt").write_text("Finland joined NATO on 4 April 2023.\n")
    (folder / "records.jsonl").write_text(
        '{"id": "surrogate", "text": "bad \\ud800 text."}\n'
        '{"id": "ok-record", "text": "Norway hosted the talks in 2021."}\n'
    )
    started = time.monotonic()
    done = run_rag("ingest", folder, "--index", index_copy, "-q")
    assert time.monotonic() - started < 60
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    failed = sorted(line for line in done.stderr.splitlines() if line.startswith("failed:"))
    assert len(failed) == 3, failed
    assert "bomb.odt" in failed[0] and "huge.odt" in failed[1] and "records.jsonl:1" in failed[2]
    assert "lone surrogate" in failed[2]
    listed = run_rag("documents", "list", "--index", index_copy)
    for doc_id in ("good.txt", "ok-record", "deep.odt"):
        assert doc_id in listed.stdout
    assert "bomb.odt" not in listed.stdout and "huge.odt" not in listed.stdout


# --- 5: a read-only index ------------------------------------------------------------------
def _readonly_wrap(source: Path, target: Path) -> list[str]:
    """A command prefix that runs the rest in a private mount namespace where ``target`` is a
    read-only bind mount of ``source`` (root respects a read-only mount, unlike chmod)."""
    target.mkdir(parents=True, exist_ok=True)
    script = f"mount --bind '{source}' '{target}' && mount -o remount,bind,ro '{target}' && "
    return ["unshare", "-m", "sh", "-c", script + 'exec "$@"', "sh"]


@pytest.fixture
def readonly_wrap(index_copy: Path, tmp_path: Path) -> tuple[list[str], Path]:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare for a read-only bind mount")
    probe = tmp_path / "probe"
    wrap = _readonly_wrap(index_copy, probe)
    done = subprocess.run([*wrap, "touch", str(probe / "x")], capture_output=True)
    if done.returncode == 0 or b"Read-only" not in done.stderr:
        pytest.skip(f"read-only bind mounts are not available here: {done.stderr!r}")
    return _readonly_wrap(index_copy, tmp_path / "ro"), tmp_path / "ro"


def test_read_only_index_answers(readonly_wrap: tuple[list[str], Path], tmp_path: Path) -> None:
    wrap, ro = readonly_wrap
    run = [*wrap, sys.executable, "-m", "rag.cli"]
    for args in (
        ["ask", QUESTION, "--index", str(ro), "--json"],
        ["stats", "--check", "--index", str(ro)],
        ["documents", "list", "--index", str(ro)],
    ):
        done = subprocess.run([*run, *args], env=offline_env(), capture_output=True, text=True)
        assert done.returncode == 0, (args, done.stderr)
        assert "Traceback" not in done.stderr
    answer = subprocess.run(
        [*run, "ask", QUESTION, "--index", str(ro), "--json"],
        env=offline_env(),
        capture_output=True,
        text=True,
    )
    assert "2024" in json.loads(answer.stdout)["short_answer"]
    note = tmp_path / "note.txt"  # a readable input: one of no known type is only skipped
    note.write_text("Sweden joined NATO in March 2024.\n", encoding="utf-8")
    ingest = subprocess.run(
        [*run, "ingest", str(note), "--index", str(ro), "-q"],
        env=offline_env(),
        capture_output=True,
        text=True,
    )
    assert_clean_failure(ingest, 8, "read-only")
    server = Server(ro, tmp_path / "serve.log", wrap=wrap).start()
    try:
        reply = httpx.post(server.url + "/ask", json={"question": QUESTION}, timeout=30)
        assert reply.status_code == 200 and "2024" in reply.json()["short_answer"]
        write = httpx.post(server.url + "/documents", json={"id": "n", "text": "t"}, timeout=30)
        assert write.status_code == 503, write.text
        assert write.json()["error"]["code"] == "index_read_only"
    finally:
        server.stop()


# --- 6: damage -----------------------------------------------------------------------------
def _damage(index: Path, how: str) -> None:
    catalog = index / "catalog.sqlite"
    if how == "empty":
        catalog.write_bytes(b"")
    elif how == "halved":
        data = catalog.read_bytes()
        catalog.write_bytes(data[: len(data) // 2])
    elif how == "garbage-header":
        data = catalog.read_bytes()
        catalog.write_bytes(os.urandom(100) + data[100:])
    elif how == "overwritten-16k":
        data = bytearray(catalog.read_bytes())
        middle = (len(data) // 2 // 4096) * 4096
        data[middle : middle + 16384] = os.urandom(16384)
        catalog.write_bytes(bytes(data))
    elif how == "flipped-vectors":
        vector_file = sorted((index / "vectors").glob("*.faiss"))[-1]
        data = bytearray(vector_file.read_bytes())
        for at in range(len(data) // 2, len(data) // 2 + 64):
            data[at] ^= 0xFF
        vector_file.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "how", ["empty", "halved", "garbage-header", "overwritten-16k", "flipped-vectors"]
)
def test_damaged_index_is_reported(index_copy: Path, how: str) -> None:
    if how == "overwritten-16k" and (index_copy / "catalog.sqlite").stat().st_size < 64 * 1024:
        pytest.skip("the catalog is too small to overwrite 16 KB in its middle")
    _damage(index_copy, how)
    check = run_rag("stats", "--check", "--index", index_copy)
    assert_clean_failure(check, 7, "damaged")
    for args in (["ask", QUESTION], ["stats"], ["documents", "list"]):
        done = run_rag(*args, "--index", index_copy)
        assert "Traceback" not in done.stderr, (args, done.stderr)
        if how != "overwritten-16k":  # damage to pages a command never reads goes unnoticed
            assert_clean_failure(done, 7, "damaged")
    if how in ("garbage-header", "flipped-vectors"):
        serve = run_rag("serve", "--index", index_copy, "--port", str(free_port()), timeout=60)
        assert_clean_failure(serve, 7, "damaged")


# --- 7: the command line -------------------------------------------------------------------
def test_cli_failures_are_one_line_and_a_documented_code(index_copy: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "plain.txt"
    a_file.write_text("not a folder")
    ix = ["--index", str(index_copy)]
    cases: list[tuple[list[Any], dict[str, str], int, str]] = [
        (["ask", b"\xff\xfe what?", *ix], {}, 4, "UTF-8"),
        (["ask", "\u200b\u200b\u200b", *ix], {}, 4, "empty"),
        (["ask", QUESTION, "--filter", "n=" + "9" * 40, *ix], {}, 4, "64 bits"),
        (["ask", QUESTION, "--filter", "date_from=not-a-date", *ix], {}, 4, "YYYY"),
        (["ask", QUESTION, "--index", str(a_file)], {}, 8, "is a file"),
        (["ask", QUESTION, "--index", str(a_file / "sub")], {}, 8, "lies under the file"),
        (["ingest", str(a_file), "--index", "/proc/rag-index"], {}, 8, "kernel file system"),
        (["serve", *ix, "--port", "0"], {}, 2, "--port"),
        (["ingest", str(a_file), *ix, "--chunk-tokens", "5"], {}, 2, "--chunk-tokens"),
        (["ask", QUESTION, *ix], {"RAG_TOP_K": "abc"}, 2, "RAG_TOP_K"),
        (["ask", QUESTION, "--k", "0", *ix], {}, 2, "between 1 and 50"),
        (["ask", "--file", str(tmp_path / "none.txt"), *ix], {}, 4, "No such file"),
        (["ask", "--file", str(tmp_path), *ix], {}, 4, "Is a directory"),
        (["serve", *ix], {"RAG_MAX_UPLOAD_BYTES": "-1"}, 2, "RAG_MAX_UPLOAD_BYTES"),
    ]
    for args, env, code, needle in cases:
        done = run_rag(*args, env=env)
        assert_clean_failure(done, code, needle)
        assert len([ln for ln in done.stderr.splitlines() if ln.startswith("error:")]) == 1

    cors = run_rag("stats", *ix, env={"RAG_CORS_ORIGINS": "http://localhost:3000"})
    assert cors.returncode == 0, cors.stderr
    shown = run_rag("documents", "show", "--index", str(index_copy), ARTICLE_ID, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["id"] == ARTICLE_ID

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_rag("serve", *ix, "--port", str(port), timeout=60)
    assert_clean_failure(done, 9, "in use")


def test_endless_inputs_and_bad_options_fail_fast(tmp_path: Path) -> None:
    """Issue 28: `rag ask --file /dev/zero` read forever, `rag ask - < /dev/zero` too; `--ray
    bogus:99999` hung for over 80 s; `train-answerer --steps -1` trained. Each is now a one-line
    error within seconds, before any index or model is touched."""
    ix = ["--index", str(tmp_path / "no-index")]
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{closed.getsockname()[1]}"
    cases: list[tuple[list[Any], int, str]] = [
        (["ask", "--file", "/dev/zero", *ix], 4, "more than 67108864 bytes"),
        (["ingest", str(tmp_path), *ix, "--ray", "bogus:99999"], 2, "--ray 'bogus:99999'"),
        (["ingest", str(tmp_path), *ix, "--ray", "no-port"], 2, "HOST:PORT"),
        (["ingest", str(tmp_path), *ix, "--ray", dead], 6, "cannot reach a Ray cluster"),
        (["train-reader", "--steps", "-1"], 2, "positive whole number"),
        (["train-reader", "--layers", "0"], 2, "positive whole number"),
        (["train-reader", "--nearest", "-1"], 2, "whole number of at least 0"),
    ]
    (tmp_path / "a.txt").write_text("Norway hosted the talks in 2021.")
    for args, code, needle in cases:
        started = time.monotonic()
        done = run_rag(*args, env={"RAG_RAY_CONNECT_TIMEOUT_S": "3"}, timeout=60)
        assert time.monotonic() - started < 30, args
        assert_clean_failure(done, code, needle)
    for args in (["ask", "-", *ix], ["ask", "--file", "-", *ix]):
        with open("/dev/zero", "rb") as zero:
            done = subprocess.run(
                [sys.executable, "-m", "rag.cli", *args],
                env=offline_env(RAG_ASK_FILE_MAX_BYTES="1000000"),
                stdin=zero,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        assert_clean_failure(done, 4, "standard input: more than 1000000 bytes")


# --- 8: special files ----------------------------------------------------------------------
def test_fifos_and_devices_are_refused(index_copy: Path, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "good.txt").write_text("Denmark hosted the Nordic defence meeting in 2022.\n")
    os.mkfifo(folder / "x.txt")
    (folder / "z.txt").symlink_to("/dev/zero")
    done = run_rag("ingest", folder, "--index", index_copy, "-q", timeout=120)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    failed = [line for line in done.stderr.splitlines() if line.startswith("failed:")]
    assert len(failed) == 2, failed
    assert any("x.txt" in f and "FIFO" in f for f in failed)
    assert any("z.txt" in f and "character device" in f for f in failed)
    assert "good.txt" in run_rag("documents", "list", "--index", index_copy).stdout


# --- 9: the smaller items ------------------------------------------------------------------
def test_smaller_items_over_http(guarded: Server) -> None:
    http = httpx.Client(base_url=guarded.url, timeout=30)
    # ids '.' and '..' would be path segments in the page's URLs
    for bad_id in (".", ".."):
        r = http.post("/documents", json={"id": bad_id, "text": "Some text."})
        assert r.status_code == 422 and "'.'" in r.text, r.text
    # impossible dates
    r = http.post("/documents", json={"id": "d", "text": "Some text.", "date": "2024-13-45"})
    assert r.status_code == 422, r.text
    r = http.post("/ask", json={"question": QUESTION, "filters": {"date_from": "not-a-date"}})
    assert r.status_code == 422, r.text
    # zero-width spaces are not a question; spaces around one do not count toward the limit
    r = http.post("/ask", json={"question": "\u200b\u200b\u200b"})
    assert r.status_code == 422 and "empty" in r.json()["error"]["message"]
    padded = " " * 600 + QUESTION + " " * 600
    assert http.post("/ask", json={"question": padded}).status_code == 200
    # nosniff on JSON, HEAD like GET, the page's CSP without inline script
    health = http.get("/health")
    assert health.headers["x-content-type-options"] == "nosniff"
    head = http.head("/health")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["x-content-type-options"] == "nosniff"
    csp = http.get("/").headers["content-security-policy"]
    script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
    assert "unsafe-inline" not in script_src and "'sha256-" in script_src
    # the 413 names the limit that was set
    r = http.post("/documents", files={"file": ("big.txt", b"x" * 2_100_000)}, headers=FORM)
    assert r.status_code == 413 and "2000000 bytes" in r.json()["error"]["message"], r.text
    # RFC 6266 filename*=
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; '
        b"filename*=UTF-8''r%C3%A9sum%C3%A9.txt\r\nContent-Type: text/plain\r\n\r\n"
        b"Iceland hosted the summit in 1986.\r\n--b--\r\n"
    )
    r = http.post(
        "/documents",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=b", **FORM},
    )
    assert r.status_code == 201 and r.json()["ids"] == ["r\u00e9sum\u00e9.txt"], r.text
    assert http.delete("/documents/r\u00e9sum\u00e9.txt", headers=FORM).status_code == 200
    # a request uvicorn cannot parse is answered in the JSON error shape
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head_part, _, payload = reply.partition(b"\r\n\r\n")
    assert head_part.startswith(b"HTTP/1.1 400"), reply[:200]
    assert json.loads(payload)["error"]["code"] == "malformed_http"


def test_utf8_api_key(index_copy: Path, tmp_path: Path) -> None:
    key = "cl\u00e9-\u043a\u043b\u044e\u0447"
    server = Server(index_copy, tmp_path / "serve.log", env=offline_env(RAG_API_KEY=key)).start()
    try:
        doc = {"id": "keyed", "text": "A note added with a UTF-8 key."}
        auth = {"Authorization": ("Bearer " + key).encode("utf-8")}
        r = httpx.post(server.url + "/documents", json=doc, headers=auth, timeout=30)
        assert r.status_code == 201, r.text
        wrong = {"Authorization": ("Bearer " + key).encode("utf-8")[:-1]}
        r = httpx.post(server.url + "/documents", json=doc, headers=wrong, timeout=30)
        assert r.status_code == 401
    finally:
        server.stop()


# --- property tests: no 5xx from any body, no traceback from any command line --------------
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def _nested(depth: int, kind: str) -> str:
    return ("[" * depth + "]" * depth) if kind == "list" else ('{"a":' * depth + "1" + "}" * depth)


DOCUMENT_BODIES = st.one_of(
    st.fixed_dictionaries(
        {"id": st.text(max_size=12), "text": st.text(max_size=60)},
        optional={
            "title": JSON_VALUES,
            "date": st.text(max_size=12) | JSON_VALUES,
            "metadata": JSON_VALUES,
            "page_starts": JSON_VALUES,
            "source": JSON_VALUES,
        },
    ).map(lambda d: json.dumps(d).encode()),
    st.tuples(st.integers(1, 30_000), st.sampled_from(["list", "object"])).map(
        lambda t: ('{"id": "n", "text": "t", "metadata": ' + _nested(*t) + "}").encode()
    ),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=DOCUMENT_BODIES)
def test_document_bodies_never_cause_a_5xx(guarded: Server, body: bytes) -> None:
    r = httpx.post(
        guarded.url + "/documents",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert r.status_code < 500, (r.status_code, r.text[:500])
    assert "Traceback" not in r.text
    if r.status_code == 201:
        for doc_id in r.json()["ids"]:
            httpx.delete(guarded.url + "/documents/" + quote(doc_id, safe=""), headers=FORM)
    else:
        assert set(r.json()) == {"error"}


@pytest.fixture(scope="module")
def cli_index(
    article_index: Settings, index_copier: Any, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return Path(index_copier(article_index.index_dir, tmp_path_factory.mktemp("cli") / "index"))


ARG_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12
)
CLI_ARGS = st.lists(
    st.one_of(
        ARG_TEXT,
        st.sampled_from(["--json", "--check", "--k", "--mode", "--filter", "-v", "--index"]),
        st.sampled_from(["0", "-1", "abc", "5", "9" * 30, "lexical", "n=" + "9" * 25]),
        st.sampled_from(["date_from=2024-13", "date_to=x", "doc_id=..", "=", "a="]),
        st.binary(min_size=1, max_size=6).filter(lambda b: b"\x00" not in b),
    ),
    max_size=6,
)
CLI_ENV = st.dictionaries(
    st.sampled_from(["RAG_TOP_K", "RAG_MAX_UPLOAD_BYTES", "RAG_CORS_ORIGINS", "RAG_PORT"]),
    st.sampled_from(["abc", "-1", "0", "[", "http://localhost:3000", "7"]),
    max_size=2,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    command=st.sampled_from([["ask"], ["stats"], ["documents", "list"], ["documents", "show"]]),
    args=CLI_ARGS,
    env=CLI_ENV,
)
def test_cli_arguments_never_cause_a_traceback(
    cli_index: Path, command: list[str], args: list[Any], env: dict[str, str]
) -> None:
    if command == ["ask"]:
        args = [QUESTION, *args]
    done = run_rag(*command, *args, "--index", cli_index, env=env, timeout=60)
    assert done.returncode in EXIT_CODES, (done.returncode, done.stderr[-2000:])
    if "-v" not in args:
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
