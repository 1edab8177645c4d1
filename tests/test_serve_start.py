"""A server always starts serving (issue 18, problem 2's wedge): with a corpus newer than its index, `rag serve`
serves the last good generation and rebuilds in the background; a rebuild that fails is reported on /readyz and
does not stop the next start."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.servers import RAG, free_port, save_figures, server_env, server_process
from support.stores import copy_store
from support.waiting import wait_until
from test_add_under_load import speech

from rag import Settings
from rag.index.generations import current_generation


def readiness(url: str) -> dict[str, Any] | None:
    try:
        r = httpx.get(f"{url}/readyz", timeout=10)
    except httpx.TransportError:
        return None
    return r.json() if r.status_code == 200 else None


def first_ready(server: Any, timeout: float = 180) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    seen: list[dict[str, Any]] = []

    def ready() -> bool:
        assert server.proc.poll() is None, "the server exited:\n" + "\n".join(server.log_lines()[-20:])
        body = readiness(server.url)
        if body is not None:
            seen.append(body)
        return body is not None

    wait_until(ready, timeout, "the server to answer /readyz 200", 0.2)
    return seen[-1], time.monotonic() - started


@pytest.mark.slow
def test_a_stale_index_serves_the_last_generation_while_it_rebuilds(
    settings: Settings, built: Path, tmp_path: Path
) -> None:
    local = copy_store(settings, tmp_path)
    old = current_generation(local.index_dir)
    (local.corpus_dir / "long-speech.txt").write_bytes(speech(16, 1500, seed=11))  # a newer corpus: ~1 min to embed
    port = free_port()
    env = server_env(local, reload_check_seconds=0.5)
    started = time.monotonic()
    with server_process([RAG, "serve", "--port", str(port)], env, tmp_path / "server.log", port) as server:
        body, ready_s = first_ready(server)
        answered = httpx.post(f"{server.url}/ask", json={"question": "张平安如何看待马栏山？"}, timeout=60)
        wait_until(
            lambda: (b := readiness(server.url)) is not None and b["generation"] != old and not b["rebuilding"],
            600,
            "the rebuilt generation to serve",
            1.0,
        )
        rebuilt_s = round(time.monotonic() - started, 2)
    save_figures("stale-start", {"ready_s": round(ready_s, 2), "first_ready": body, "rebuilt_after_s": rebuilt_s})
    assert body["generation"] == old and body["rebuilding"], body
    assert body["detail"] == f"serving generation {old}, rebuilding"
    assert answered.status_code == 200 and answered.json()["found"]


@pytest.mark.slow
def test_a_failed_rebuild_is_reported_and_the_next_start_serves(
    settings: Settings, built: Path, tmp_path: Path
) -> None:
    local = copy_store(settings, tmp_path)
    old = current_generation(local.index_dir)
    (local.corpus_dir / "nobody-speaks.txt").write_text("一份没有任何发言人的通知。\n\n请各单位按时报送材料。\n")
    env = server_env(local, reload_check_seconds=0.5)
    outcomes = []
    for attempt in range(2):
        port = free_port()
        log = tmp_path / f"server-{attempt}.log"
        with server_process([RAG, "serve", "--port", str(port)], env, log, port) as server:
            _, ready_s = first_ready(server)
            wait_until(
                lambda: (b := readiness(server.url)) is not None and b["last_build_error"] and not b["rebuilding"],
                300,
                "the failed rebuild to be reported",
                0.5,
            )
            reported = readiness(server.url)
            outcomes.append({"ready_s": round(ready_s, 2), "reported": reported})
    save_figures("failed-rebuild-start", {"starts": outcomes})
    for outcome in outcomes:
        reported = outcome["reported"]
        assert reported is not None and reported["generation"] == old
        assert "nobody-speaks.txt" in reported["last_build_error"], reported
        assert str(local.corpus_dir) not in reported["last_build_error"]  # no server path goes to a client
        assert reported["detail"].startswith(f"serving generation {old}; the last rebuild failed")
