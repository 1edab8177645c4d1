"""Authenticate before buffering (issue 18, problem 5): an admin upload is refused on its headers, bodies have
a deadline, and a worker buffers a bounded number of body bytes — raw sockets against uvicorn on loopback."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import urllib.request
from pathlib import Path

import pytest
from support.servers import free_port, memory, save_figures, server_env, server_process, uvicorn_command
from support.stores import copy_store

from app.main import create_app
from app.serving import serving_in_thread
from rag import Index, Settings
from rag.service import Service

TOKEN = "t0ken-for-bodies"


def settle(url: str) -> None:
    """One English question: the server has loaded everything it loads after readiness (CC-CEDICT is parsed in
    the background once it serves, ~150 MB), so memory measured next is what the requests cost."""
    request = urllib.request.Request(
        url + "/ask", data=json.dumps({"question": "Who talked about talent?"}).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 200


def open_request(url: str, path: str, length: int, sent: bytes, headers: str = "") -> socket.socket:
    """Headers promising `length` body bytes, then only `sent` of them."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n{headers}"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()
    # The server may answer and close without reading the body: the point of the gate.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(head + sent)
    return sock


def status_within(sock: socket.socket, seconds: float) -> int | None:
    """The response's status if one arrives within `seconds`, else None."""
    sock.settimeout(seconds)
    try:
        data = sock.recv(65536)
    except (TimeoutError, ConnectionResetError, BrokenPipeError):
        return None
    return int(data.split()[1]) if data.startswith(b"HTTP/1.1") else None


def test_an_upload_without_the_token_is_refused_before_its_body(settings: Settings, index: Index) -> None:
    local = settings.model_copy(update={"admin_token": TOKEN})
    with serving_in_thread(create_app(local, service=Service(local, index=index))) as url:
        sock = open_request(url, "/documents", 2_000_000, b"")
        with sock:
            started = time.perf_counter()
            status = status_within(sock, 5)
            waited = time.perf_counter() - started
        wrong = open_request(url, "/documents", 2_000_000, b"x" * 1000, "Authorization: Bearer nope\r\n")
        with wrong:
            wrong_status = status_within(wrong, 5)
    assert status == 401 and waited < 2, (status, waited)
    assert wrong_status == 401


def test_a_body_that_does_not_arrive_in_time_gets_408(settings: Settings, index: Index) -> None:
    local = settings.model_copy(update={"body_timeout_seconds": 1.0})
    with serving_in_thread(create_app(local, service=Service(local, index=index))) as url:
        sock = open_request(url, "/ask", 100, b'{"question": ')
        with sock:
            started = time.perf_counter()
            status = status_within(sock, 6)
            waited = time.perf_counter() - started
    save_figures("slow-body", {"status": status, "waited_s": round(waited, 2)})
    assert status == 408 and waited < 4, (status, waited)


def test_a_worker_buffers_a_bounded_number_of_body_bytes(settings: Settings, index: Index) -> None:
    local = settings.model_copy(update={"max_buffered_bytes": 40_000, "body_timeout_seconds": 20.0})
    with serving_in_thread(create_app(local, service=Service(local, index=index))) as url:
        held = [open_request(url, "/ask", 30_000, b" " * 25_000) for _ in range(2)]
        time.sleep(0.5)  # both bodies are being read
        statuses = [status_within(s, 3) for s in held]
        for s in held:
            s.close()
    assert statuses.count(503) >= 1, statuses


@pytest.mark.slow
def test_anonymous_uploads_do_not_grow_the_servers_memory(settings: Settings, built: Path, tmp_path: Path) -> None:
    """Twenty anonymous clients each send 1.9 MB of a 2 MB upload and wait: the server's heap stays flat."""
    local = copy_store(settings, tmp_path)
    port = free_port()
    env = server_env(local, admin_token=TOKEN)
    with server_process(uvicorn_command(port), env, tmp_path / "server.log", port) as server:
        server.wait_ready()
        settle(server.url)
        before = memory(server.pid)
        socks = [open_request(server.url, "/documents", 2_000_000, b"x" * 1_900_000) for _ in range(20)]
        time.sleep(2.0)
        during = memory(server.pid)
        statuses = [status_within(s, 1) for s in socks]
        for s in socks:
            s.close()
    growth = (during.anon - before.anon) / 2**20
    save_figures(
        "anonymous-uploads",
        {"clients": 20, "bytes_each": 1_900_000, "anon_growth_mib": round(growth, 1), "statuses": statuses},
    )
    assert growth < 10, growth
    assert all(s in (401, None) for s in statuses)
