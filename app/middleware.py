"""Pure ASGI middleware: security headers, request ids and the access log, the body-size limit, the catch-all
500, load shedding, rate limit.

Pure ASGI (not BaseHTTPMiddleware) so the body limit can count the bytes of the stream itself —
a missing or lying Content-Length cannot get past it — and so nothing buffers responses.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from rag.logs import REQUEST_ID

log = logging.getLogger("app")
access_log = logging.getLogger("app.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class SecurityHeaders:
    """nosniff on every response; pages get a strict CSP, API responses a deny-all one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _OWNED]
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                headers += _PAGE_HEADERS if ctype.startswith(b"text/html") else _API_HEADERS
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _security_headers(csp: str) -> tuple[tuple[bytes, bytes], ...]:
    return (
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", csp.encode()),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    )


_PAGE_HEADERS = _security_headers(PAGE_CSP)  # made once, not per response
_API_HEADERS = _security_headers(API_CSP)
_OWNED = {k for k, _ in _API_HEADERS}


class RequestId:
    """Every request gets an id: the client's `X-Request-ID` when it is short and plain, else a new one.

    The id is on the response (`X-Request-ID`), in every log record written while the request is handled
    (a context variable), and in the one access-log line written when the request ends.
    """

    SAFE = re.compile(r"[A-Za-z0-9._:-]{1,64}")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", []) if k.lower() == b"x-request-id"), b"")
        text = given.decode("latin-1")
        request_id = text if self.SAFE.fullmatch(text) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 0
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message["headers"] = [*headers, (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            client = scope.get("client") or ("", 0)
            access_log.info(
                "%s %s %s",
                scope.get("method", ""),
                scope.get("path", ""),
                status or "-",
                extra={
                    "method": scope.get("method", ""),
                    "path": scope.get("path", ""),
                    "status": status or None,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "client": client[0],
                },
            )
            REQUEST_ID.reset(token)


class BodyLimit:
    """413 for bodies over the limit, counting the bytes actually received (chunked bodies included).

    The body is read before the app runs (it is small: 64 KB by default), so an oversized request is
    refused before any handler sees a byte of it. `wide` paths (admin uploads) get their own limit.
    """

    def __init__(self, app: ASGIApp, limit: int, wide: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.wide = wide or {}

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.wide.items():
            if path == prefix or path.startswith(prefix + "/"):
                return limit
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = next((v for k, v in scope.get("headers", []) if k.lower() == b"content-length"), None)
        if declared is not None:
            try:
                if int(declared) > limit:
                    await self._too_large(send, limit)
                    return
            except ValueError:
                await send_json(send, 400, {"detail": "The Content-Length header is not a number."})
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                await self._too_large(send, limit)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _too_large(send: Send, limit: int) -> None:
        await send_json(
            send,
            413,
            {"detail": f"The request body is larger than the limit of {limit} bytes."},
            [(b"connection", b"close")],
        )


class CatchAll:
    """Any exception a handler lets escape becomes a generic JSON 500 (logged with its traceback, never sent)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            error_id = REQUEST_ID.get() or uuid.uuid4().hex
            log.exception("unhandled error %s on %s %s", error_id, scope.get("method"), scope.get("path"))
            if not started:
                await send_json(
                    send,
                    500,
                    {"detail": f"Internal server error (reference {error_id}). This is a bug; please report it."},
                )


class LoadShedding:
    """At most `limit` requests in progress; beyond that 503 with Retry-After (health checks always pass)."""

    EXEMPT = ("/healthz", "/readyz")

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.active = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            await send_json(
                send, 503, {"detail": "The server is busy; please retry in a moment."}, [(b"retry-after", b"1")]
            )
            return
        self.active += 1  # one event loop per worker: no lock needed
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


class RateLimit:
    """A token bucket per client address for the given paths: `per_minute` requests, refilled continuously."""

    MAX_CLIENTS = 10_000

    def __init__(self, app: ASGIApp, per_minute: int, paths: tuple[str, ...] = ("/ask",)) -> None:
        self.app = app
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.paths = paths
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, client: str, now: float | None = None) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                wait = 0.0
            else:
                self._buckets[client] = (tokens, now)
                wait = (1 - tokens) / self.rate
            if len(self._buckets) > self.MAX_CLIENTS:
                self._prune(now)
        return wait

    def _asks(self, scope: Scope) -> bool:
        """A request that asks a question: the limited paths, and the chat page answering `?question=` itself."""
        path = scope.get("path")
        return path in self.paths or (path == "/" and b"question=" in scope.get("query_string", b""))

    def _prune(self, now: float) -> None:
        # Buckets that would be full again carry no state worth keeping.
        full = [c for c, (t, last) in self._buckets.items() if t + (now - last) * self.rate >= self.capacity]
        for c in full:
            del self._buckets[c]
        while len(self._buckets) > self.MAX_CLIENTS:
            self._buckets.pop(next(iter(self._buckets)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._asks(scope):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.take(client)
        if wait > 0:
            await send_json(
                send,
                429,
                {"detail": "Too many requests from this address; please slow down."},
                [(b"retry-after", str(max(1, math.ceil(wait))).encode())],
            )
            return
        await self.app(scope, receive, send)
