"""Replay every hostile input of issue 28's "Measured" section against a real `rag serve` on
127.0.0.1, `rag` command-line processes and `rag mcp`, and say how each went.

    python -m bench.hostile_inputs --out bench/results [--records 20000]

Each input must give a clear error or the right result: no 500 (a 503 or 507 only where the
docs name it: a damaged index, a full disk, a full queue), no traceback in any output, nothing
lost (the documents already there are still there and the article still answers), and `/health`,
polled every 100 ms from its own thread while the server-side inputs run, under 1 s throughout.
The result (each input's time and verdict, `/health`'s worst latency) goes to
``OUT/hostile_inputs.json``; docs/security.md quotes it.

The inputs and the checks reuse the regression tests' helpers (tests/e2e/test_hardening.py,
tests/integration/test_index_damage.py, tests/e2e/test_mcp_stdio.py,
tests/integration/test_cli_text.py); this script is where they all run together, one after the
other, on one server, at the sizes the issue measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from bench.common import machine, write_result
from rag.loaders import LoadFailure, iter_documents
from rag.settings import Settings
from rag.system import QASystem
from tests.e2e.test_hardening import ARTICLE_ID, QUESTION, _closed_within, assert_clean_failure
from tests.e2e.test_mcp_stdio import ASK, Client
from tests.index_folders import copy_index_folder
from tests.integration.test_cli_text import BRACKETS_TEXT, ESC_TEXT
from tests.integration.test_index_damage import DAMAGE
from tests.processes import Server, offline_env, run_rag
from tests.unit.test_loaders import odt_bytes

ARTICLE = Path(__file__).resolve().parents[1] / "rag" / "data" / ARTICLE_ID
FORM = {"X-Requested-With": "bench"}
#: Server limits for the replay: short enough that trickling clients end within seconds.
SERVER_ENV = {
    "RAG_HEADER_TIMEOUT_S": "2",
    "RAG_BODY_TIMEOUT_S": "3",
    "RAG_KEEP_ALIVE_TIMEOUT_S": "2",
}
#: Issue 28's ODT bombs: a space count of 1.5 G, one of 1e20, 5000-deep nesting.
ODT_BOMBS = {
    "bomb.odt": '<text:p>a<text:s text:c="1500000000"/>b</text:p>',
    "huge.odt": '<text:p>a<text:s text:c="100000000000000000000"/>b</text:p>',
    "deep.odt": f"<text:p>{'<text:span>' * 5000}Deep.{'</text:span>' * 5000}</text:p>",
}
#: A JSONL record holding a lone surrogate, beside a good one.
SURROGATE_JSONL = (
    '{"id": "surrogate", "text": "bad \\ud800 text."}\n'
    '{"id": "ok-record", "text": "Norway hosted the talks in 2021."}\n'
)


class Failed(AssertionError):
    pass


def check(condition: object, detail: object) -> str:
    """``ok``, or :class:`Failed` with ``detail``."""
    if not condition:
        raise Failed(str(detail)[:600])
    return "ok"


@dataclass
class Outcome:
    name: str
    door: str
    seconds: float
    ok: bool
    detail: str
    health_worst_s: float | None = None


@dataclass
class HealthProbe:
    """Polls ``/health`` every 100 ms on its own connection; the worst latency per window."""

    url: str
    worst_s: float = 0.0
    window_worst_s: float = 0.0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> HealthProbe:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self._stop.is_set():
                t0 = time.perf_counter()
                try:
                    status = client.get("/health").status_code
                    if status != 200:
                        self.failures.append(f"/health {status}")
                except httpx.HTTPError as exc:
                    self.failures.append(f"/health {type(exc).__name__}")
                took = time.perf_counter() - t0
                self.worst_s = max(self.worst_s, took)
                self.window_worst_s = max(self.window_worst_s, took)
                self._stop.wait(0.1)

    def window(self) -> float:
        worst, self.window_worst_s = self.window_worst_s, 0.0
        return worst

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=40)


class Replay:
    def __init__(self, work: Path, records: int, upload_bytes: int = 3_000_000) -> None:
        self.work = work
        self.records = records
        self.upload_bytes = upload_bytes
        self.outcomes: list[Outcome] = []
        self.base = self._article_index()

    # --- the runner ---------------------------------------------------------------------------
    def run(self, name: str, door: str, case: Callable[[], str | None], probe: Any = None) -> None:
        if probe is not None:
            probe.window()
        started = time.perf_counter()
        try:
            detail, ok = case() or "ok", True
        except Exception as exc:  # a failed check or anything unexpected: recorded, not raised
            detail, ok = f"{type(exc).__name__}: {exc}", False
        took = time.perf_counter() - started
        worst = probe.window() if probe is not None else None
        if worst is not None and worst >= 1.0:
            ok, detail = False, f"/health took {worst:.2f} s; {detail}"
        self.outcomes.append(Outcome(name, door, round(took, 2), ok, detail, worst))
        health = "" if worst is None else f"  /health worst {worst:.3f} s"
        print(f"{'ok  ' if ok else 'FAIL'} {door:5} {took:7.2f} s  {name}{health}", flush=True)
        if not ok:
            print(f"     {detail}", flush=True)

    # --- indexes ----------------------------------------------------------------------------
    def _article_index(self) -> Path:
        folder = self.work / "article"
        report = QASystem.build(Settings(index_dir=folder), iter_documents([ARTICLE]))
        assert report.added == 1, report.failures
        return folder

    def copy(self, name: str) -> Path:
        return copy_index_folder(self.base, self.work / name)

    def write(self, name: str, data: bytes | str) -> Path:
        path = self.work / "inputs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        return path

    @contextmanager
    def server(self, index: Path, name: str, **env: str) -> Iterator[Server]:
        log = self.work / f"{name}.log"
        running = Server(index, log, env=offline_env(**SERVER_ENV, **env)).start()
        try:
            yield running
        finally:
            running.stop()
            text = log.read_text(errors="replace")
            self.run(f"{name}: no traceback in the server's log", "http", lambda: _no_tb(text))


def _no_tb(*texts: str) -> str:
    for text in texts:
        check("Traceback" not in text, text[text.find("Traceback") :][:400])
    return "ok"


def _clean(done: subprocess.CompletedProcess[str]) -> str:
    return _no_tb(done.stdout, done.stderr)


def _fails(args: list[str | bytes | Path], code: int, needle: str) -> str:
    assert_clean_failure(run_rag(*args, timeout=120), code, needle)
    return f"exit {code}"


def _status(r: httpx.Response, *allowed: int) -> httpx.Response:
    check(r.status_code in allowed, f"{r.status_code} (wanted {allowed}): {r.text[:300]}")
    _no_tb(r.text)
    return r


def _answers(http: httpx.Client, **filters: str) -> str:
    body: dict[str, Any] = {"question": QUESTION}
    if filters:
        body["filters"] = filters
    r = _status(http.post("/ask", json=body), 200)
    check("2024" in (r.json().get("short_answer") or ""), r.text[:300])
    return "answers 'March 2024'"


# --- the server-side inputs ---------------------------------------------------------------------
def server_inputs(replay: Replay) -> float:
    index = replay.copy("served")
    with replay.server(index, "serve") as server:
        probe = HealthProbe(server.url).start()
        http = httpx.Client(base_url=server.url, timeout=120, headers=FORM)
        try:
            _server_cases(replay, server, http, probe)
        finally:
            probe.stop()
            http.close()
        replay.run(
            "/health never failed",
            "http",
            lambda: check(not probe.failures, probe.failures[:5]),
        )
    return probe.worst_s


def _server_cases(replay: Replay, server: Server, http: httpx.Client, probe: HealthProbe) -> None:
    run = replay.run
    before = {d["id"] for d in http.get("/documents", params={"limit": 100}).json()["documents"]}

    def post_json(path: str, body: bytes) -> str:
        r = http.post(path, content=body, headers={"Content-Type": "application/json"})
        return str(_status(r, 400, 413, 422).json()["error"]["code"])

    for size in (40_000, 60_000):
        quotes = b'{"id": "x", "text": "' + b'\\"' * (size // 2)
        nested = b'{"id": "x", "text": "t", "metadata": ' + b"[" * (size // 2) + b"]" * (size // 2)
        for label, body in (("escaped quotes", quotes), ("nesting", nested)):
            for path in ("/documents", "/ask"):
                name = f"POST {path}: {size // 1000} KB JSON body of {label}"
                run(name, "http", partial(post_json, path, body), probe)

    def upload(name: str, data: bytes, *allowed: int) -> str:
        r = _status(http.post("/documents", files={"file": (name, data)}), *allowed)
        return f"{r.status_code} {r.text[:160]}"

    for name, markup in ODT_BOMBS.items():
        data = odt_bytes(markup)
        run(f"upload {name}", "http", partial(upload, name, data, 201, 413, 422), probe)
    run(
        "upload JSONL with a lone surrogate \\ud800 beside a good record",
        "http",
        partial(upload, "records.jsonl", SURROGATE_JSONL.encode(), 201, 422),
        probe,
    )
    run(
        "50 trickling connections (a byte every 0.5 s)", "http", lambda: _trickle(server, 50), probe
    )
    run("16 slow uploads from one client", "http", lambda: _slow_uploads(server, 16), probe)
    run(
        "a request path holding ESC (access log)",
        "http",
        lambda: _escaped_path(server, http),
        probe,
    )
    run(
        "documents show/delete and --filter doc_id holding \\xff over HTTP",
        "http",
        lambda: _ff_over_http(http),
        probe,
    )

    def big_upload() -> str:
        data = _hard_wrapped(replay.upload_bytes).encode()
        r = _status(
            http.post("/documents", files={"file": ("wrapped.txt", data)}, timeout=1200), 201
        )
        return f"{r.status_code}: {r.json()['chunks']} chunks embedded (one embedding thread)"

    run(
        f"upload a {replay.upload_bytes / 1e6:g} MB hard-wrapped paragraph (loaded, chunked, "
        "embedded)",
        "http",
        big_upload,
        probe,
    )

    def nothing_lost() -> str:
        after = {d["id"] for d in http.get("/documents", params={"limit": 100}).json()["documents"]}
        check(before <= after, f"lost: {sorted(before - after)}")
        _answers(http)
        return f"{len(after)} documents, the {len(before)} from before among them; answers"

    run("nothing lost, the article still answers", "http", nothing_lost, probe)


def _hard_wrapped(size: int) -> str:
    line = "the accord with Iceland would be extended until the end of 2031 after two rounds of"
    return "\n".join([line] * (size // (len(line) + 1))) + ".\n"


def _trickle(server: Server, n: int) -> str:
    socks = []
    try:
        for _ in range(n):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            socks.append(sock)
        started = time.monotonic()
        closed: set[int] = set()
        while len(closed) < n and time.monotonic() - started < 10:
            for i, sock in enumerate(socks):
                if i not in closed:
                    try:
                        sock.sendall(b"a")
                    except OSError:
                        closed.add(i)
            time.sleep(0.5)
        codes = []
        for sock in socks:
            shut, sent = _closed_within(sock, 5.0)
            check(shut, "a trickling connection stayed open")
            codes.append(sent[:12].decode("latin-1"))
        check(all(c in ("HTTP/1.1 408", "") for c in codes), codes[:5])
        return f"all {n} closed within {time.monotonic() - started:.1f} s (408)"
    finally:
        for sock in socks:
            sock.close()


def _slow_uploads(server: Server, n: int) -> str:
    head = (
        b"POST /documents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"X-Requested-With: bench\r\nContent-Length: 1000\r\n\r\n{"
    )
    socks = []
    try:
        for _ in range(n):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(head)
            socks.append(sock)
        time.sleep(0.5)
        with httpx.Client(
            base_url=server.url,
            transport=httpx.HTTPTransport(local_address="127.0.0.2"),
            timeout=120,
            headers=FORM,
        ) as other:
            r = _status(other.post("/documents", json={"id": "other", "text": "Oslo hosted."}), 201)
        replies = []
        for sock in socks:
            shut, sent = _closed_within(sock, 8.0)
            check(shut, "a slow upload stayed open")
            replies.append(sent[:12].decode("latin-1"))
        check(not any(" 500" in s for s in replies), replies)
        counts = {s: replies.count(s) for s in set(replies)}
        return f"another client's write {r.status_code}; the slow ones: {counts}"
    finally:
        for sock in socks:
            sock.close()


def _escaped_path(server: Server, http: httpx.Client) -> str:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /documents/\x1b[31mred HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        reply = sock.recv(65536)
    check(not reply.startswith(b"HTTP/1.1 5"), reply[:200])
    http.get("/health")
    log = server.log_path.read_bytes()
    check(b"\x1b" not in log, "a raw ESC in the server's log")
    return reply[:12].decode("latin-1") + "; the log holds no raw ESC"


def _ff_over_http(http: httpx.Client) -> str:
    deep_ff = b'{"question": "When?", "filters": {"doc_id": "\\udcff"}}'
    codes = [
        _status(http.get("/documents/%FF"), 400, 404, 422).status_code,
        _status(http.delete("/documents/%FF"), 400, 404, 422).status_code,
        _status(
            http.post("/ask", content=deep_ff, headers={"Content-Type": "application/json"}),
            400,
            422,
        ).status_code,
    ]
    return f"GET, DELETE /documents/%FF and a doc_id filter of \\udcff: {codes}"


# --- damage, served and on the command line ---------------------------------------------------
def damage_inputs(replay: Replay) -> None:
    for how, (damage, needle) in DAMAGE.items():
        index = replay.copy(f"damaged-{how}")

        def cli_case(index: Path = index, damage: Any = damage, needle: str = needle) -> str:
            damage(index)
            done = run_rag("stats", "--check", "--index", index)
            assert_clean_failure(done, 7, "damaged", needle)
            asked = run_rag("ask", QUESTION, "--index", index)
            assert_clean_failure(asked, 7, "damaged")
            check(asked.stdout == "", f"an answer from a damaged index: {asked.stdout[:200]}")
            return "stats --check exit 7, ask exit 7 (no answer)"

        replay.run(f"damaged index ({how}): rag stats --check, rag ask", "cli", cli_case)

        served = replay.copy(f"served-damaged-{how}")

        def http_case(served: Path = served, damage: Any = damage, how: str = how) -> str:
            with replay.server(served, f"serve-damaged-{how}") as server:
                damage(served)  # the server opened the index before the damage
                r = _status(server.http.post("/ask", json={"question": QUESTION}), 200, 503)
                if r.status_code == 200:
                    check("2024" in (r.json().get("short_answer") or ""), r.text[:300])
                    return "200 with the right answer (damage to what this query does not read)"
                return f"503 {r.json()['error']['code']}"

        replay.run(f"damaged index ({how}) while served: POST /ask", "http", http_case)


def disk_full_input(replay: Replay) -> None:
    """A served index on a tmpfs with about 1 MB to spare, written to until it is full."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        replay.outcomes.append(Outcome("disk full", "http", 0, True, "skipped: needs root"))
        return
    index = replay.copy("full-source")
    size = sum(p.stat().st_size for p in index.rglob("*") if p.is_file()) + 1_500_000
    mount = replay.work / "tmpfs"
    mount.mkdir()
    script = (
        f"mount -t tmpfs -o size={size} tmpfs '{mount}' && cp -a '{index}/.' '{mount}/' && "
        'exec "$@"'
    )
    wrap = ["unshare", "-m", "sh", "-c", script, "sh"]

    def case() -> str:
        server = Server(
            mount, replay.work / "full.log", env=offline_env(**SERVER_ENV), wrap=wrap
        ).start()
        try:
            http = server.http
            statuses = []
            for i in range(60):
                text = " ".join(f"Shelf {i}-{j} of the archive holds boxes." for j in range(100))
                r = http.post("/documents", json={"id": f"fill-{i}", "text": text}, headers=FORM)
                _status(r, 201, 507)
                statuses.append(r.status_code)
                if r.status_code == 507:
                    check(r.json()["error"]["code"] == "insufficient_storage", r.text[:300])
                    break
            check(507 in statuses, f"the disk never filled: {statuses[-3:]}")
            kept = [f"fill-{i}" for i, s in enumerate(statuses) if s == 201]
            for doc_id in [ARTICLE_ID, *kept]:
                _status(http.get(f"/documents/{doc_id}"), 200)
            _answers(http)
            return f"{len(kept)} writes, then 507; all {len(kept) + 1} documents kept; answers"
        finally:
            server.stop()
            _no_tb((replay.work / "full.log").read_text(errors="replace"))

    replay.run("disk full (a tmpfs filled by POST /documents)", "http", case)


