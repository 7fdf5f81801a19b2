"""Issue 28, `rag mcp` over stdio, line by line through a real process: every request gets an
answer (a line that is not JSON: -32700; a lone surrogate: -32600; array params: -32602), the
client closing its end is exit 0, and the server reports the project's version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from typing import Any

import pytest

from rag.settings import Settings

pytest.importorskip("mcp")

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "pytest", "version": "1"},
    },
}
ASK = {
    "jsonrpc": "2.0",
    "id": 9,
    "method": "tools/call",
    "params": {"name": "ask", "arguments": {"question": "When did Sweden join NATO?"}},
}


class Client:
    def __init__(self, index_dir: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "mcp", "--index", index_dir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "RAG_EMBED_THREADS": "1"},
        )

    def send(self, message: dict[str, Any] | bytes) -> None:
        line = message if isinstance(message, bytes) else json.dumps(message).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, self.finish()[1]
        return dict(json.loads(line))

    def initialize(self) -> dict[str, Any]:
        self.send(INITIALIZE)
        reply = self.receive()
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return reply

    def finish(self) -> tuple[int, str]:
        """Close our end, as a client does when it is done; the exit status and stderr."""
        assert self.proc.stdin is not None
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            code = self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read().decode("utf-8", "replace")


def test_every_request_gets_an_answer_and_disconnect_is_exit_0(article_index: Settings) -> None:
    client = Client(str(article_index.index_dir))
    try:
        info = client.initialize()["result"]["serverInfo"]
        assert info["version"] == version("rag-foreign-policy") != version("mcp"), info

        client.send(b"this is not json {")
        reply = client.receive()
        assert reply["id"] is None and reply["error"]["code"] == -32700, reply

        client.send(b"\xff\xfe{}")
        assert client.receive()["error"]["code"] == -32700

        lone = (
            b'{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "ask", '
            b'"arguments": {"question": "Who \\udcff?"}}}'
        )
        client.send(lone)
        reply = client.receive()
        assert reply["id"] == 2 and reply["error"]["code"] == -32600, reply

        client.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": ["ask", {}]})
        reply = client.receive()
        assert reply["id"] == 3 and reply["error"]["code"] == -32602, reply

        client.send(b"[1, 2]")
        assert client.receive()["error"]["code"] == -32600

        client.send(ASK)  # still serving after all of that
        reply = client.receive()
        assert reply["id"] == 9 and "2024" in reply["result"]["content"][0]["text"], reply
    finally:
        code, stderr = client.finish()
    assert code == 0, stderr
    assert "closed file" not in stderr and "Traceback" not in stderr, stderr


@pytest.mark.parametrize("when", ["after-initialize", "with-a-call-in-flight"])
def test_client_disconnect_is_a_normal_exit(article_index: Settings, when: str) -> None:
    client = Client(str(article_index.index_dir))
    client.initialize()
    if when == "with-a-call-in-flight":
        client.send(ASK)
    code, stderr = client.finish()
    assert code == 0, stderr
    assert "error" not in stderr.lower() and "Traceback" not in stderr, stderr
