"""The HTTP protocol `rag serve` gives uvicorn: its httptools protocol with TCP_NODELAY on every connection.

httptools (the C parser of Node's llhttp) parses a request in a few microseconds, where uvicorn's pure-Python
h11 protocol spent ~0.5 ms of every POST /ask (docs/http-profile.md). With `--workers` above 1, uvicorn
binds the listening socket itself with protocol number 0, and asyncio only turns Nagle's algorithm off for
sockets whose protocol is IPPROTO_TCP. A response's headers and body then go out as two small segments, the
second held back until the client's delayed ACK: about 40 ms added to every request (bench/RESULTS.md;
0.4 ms with this class). One worker is not affected.

The event loop is uvicorn's default choice ("auto"): uvloop, a dependency, which wakes the loop and hands
work between threads faster than asyncio's selector loop.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class NoDelayHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that sends each response as soon as it is written."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
