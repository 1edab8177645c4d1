"""Who a request comes from, and whether an answer may be computed for it now: the admission path of `/ask`.

`ClientAddress` decides the client: the TCP peer, or — only when the peer is a proxy listed in
RAG_TRUSTED_PROXIES — the address that proxy appended to `X-Forwarded-For`. `rag serve` turns uvicorn's own
proxy-header handling off (it trusts 127.0.0.1 by default, so any local process could name itself anyone).

`AnswerAdmission` bounds what one request and one client can cost the answer path:
- at most RAG_ANSWER_SLOTS answers are computed at once per worker; a request beyond them waits in a queue
  for at most RAG_ADMISSION_WAIT_SECONDS, then gets 503 + Retry-After (never a wait of minutes);
- the queue hands a freed slot to the waiting request that stands highest: its client's answer time left
  minus what the request is likely to cost (its body's size at ~1 s per KB: a question at the length limit
  is ~1.5 KB, an ordinary one 0.1 KB); the oldest among equals. A client flooding the server with costly
  questions waits behind everybody else instead of pushing everybody else to the end of the queue;
- a client address has at most RAG_CLIENT_ASKS_AT_ONCE requests in progress and
  RAG_CLIENT_ANSWER_SECONDS_PER_MINUTE seconds of answer time per minute (a token bucket charged with each
  answer's measured time, so a costly question costs more than a cheap one); beyond either, 429 + Retry-After.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from app.middleware import ASGIApp, Message, Receive, Scope, Send, send_json

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(entries: Collection[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


class ClientAddress:
    """`scope["client"]` is the peer, or the client a trusted proxy forwarded for (the rightmost untrusted hop)."""

    def __init__(self, app: ASGIApp, trusted: Collection[str]) -> None:
        self.app = app
        self.trusted = _networks(trusted)

    def is_trusted(self, host: str) -> bool:
        address = _address(host)
        return address is not None and any(address in net for net in self.trusted)

    def client_of(self, peer: str, forwarded: str) -> str:
        """The client: hops are read right to left, from the peer, while they are trusted proxies."""
        if not self.is_trusted(peer):
            return peer
        client = peer
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if _address(hop) is None:
                break  # a garbled hop: keep the last address a trusted proxy vouched for
            client = hop
            if not self.is_trusted(hop):
                break
        return client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted:
            peer, port = scope.get("client") or ("", 0)
            forwarded = b",".join(v for k, v in scope.get("headers", []) if k.lower() == b"x-forwarded-for")
            client = self.client_of(peer, forwarded.decode("latin-1"))
            if client != peer:
                scope["client"] = (client, port)
        await self.app(scope, receive, send)


@dataclass
class _Budget:
    """One client's answer seconds left (refilled continuously) and requests in progress."""

    seconds: float
    refilled: float
    active: int = 0


@dataclass
class AnswerSlots:
    """`size` answer slots per event loop; a freed slot goes to the waiter `standing` ranks highest."""

    size: int
    standing: Callable[[str], float]  # the client's answer time left, in seconds
    free: int = 0
    holding: Counter[str] = field(default_factory=Counter)
    waiters: list[tuple[str, float, asyncio.Future[None]]] = field(default_factory=list)  # client, its cost

    def __post_init__(self) -> None:
        self.free = self.size

    async def acquire(self, client: str, cost: float, timeout: float) -> bool:
        """True once `client` holds a slot for a request of estimated `cost` seconds; False when none came free
        within `timeout` seconds."""
        if self.free > 0 and not self.waiters:
            self.free -= 1
            self.holding[client] += 1
            return True
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (client, cost, granted)
        self.waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(granted), timeout)
            return True
        except TimeoutError:
            if granted.done():  # granted in the same tick the wait timed out
                return True
            self.waiters.remove(waiter)
            return False
        except asyncio.CancelledError:  # the client went away while waiting
            if granted.done():
                self.release(client)
            else:
                self.waiters.remove(waiter)
            raise

    def release(self, client: str) -> None:
        self.holding[client] -= 1
        if self.holding[client] <= 0:
            del self.holding[client]
        if not self.waiters:
            self.free += 1
            return
        # The waiter that stands highest; the oldest among equals (max keeps the first).
        chosen = max(self.waiters, key=lambda w: self.standing(w[0]) - w[1])
        self.waiters.remove(chosen)
        self.holding[chosen[0]] += 1
        chosen[2].set_result(None)

    @property
    def queued(self) -> int:
        return len(self.waiters)


