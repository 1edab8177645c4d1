"""What a request must show before the server reads its body, and how long and how much reading may take.

- `AdminGate`: admin paths (`/documents`) are checked for the bearer token from the headers alone, before a
  byte of the body is read (404 when admin is disabled, 401 without the token): an anonymous client can no
  longer make the server buffer an upload's worth of memory.
- `BodyDeadline`: a body must arrive within RAG_BODY_TIMEOUT_SECONDS (408 after), and all requests of a
  worker together buffer at most RAG_MAX_BUFFERED_BYTES (503 + Retry-After beyond). It sits outside the body
  limit, which reads whole bodies before the app runs.
"""

from __future__ import annotations

import asyncio
import hmac
import time

from app.middleware import ASGIApp, Message, Receive, Scope, Send, send_json

ADMIN_PATHS = ("/documents",)


def _header(scope: Scope, name: bytes) -> bytes:
    return next((v for k, v in scope.get("headers", []) if k.lower() == name), b"")


class AdminGate:
    """The admin token is checked on the headers of admin paths before their body is read."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode("utf-8")

    def allowed(self, scope: Scope) -> bool:
        scheme, _, given = _header(scope, b"authorization").partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not any(path == p or path.startswith(p + "/") for p in ADMIN_PATHS):
            await self.app(scope, receive, send)
            return
        if not self.token:
            await send_json(send, 404, {"detail": "Not Found"}, [(b"connection", b"close")])
        elif not self.allowed(scope):
            await send_json(
                send,
                401,
                {"detail": "Admin endpoints need the header `Authorization: Bearer <RAG_ADMIN_TOKEN>`."},
                [(b"www-authenticate", b"Bearer"), (b"connection", b"close")],
            )
        else:
            await self.app(scope, receive, send)


class BodyDeadline:
    """Bodies arrive within `seconds`; at most `max_buffered` body bytes are held by all requests at once."""

    def __init__(self, app: ASGIApp, seconds: float, max_buffered: int) -> None:
        self.app = app
        self.seconds = seconds
        self.max_buffered = max_buffered
        self.buffered = 0  # one event loop per worker: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.seconds
        held = 0
        responded = False
        complete = False

        async def timed_receive() -> Message:
            nonlocal held, complete
            if complete:  # after the body: waiting for a disconnect has no deadline
                return await receive()
            try:
                # asyncio.timeout, not wait_for: wait_for wraps each receive in a task of its own (Python 3.11).
                async with asyncio.timeout(max(0.001, deadline - time.monotonic())):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout from None
            size = len(message.get("body", b""))
            if self.buffered + size > self.max_buffered:
                raise BufferFull
            held += size
            self.buffered += size
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
            await send(message)

        try:
            await self.app(scope, timed_receive, tracking_send)
        except BodyTimeout:
            if not responded:
                detail = f"The request body did not arrive within {self.seconds:g} s."
                await send_json(send, 408, {"detail": detail}, [(b"connection", b"close")])
        except BufferFull:
            if not responded:
                detail = "The server is receiving too much at once; please retry in a moment."
                await send_json(send, 503, {"detail": detail}, [(b"retry-after", b"2"), (b"connection", b"close")])
        finally:
            self.buffered -= held


class BodyTimeout(Exception):
    """The body did not arrive in time."""


class BufferFull(Exception):
    """Reading this body would go over the worker's buffering budget."""
