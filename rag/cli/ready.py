"""`rag serve`'s "ready" line: printed once GET /readyz answers 200, i.e. when a request would be answered."""

from __future__ import annotations

import http.client
import logging
import socket
import threading
import time
from collections.abc import Callable

POLL_SECONDS = 0.25
GIVE_UP_SECONDS = 600.0  # a server that is never ready says so in its own log lines; this thread just stops


def probe_host(host: str) -> str:
    """The address to reach a server bound to `host` from this machine (a wildcard bind answers on loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on host:port (then its /readyz would answer for us)."""
    try:
        with socket.create_connection((probe_host(host), port), timeout=0.5):
            return True
    except OSError:
        return False


def readyz_status(host: str, port: int, timeout: float = 2.0) -> int | None:
    """The status GET /readyz answers with, or None when nothing answers yet."""
    connection = http.client.HTTPConnection(probe_host(host), port, timeout=timeout)
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


class QuietReadinessProbes(logging.Filter):
    """Leaves /readyz out of the access log until the server is ready: our own probes, four a second."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "path", None) != "/readyz"


def announce_when_ready(host: str, port: int, say: Callable[[str], None]) -> threading.Thread:
    """Call `say("Ready: URL")` from a background thread as soon as /readyz answers 200."""
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    access = logging.getLogger("app.access")  # with one worker the app logs in this process
    quiet = QuietReadinessProbes()
    access.addFilter(quiet)

    def wait() -> None:
        deadline = time.monotonic() + GIVE_UP_SECONDS
        try:
            while time.monotonic() < deadline:
                if readyz_status(host, port) == 200:
                    say(f"Ready: {url}")
                    return
                time.sleep(POLL_SECONDS)
        finally:
            access.removeFilter(quiet)

    thread = threading.Thread(target=wait, name="rag-ready", daemon=True)
    thread.start()
    return thread
