"""The HTTP protocol `rag serve` gives uvicorn: its h11 protocol with TCP_NODELAY on every connection.

With `--workers` above 1, uvicorn binds the listening socket itself with protocol number 0, and asyncio
only turns Nagle's algorithm off for sockets whose protocol is IPPROTO_TCP. A response's headers and
body then go out as two small segments, the second held back until the client's delayed ACK: about
40 ms added to every request (bench/RESULTS.md; 0.4 ms with this class). One worker is not affected.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol that sends each response as soon as it is written."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