class AnswerAdmission:
    """Per-client limits and the bounded, fair answer queue in front of `paths` (see the module docstring)."""

    MAX_CLIENTS = 10_000
    RANKING_SECONDS = 60.0  # the bucket that ranks waiters when no budget is enforced
    SECONDS_PER_BODY_BYTE = 1 / 1000  # a rough cost estimate for ranking waiters (measured: ~1.5 s for 1.5 KB)

    def __init__(
        self,
        app: ASGIApp,
        *,
        slots: int,
        wait_seconds: float,
        client_at_once: int,
        client_seconds_per_minute: float,
        paths: tuple[str, ...] = ("/ask",),
    ) -> None:
        self.app = app
        self.slots = AnswerSlots(slots, self._standing)
        self.wait_seconds = wait_seconds
        self.client_at_once = client_at_once
        self.refuse_spent = client_seconds_per_minute > 0  # 0: no 429 for time used, but the queue still ranks by it
        self.capacity = client_seconds_per_minute or self.RANKING_SECONDS
        self.rate = self.capacity / 60.0
        self.paths = paths
        self._clients: dict[str, _Budget] = {}

    def _standing(self, client: str) -> float:
        budget = self._clients.get(client)
        return self._budget(client, time.monotonic()).seconds if budget is not None else self.capacity

    def _budget(self, client: str, now: float) -> _Budget:
        budget = self._clients.get(client)
        if budget is None:
            if len(self._clients) >= self.MAX_CLIENTS:
                self._prune(now)
            budget = self._clients[client] = _Budget(self.capacity, now)
        budget.seconds = min(self.capacity, budget.seconds + (now - budget.refilled) * self.rate)
        budget.refilled = now
        return budget

    def _prune(self, now: float) -> None:
        # Idle clients whose bucket would be full again carry no state worth keeping.
        for client, b in list(self._clients.items()):
            if b.active == 0 and b.seconds + (now - b.refilled) * self.rate >= self.capacity:
                del self._clients[client]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        budget = self._budget(client, time.monotonic())
        if budget.active >= self.client_at_once:
            await _refuse(send, 429, f"This address already has {budget.active} questions in progress.", 1)
            return
        if self.refuse_spent and budget.seconds <= 0:
            wait = -budget.seconds / self.rate + 1
            await _refuse(send, 429, "This address has used its answer time for now; please slow down.", wait)
            return
        budget.active += 1  # one event loop per worker: no lock needed
        try:
            messages = await _buffered(receive)  # already read whole by BodyLimit: nothing waits here
            cost = sum(len(m.get("body", b"")) for m in messages) * self.SECONDS_PER_BODY_BYTE
            receive = _replaying(messages, receive)
            if not await self.slots.acquire(client, cost, self.wait_seconds):
                await _refuse(send, 503, "The server is busy answering; please retry in a moment.", 2)
                return
            started = time.monotonic()
            try:
                await self.app(scope, receive, send)
            finally:
                self.slots.release(client)
                budget.seconds -= time.monotonic() - started
        finally:
            budget.active -= 1


async def _buffered(receive: Receive) -> list[Message]:
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


async def _refuse(send: Send, status: int, detail: str, retry_after: float) -> None:
    await send_json(send, status, {"detail": detail}, [(b"retry-after", str(max(1, math.ceil(retry_after))).encode())])
