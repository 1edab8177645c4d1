"""Helpers for the reliability, security and fault tests: real servers on loopback, their memory, their logs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rag import Settings
from support.stores import NO_CLIENT_LIMITS
from support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("RAG_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "reliability"
PYTHON = sys.executable
RAG = str(Path(sys.executable).with_name("rag"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(settings: Settings, **extra: str | int | float) -> dict[str, str]:
    """The environment a server process reads its Settings from."""
    env = {
        **os.environ,
        "RAG_CORPUS_DIR": str(settings.corpus_dir),
        "RAG_INDEX_DIR": str(settings.index_dir),
        "RAG_FEEDBACK_DB": str(settings.feedback_db),
        "PYTHONUNBUFFERED": "1",
    }
    env.update({f"RAG_{k.upper()}": str(v) for k, v in {**NO_CLIENT_LIMITS, **extra}.items()})
    return env


@dataclass
class ServerProcess:
    """A server in a process of its own, its stderr (the JSON log) going to a file."""

    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()

    def log_records(self) -> list[dict[str, Any]]:
        """Every JSON line of the log so far (the CLI's own notices, and a line still being written, skipped)."""
        out = []
        for line in self.log_lines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return out

    def wait_ready(self, timeout: float = 180) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:

            def ready() -> bool:
                assert self.proc.poll() is None, "the server exited:\n" + "\n".join(self.log_lines()[-30:])
                try:
                    return client.get("/readyz").status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(ready, timeout, "the server to become ready", 0.2)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=30)


@contextmanager
def server_process(command: list[str], env: dict[str, str], log_path: Path, port: int) -> Iterator[ServerProcess]:
    """Start `command` (which must listen on 127.0.0.1:`port`); stop it with SIGTERM (SIGKILL after 30 s)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    server = ServerProcess(proc, f"http://127.0.0.1:{port}", log_path)
    try:
        yield server
    finally:
        server.stop()


def uvicorn_command(port: int) -> list[str]:
    """What a deployment runs: uvicorn with the app factory (single process)."""
    return [PYTHON, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)]


@dataclass(frozen=True)
class Memory:
    """Resident memory of a process: all of it, the heap's share (anonymous) and mapped files' share.

    The embedding model file is memory-mapped: each word seen for the first time pages in its row, so the
    file-backed part grows with the vocabulary a server has met (bounded by the model file's size) while the
    anonymous part is what a leak would grow.
    """

    rss: int
    anon: int
    file: int

    @property
    def mib(self) -> dict[str, float]:
        return {k: round(v / 2**20, 1) for k, v in (("rss", self.rss), ("anon", self.anon), ("file", self.file))}


def memory(pid: int) -> Memory:
    """A process's resident memory from /proc/<pid>/status (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0]) * 1024
    return Memory(fields["VmRSS"], fields["RssAnon"], fields["RssFile"])


def save_figures(name: str, figures: dict[str, Any]) -> Path:
    """Write a test's measured figures to test-artifacts/reliability/<name>.json (and print them)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.json"
    path.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\n{name}: {json.dumps(figures, ensure_ascii=False)}")
    return path
