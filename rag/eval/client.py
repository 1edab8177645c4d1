"""The code paths `rag eval` measures: POST /ask in-process (FastAPI TestClient) or on a running server.

Both speak the same JSON; only where the request goes differs. The retrieval stage (hit@k, MRR,
nDCG) is measured in-process with `rag.retrieval.search`, which a remote server does not expose.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rag.errors import RagError
from rag.eval.gold import GoldQuestion
from rag.eval.grading import Observation, observation_from_json
from rag.index.load import Index
from rag.settings import Settings
from rag.vocabulary import SearchMode


def request_body(question: GoldQuestion, mode: str, top_k: int) -> dict[str, Any]:
    """The POST /ask body for one gold question."""
    return {
        "question": question.question,
        "top_k": top_k,
        "mode": mode,
        "history": [
            {"question": h.question, "answer": h.answer, "speakers": list(h.speakers)} for h in question.history
        ],
    }


def _failed(message: str, latency_ms: float) -> Observation:
    return Observation(found=False, answer="", intent="", quotes=(), latency_ms=latency_ms, error=message)


class HttpAskClient:
    """POST /ask on a running server (`rag eval --url`), or on a TestClient wrapping the app in-process."""

    retries = 5  # 503 (index loading, server busy) and 429 (rate limit) are retried after Retry-After

    def __init__(self, http: Any, target: str) -> None:
        self.http = http  # an httpx.Client or a fastapi.testclient.TestClient: the same interface
        self.target = target

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until GET /readyz says the index is loaded (a server without /readyz counts as ready)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                status = self.http.get("/readyz").status_code
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise RagError(f"{self.target} is not reachable: {exc}") from None
                status = 0
            if status not in (0, 503):
                return
            if time.monotonic() > deadline:
                raise RagError(f"{self.target} did not become ready within {timeout:.0f} s (GET /readyz)")
            time.sleep(0.2)

    def ask(self, question: GoldQuestion, mode: str, top_k: int) -> Observation:
        body = request_body(question, mode, top_k)
        for attempt in range(self.retries + 1):
            started = time.perf_counter()
            try:
                response = self.http.post("/ask", json=body)
            except Exception as exc:  # a dead server is a failed answer, not a crashed evaluation
                return _failed(f"{type(exc).__name__}: {exc}", (time.perf_counter() - started) * 1000)
            latency = (time.perf_counter() - started) * 1000
            if response.status_code in (429, 503) and attempt < self.retries:
                time.sleep(min(5.0, float(response.headers.get("retry-after") or 1)))
                continue
            if response.status_code != 200:
                return _failed(f"HTTP {response.status_code}: {response.text[:300]}", latency)
            return observation_from_json(response.json(), latency)
        raise AssertionError("unreachable")


class LibraryAskClient:
    """`rag.answer.ask` called directly: the fallback while the web app is not importable."""

    def __init__(self, index: Index, settings: Settings) -> None:
        self.index = index
        self.settings = settings
        self.target = "in-process (rag.answer.ask)"

    def ask(self, question: GoldQuestion, mode: str, top_k: int) -> Observation:
        from rag.answer import ask

        started = time.perf_counter()
        try:
            answer = ask(
                self.index,
                question.question,
                self.settings,
                top_k=top_k,
                mode=_mode(mode),
                history=list(question.history),
            )
        except RagError as exc:
            return _failed(f"{type(exc).__name__}: {exc}", (time.perf_counter() - started) * 1000)
        return observation_from_json(answer.to_json(), (time.perf_counter() - started) * 1000)


class IndexRetriever:
    """The retrieval stage alone, in-process: `rag.retrieval.search` paragraph ids, best first."""

    def __init__(self, index: Index, settings: Settings) -> None:
        self.index = index
        self.settings = settings

    def rank(self, question: str, mode: str, k: int) -> list[str]:
        from rag.retrieval import search

        result = search(self.index, question, self.settings, top_k=k, mode=_mode(mode))
        return [h.chunk.id for h in result.hits[:k]]


def _mode(mode: str) -> SearchMode:
    if mode not in ("bm25", "dense", "hybrid"):
        raise RagError(f"unknown retrieval mode `{mode}`")
    return mode  # type: ignore[return-value]


@contextmanager
def in_process_client(settings: Settings, index: Index, via: str = "app") -> Iterator[HttpAskClient | LibraryAskClient]:
    """POST /ask on `create_app(settings)` through a TestClient (startup and shutdown run), or the library."""
    if via == "library":
        yield LibraryAskClient(index, settings)
        return
    try:
        from fastapi.testclient import TestClient

        from app.main import create_app
    except ModuleNotFoundError as exc:
        if exc.name not in ("app", "app.main", "httpx"):
            raise
        yield LibraryAskClient(index, settings)
        return
    with TestClient(create_app(settings)) as http:
        client = HttpAskClient(http, "in-process (POST /ask via TestClient)")
        client.wait_ready()
        yield client


@contextmanager
def remote_client(url: str, timeout: float = 60.0) -> Iterator[HttpAskClient]:
    """POST /ask on a running server."""
    import httpx

    with httpx.Client(base_url=url.rstrip("/"), timeout=timeout) as http:
        client = HttpAskClient(http, url)
        client.wait_ready()
        yield client