# --- the command line and rag mcp --------------------------------------------------------------
def cli_inputs(replay: Replay) -> None:
    run = replay.run
    index = replay.copy("cli")
    ix = ["--index", str(index)]
    bad: tuple[tuple[list[str | bytes | Path], int, str], ...] = (
        (["documents", "show", b"\xff", *ix], 2, "not UTF-8"),
        (["documents", "delete", b"\xff", *ix], 2, "not UTF-8"),
        (["ask", QUESTION, "--filter", b"doc_id=\xff", *ix], 2, "not UTF-8"),
        (["ask", "--file", "/dev/zero", *ix], 4, "more than"),
        (["ingest", str(ARTICLE), *ix, "--ray", "bogus:99999"], 2, "--ray 'bogus:99999'"),
        (["train-reader", "--steps", "-1"], 2, "positive whole number"),
    )
    for args, code, needle in bad:
        label = " ".join(a.decode("latin-1") if isinstance(a, bytes) else str(a) for a in args[:4])
        label = (
            label.replace("\xff", "$'\\xff'")
            .replace(str(index), "IDX")
            .replace(str(ARTICLE), ARTICLE_ID)
        )
        run(f"rag {label}", "cli", partial(_fails, args, code, needle))

    def kept() -> str:
        return check(run_rag("documents", "show", ARTICLE_ID, "--json", *ix).returncode == 0, "")

    run("rag documents show: nothing deleted by the \\xff attempts", "cli", kept)

    folder = replay.work / "inputs" / "hostile"
    folder.mkdir(parents=True)
    for name, markup in ODT_BOMBS.items():
        (folder / name).write_bytes(odt_bytes(markup))
    (folder / "good.txt").write_text("Finland joined NATO on 4 April 2023.\n")
    (folder / "records.jsonl").write_text(
        SURROGATE_JSONL
        + '{"id": "deep-line", "text": "t", "x": '
        + "[" * 200_000
        + "]" * 200_000
        + "}\n"
    )

    def hostile_files() -> str:
        done = run_rag("ingest", folder, *ix, "-q", timeout=300)
        _clean(done)
        check(done.returncode == 1, (done.returncode, done.stderr[-500:]))
        failed = sorted(ln for ln in done.stderr.splitlines() if ln.startswith("failed:"))
        check(len(failed) == 4, failed)
        listed = run_rag("documents", "list", *ix).stdout
        for doc_id in ("good.txt", "ok-record", "deep.odt", ARTICLE_ID):
            check(doc_id in listed, f"{doc_id} missing")
        return f"{len(failed)} failed alone (bomb, 1e20, surrogate, 400 KB line); the rest in"

    run(
        "rag ingest: ODT bombs, \\ud800 and a 400 KB deep JSONL line beside good files",
        "cli",
        hostile_files,
    )

    deep_questions = replay.write(
        "deep-questions.jsonl",
        json.dumps({"question": QUESTION}) + "\n" + '{"question": ' + "[" * 200_000 + "\n",
    )
    run(
        "rag ask --file: a 400 KB deep JSONL line",
        "cli",
        lambda: (
            _clean(run_rag("ask", "--file", deep_questions, *ix, timeout=120)) or "no traceback"
        ),
    )

    def load_wrapped(size: int) -> str:
        path = replay.write(f"wrapped-{size}.txt", _hard_wrapped(size))
        t0 = time.perf_counter()
        loaded = list(iter_documents([path]))
        took = time.perf_counter() - t0
        check(len(loaded) == 1 and not isinstance(loaded[0], LoadFailure), loaded[:1])
        return f"read and reflowed as one paragraph in {took:.2f} s"

    for size in (3_000_000, 6_000_000):
        run(
            f"loading a {size // 1_000_000} MB hard-wrapped paragraph (was quadratic)",
            "cli",
            partial(load_wrapped, size),
        )

    odd = replay.write(
        "odd.jsonl",
        json.dumps({"id": "esc-doc", "title": "Baltic \x1b]0;pwned\x07note", "text": ESC_TEXT})
        + "\n"
        + json.dumps({"id": "brackets-doc", "title": "Nordic accord", "text": BRACKETS_TEXT})
        + "\n",
    )

    def escapes() -> str:
        check(run_rag("ingest", odd, *ix, "-q").returncode == 0, "ingest failed")
        done = run_rag("ask", "Where was the Baltic defence treaty signed?", *ix)
        _clean(done)
        check("\x1b" not in done.stdout and "\x9b" not in done.stdout, done.stdout[:300])
        check("\\x1b[31m" in done.stdout, done.stdout[:300])
        return "printed as \\x1b[31m, never raw"

    run("rag ask: terminal escapes in document text", "cli", escapes)

    def brackets() -> str:
        done = run_rag(
            "ask", "When did Iceland ratify the Nordic accord on fisheries?", *ix, "--json"
        )
        _clean(done)
        answer = json.loads(done.stdout)
        quotes = [c["quote"] for c in answer["citations"]]
        check(any("[2][3]" in q for q in quotes), quotes)
        check(answer["answer_plain"] == " ".join(quotes), (answer["answer_plain"], quotes))
        return "answer_plain is the quotes joined, [2][3] kept"

    run("rag ask: [2][3] markers inside a document", "cli", brackets)


