"""The `rag` command and `rag serve` as child processes, for the tests that run them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx


def offline_env(**extra: str) -> dict[str, str]:
    """This process's environment without its ``RAG_*`` settings, offline, one embedding thread,
    plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", RAG_EMBED_THREADS="1")
    env.update(extra)
    return env


def run_rag(
    *args: str | bytes | Path,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``python -m rag.cli ARGS`` to its end, in :func:`offline_env` plus ``env``; ``stdin`` is
    its input (none: an empty one); output decoded as UTF-8, bad bytes replaced."""
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        env=offline_env(**(env or {})),
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_command(index_dir: Path, port: int, wrap: list[str] | None = None) -> list[str]:
    """``rag serve`` on ``index_dir`` and ``port``, inside ``wrap`` (e.g. a mount namespace)."""
    rag = [sys.executable, "-m", "rag.cli", "serve", "--index", str(index_dir)]
    return [*(wrap or []), *rag, "--port", str(port)]


@dataclass
class Server:
    """A ``rag serve`` process on a free port, ready (``/health``) when :meth:`start` returns;
    ``http`` is a client on its address."""

    index_dir: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=offline_env)
    wrap: list[str] = field(default_factory=list)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    http: httpx.Client = field(init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> Server:
        self.port = free_port()
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the file
            self.proc = subprocess.Popen(
                serve_command(self.index_dir, self.port, self.wrap),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.http = httpx.Client(base_url=self.url, timeout=30.0)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"rag serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if self.http.get("/health", timeout=5).json().get("ready"):
                    return self
            except (httpx.TransportError, ValueError):
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"rag serve did not become ready in {timeout} s:\n{self.log()}")

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.http.close()
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


S = TypeVar("S", bound=Server)


@contextmanager
def serving_a_copy(
    index_dir: Path, copier: Any, base: Path, server: type[S], **kwargs: Any
) -> Iterator[S]:
    """A ``server`` of its own on a private copy of ``index_dir`` (made with ``copier``, the
    ``index_copier`` fixture) under ``base``; stopped on exit."""
    running = server(Path(copier(index_dir, base / "index")), base / "serve.log", **kwargs).start()
    try:
        yield running
    finally:
        running.stop()
