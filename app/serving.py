"""The app under a real uvicorn in a thread of this process: `rag eval`'s in-process path, and the page tests.

The server listens on a free 127.0.0.1 port and runs the app's lifespan (start-up and shut-down), so what is
measured or tested is the HTTP path a deployment serves, sharing the caller's already-loaded index.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

START_TIMEOUT_S = 30.0


@contextmanager
def serving_in_thread(app: Any, timeout: float = START_TIMEOUT_S) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 until the block ends; yields its base URL (`http://127.0.0.1:PORT`)."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    from app.transport import NoDelayHttpProtocol

    # The socket made here has protocol number 0, so asyncio leaves Nagle's algorithm on: ~40 ms a request
    # without the protocol `rag serve` uses too (app/transport.py).
    config = uvicorn.Config(app, log_level="warning", lifespan="on", http=NoDelayHttpProtocol, proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        if not server.started:
            raise RuntimeError(f"uvicorn did not start within {timeout:.0f} s")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