def mcp_inputs(replay: Replay) -> None:
    def session() -> str:
        client = Client(str(replay.base))
        try:
            client.initialize()
            got = []
            for line, code in (
                (b"this is not json {", -32700),
                (
                    b'{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": '
                    b'"ask", "arguments": {"question": "Who \\udcff?"}}}',
                    -32600,
                ),
                (
                    b'{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": ["ask", {}]}',
                    -32602,
                ),
            ):
                client.send(line)
                reply = client.receive()
                check(reply["error"]["code"] == code, reply)
                got.append(code)
            client.send(ASK)
            check("2024" in client.receive()["result"]["content"][0]["text"], "no answer")
        finally:
            code, stderr = client.finish()
        _no_tb(stderr)
        check(code == 0, (code, stderr[-300:]))
        return f"errors {got}, then an answer; disconnect exit 0"

    replay.run("rag mcp: malformed line, lone surrogate, array params, disconnect", "mcp", session)


def records_input(replay: Replay) -> None:
    index = replay.copy("records")
    records = replay.write(
        "records.jsonl",
        "".join(
            json.dumps({"id": f"record-{i}", "text": f"Record {i} about Sweden."}) + "\n"
            for i in range(replay.records)
        ),
    )

    def ingest() -> str:
        done = run_rag("ingest", records, "--index", index, "-q", timeout=1800)
        _clean(done)
        check(done.returncode == 0, done.stderr[-500:])
        return f"{replay.records} records ingested"

    replay.run(f"rag ingest: {replay.records} one-line 'Record N about Sweden.'", "cli", ingest)

    def ask() -> str:
        done = run_rag(
            "ask", QUESTION, "--filter", f"doc_id={ARTICLE_ID}", "--index", index, "--json"
        )
        _clean(done)
        check(done.returncode == 0, done.stderr[-300:])
        answer = json.loads(done.stdout)
        check(
            not answer["abstained"] and "2024" in (answer["short_answer"] or ""), answer["answer"]
        )
        return f"answers {answer['short_answer']!r}"

    replay.run(f"rag ask --filter doc_id=<article> among {replay.records} records", "cli", ask)


