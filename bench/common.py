"""What every benchmark shares: the machine, percentiles, memory, the eval questions, and `rag serve` processes."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.eval.client import HttpConnection
from rag.records import HistoryTurn

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "questions.jsonl"


@dataclass(frozen=True)
class BenchQuestion:
    """One eval question as the benchmarks send it: the text and the conversation before it."""

    id: str
    question: str
    history: tuple[HistoryTurn, ...]

    def body(self) -> dict[str, Any]:
        """The POST /ask body."""
        return {
            "question": self.question,
            "history": [
                {"question": h.question, "answer": h.answer, "speakers": list(h.speakers)} for h in self.history
            ],
        }


def load_questions(path: Path = QUESTIONS) -> list[BenchQuestion]:
    """The eval question set, in file order."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        history = tuple(
            HistoryTurn(h["question"], h.get("answer"), tuple(h.get("speakers", ()))) for h in row.get("history", ())
        )
        out.append(BenchQuestion(row["id"], row["question"], history))
    return out


# ---------------------------------------------------------------- numbers


def stats(values_ms: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean/min/max of latencies in milliseconds (n = how many)."""
    if not values_ms:
        return {"n": 0}
    a = np.asarray(values_ms, dtype=np.float64)
    return {
        "n": len(a),
        "p50": round(float(np.percentile(a, 50)), 3),
        "p95": round(float(np.percentile(a, 95)), 3),
        "p99": round(float(np.percentile(a, 99)), 3),
        "mean": round(float(a.mean()), 3),
        "min": round(float(a.min()), 3),
        "max": round(float(a.max()), 3),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or not b:
        return None
    return round(a / b, 3)


MEMORY_FIELDS = {"VmRSS": "rss", "VmHWM": "hwm", "RssAnon": "anon", "RssFile": "file"}


def memory_mb(pid: int | str = "self") -> dict[str, float]:
    """Resident memory in MiB from /proc (Linux): now (rss), at its peak (hwm), and rss split into the
    heap's share (anon) and memory-mapped files' pages (file), which the kernel can drop and re-read."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in MEMORY_FIELDS:
                out[MEMORY_FIELDS[key]] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        pass
    return out


def machine() -> dict[str, Any]:
    """The machine a run measured: cores, CPU model, memory, versions, load."""
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = 0.0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) / 1024 / 1024
    import faiss

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(ram, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "faiss": faiss.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


class Deadline:
    """A loop bound in time: `while deadline:` … (every request loop is also bounded in count)."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def __bool__(self) -> bool:
        return time.monotonic() < self.end


# ---------------------------------------------------------------- HTTP on loopback


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Client:
    """A keep-alive HTTP/1.1 client for one thread on 127.0.0.1 (rag eval's http.client connection)."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.port = port
        self._http = HttpConnection(f"http://127.0.0.1:{port}", timeout)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        response = self._http.request(method, path, body)
        return response.status_code, response.body

    def close(self) -> None:
        self._http.close()


# A bench's clients all come from 127.0.0.1: the per-client limits a server keeps for people (60 asks and 30 s
# of answers a minute, 2 asks at once) would answer most of its requests 429 and leave them out of the latencies.
NO_CLIENT_LIMITS = {"rate_limit_per_minute": 0, "client_answer_seconds_per_minute": 0, "client_asks_at_once": 1000}


def fresh_import_s(module: str) -> float:
    """Seconds a new interpreter takes to import `module` (its own start not counted): a probe process has
    imported numpy and the library already (this module does), so an import timed there is an undercount."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def server_env(index_dir: Path, work: Path, **settings: object) -> dict[str, str]:
    """Environment for a `rag serve` process: the bench's index and a private feedback database."""
    env = dict(os.environ)
    env.update(
        {
            "RAG_INDEX_DIR": str(index_dir),
            "RAG_CORPUS_DIR": str(ROOT / "corpus"),
            "RAG_FEEDBACK_DB": str(work / f"feedback-{os.getpid()}.sqlite3"),
        }
    )
    env.update({f"RAG_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def rag_command() -> list[str]:
    """`rag` from this interpreter's environment (the console script when installed, else the module)."""
    script = Path(sys.executable).parent / "rag"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "rag.cli"]


@dataclass
class Server:
    """A `rag serve` process this benchmark started, on a free loopback port."""

    process: subprocess.Popen[bytes]
    port: int
    started: float
    ready_s: float | None = None

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Poll GET /readyz until 200; returns seconds from process start to ready."""
        client = Client(self.port, timeout=2.0)
        deadline = Deadline(timeout)
        try:
            while deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"rag serve exited with code {self.process.returncode}")
                try:
                    status, _ = client.request("GET", "/readyz")
                except OSError:
                    client.close()
                    status = 0
                if status == 200:
                    self.ready_s = time.perf_counter() - self.started
                    return self.ready_s
                time.sleep(0.02)
        finally:
            client.close()
        raise RuntimeError(f"rag serve on port {self.port} was not ready within {timeout:.0f} s")

    def stop(self) -> None:
        """SIGTERM to the server (uvicorn stops its workers), then SIGKILL to its own group if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)  # the session this benchmark created for it
                self.process.wait(timeout=5)


@contextlib.contextmanager
def serve(
    index_dir: Path,
    work: Path,
    workers: int = 1,
    log: Path | None = None,
    extra_env: dict[str, str] | None = None,
    **settings: object,
) -> Iterator[Server]:
    """Start `rag serve` on 127.0.0.1 and a free port; stop it on exit (ready is NOT awaited here)."""
    port = free_port()
    cmd = [*rag_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    started = time.perf_counter()
    env = server_env(index_dir, work, **settings)
    env.update(extra_env or {})
    process = subprocess.Popen(
        cmd,
        env=env,
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Server(process, port, started)
    try:
        yield server
    finally:
        server.stop()
        if log is not None and hasattr(out, "close"):
            out.close()
