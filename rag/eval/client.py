"""The code paths `rag eval` measures: POST /ask on the app served in this process, or on a running server.

Both are real HTTP through the standard library's http.client (so `rag eval` works on the default install,
without the test extra's httpx): in-process, the app runs under uvicorn on a free 127.0.0.1 port in a thread,
sharing the index the evaluation loaded; `--url` points at any server. Both speak the same JSON. The retrieval stage (hit@k, MRR,
nDCG) is measured in-process with `rag.retrieval.search`, which a remote server does not expose.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

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
            {"question": h.question, "answer": h.answer, "speakers": list(h.speakers), "quotes": list(h.quotes)}
            for h in question.history
        ],
    }


def _failed(message: str, latency_ms: float) -> Observation:
    return Observation(found=False, answer="", intent="", quotes=(), latency_ms=latency_ms, error=message)


@dataclass(frozen=True)
class HttpResponse:
    status_code: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class HttpConnection:
    """One keep-alive HTTP/1.1 connection to a base URL (http or https), reopened once when the server closed it."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RagError(f"`{url}` is not an http:// or https:// URL")
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> HttpResponse:
        return self.request("GET", path)

    def post(self, path: str, json: dict[str, Any]) -> HttpResponse:
        return self.request("POST", path, json)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> HttpResponse:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (0, 1):
            if self._conn is None:
                kind = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
                self._conn = kind(self.host, self.port, timeout=self.timeout)
            try:
                self._conn.request(method, self.prefix + path, body=data, headers=headers)
                response = self._conn.getresponse()
                payload = response.read()
                return HttpResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, payload)
            except (ConnectionError, http.client.HTTPException, OSError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class HttpAskClient:
    """POST /ask on a server: a running one (`rag eval --url`) or the app served in this process."""

    retries = 5  # 503 (index loading, server busy) and 429 (rate limit) are retried after Retry-After

    def __init__(self, http: Any, target: str) -> None:
        self.http = http  # an HttpConnection, or anything with its get/post
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
    """`rag.answer.ask` called directly (`rag eval --via library`): the library without the web app around it."""

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
    """POST /ask on `create_app` under uvicorn on 127.0.0.1, sharing `index` (start-up and shut-down run);
    or, with via="library", `rag.answer.ask` called directly."""
    if via == "library":
        yield LibraryAskClient(index, settings)
        return
    from app.main import create_app
    from app.serving import serving_in_thread
    from rag.service import Service

    with serving_in_thread(create_app(settings, service=Service(settings, index=index))) as url:
        connection = HttpConnection(url, timeout=120.0)
        try:
            client = HttpAskClient(connection, "in-process (POST /ask on 127.0.0.1)")
            client.wait_ready()
            yield client
        finally:
            connection.close()


@contextmanager
def remote_client(url: str, timeout: float = 60.0) -> Iterator[HttpAskClient]:
    """POST /ask on a running server."""
    connection = HttpConnection(url, timeout)
    try:
        client = HttpAskClient(connection, url)
        client.wait_ready()
        yield client
    finally:
        connection.close()