PARTS: dict[str, Callable[[Replay], Any]] = {
    "server": server_inputs,
    "damage": damage_inputs,
    "disk": disk_full_input,
    "cli": cli_inputs,
    "mcp": mcp_inputs,
    "records": records_input,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument(
        "--upload-bytes", type=int, default=3_000_000, help="the hard-wrapped upload's size"
    )
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=PARTS,
        help="parts to leave out: " + ", ".join(PARTS),
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        replay = Replay(Path(tmp), args.records, args.upload_bytes)
        worst = None
        for name, part in PARTS.items():
            if name not in args.skip:
                value = part(replay)
                if name == "server":
                    worst = value
    failed = [o for o in replay.outcomes if not o.ok]
    result = {
        "benchmark": "hostile_inputs",
        "machine": machine(),
        "load_avg_start": load_start,
        "wall_s": round(time.perf_counter() - started, 1),
        "health_worst_s": None if worst is None else round(worst, 3),
        "inputs": len(replay.outcomes),
        "failed": len(failed),
        "outcomes": [o.__dict__ for o in replay.outcomes],
    }
    write_result(result, args.out, "hostile_inputs")
    print(
        f"{len(replay.outcomes) - len(failed)}/{len(replay.outcomes)} as expected; "
        f"/health worst {worst if worst is None else round(worst, 3)} s",
        file=sys.stderr,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
