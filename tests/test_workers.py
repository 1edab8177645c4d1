"""Multi-worker truth (issue 18, problem 7): `rag serve --workers 2` killed with SIGKILL takes its workers with
it, and the next start on the same port serves."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from support.servers import RAG, free_port, save_figures, server_env, server_process
from support.stores import copy_store
from support.waiting import wait_until

from rag import Settings


def workers_of(pid: int) -> list[int]:
    """The uvicorn worker processes (multiprocessing spawn children) of `pid`."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    out = []
    for child in map(int, children):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            out.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return ") Z " not in stat  # a zombie has exited


@pytest.mark.slow
def test_sigkill_of_the_supervisor_takes_its_workers_and_a_restart_serves(
    settings: Settings, built: Path, tmp_path: Path
) -> None:
    local = copy_store(settings, tmp_path)
    port = free_port()
    command = [RAG, "serve", "--port", str(port), "--workers", "2"]
    env = server_env(local)
    orphans: list[int] = []
    try:
        with server_process(command, env, tmp_path / "first.log", port) as first:
            first.wait_ready()
            wait_until(lambda: len(workers_of(first.pid)) == 2, 60, "two workers")
            workers = workers_of(first.pid)
            orphans = list(workers)
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait(30)
            killed = time.monotonic()
            gone = True
            try:
                wait_until(lambda: not any(alive(w) for w in workers), 30, "the workers to exit", 0.2)
            except AssertionError:
                gone = False
            gone_s = time.monotonic() - killed
        with server_process(command, env, tmp_path / "second.log", port) as second:
            restarted = True
            try:
                second.wait_ready(120)
            except AssertionError:
                restarted = False
            time.sleep(3.0)  # a start that cannot bind exits within this; orphans would still answer /readyz
            served_by_new = restarted and second.proc.poll() is None and len(workers_of(second.pid)) == 2
    finally:
        for w in orphans:  # never leave a server behind, whatever happened
            if alive(w):
                os.kill(w, signal.SIGKILL)
    save_figures(
        "supervisor-sigkill", {"workers_gone": gone, "gone_after_s": round(gone_s, 2), "restart_served": served_by_new}
    )
    assert gone, "the workers outlived their supervisor"
    assert served_by_new, "the next start did not serve"


FIXTURE = Path(__file__).resolve().parent / "fixtures" / "documents" / "markdown-zh.md"


@pytest.mark.slow
def test_after_an_upload_every_worker_answers_from_the_new_document(
    settings: Settings, built: Path, tmp_path: Path
) -> None:
    """201 from POST /documents means answerable: ten questions filtered to the new document, each on a new
    connection (so they reach both workers), right after the response. The other worker checks for a new
    generation every 20 s, so without the wait it would still serve the old one for a while."""
    import httpx

    local = copy_store(settings, tmp_path)
    port = free_port()
    env = server_env(local, admin_token="t0ken-workers", reload_check_seconds=20.0, cache_size=0)
    command = [RAG, "serve", "--port", str(port), "--workers", "2"]
    with server_process(command, env, tmp_path / "server.log", port) as server:
        server.wait_ready()
        wait_until(lambda: len(workers_of(server.pid)) == 2, 60, "two workers")
        with httpx.Client(base_url=server.url, timeout=600) as admin:
            r = admin.post(
                "/documents",
                files={"file": (FIXTURE.name, FIXTURE.read_bytes())},
                headers={"Authorization": "Bearer t0ken-workers"},
            )
        assert r.status_code == 201, r.text
        slug = r.json()["document"]["slug"]
        codes = []
        for _ in range(10):
            with httpx.Client(base_url=server.url, timeout=120, headers={"Connection": "close"}) as c:
                codes.append(c.post("/ask", json={"question": "他们说了什么？", "document": slug}).status_code)
    save_figures("upload-then-ask-two-workers", {"codes": codes, "body": r.json().get("all_workers_serving")})
    assert codes == [200] * 10, codes
    assert r.json()["all_workers_serving"] is True


def test_readers_of_a_copied_or_dead_server_are_not_waited_for(tmp_path: Path) -> None:
    import json
    import shutil

    from rag.index import readers

    index_dir = tmp_path / "index"
    index_dir.mkdir()
    readers.announce(index_dir, "gen-a")
    assert readers.serving(index_dir) == {os.getpid(): "gen-a"}
    shutil.copytree(index_dir, tmp_path / "copy")
    assert readers.serving(tmp_path / "copy") == {}  # the copy's file names the original folder
    dead = {"pid": 2**22 + 12345, "generation": "gen-old", "index_dir": str(index_dir.resolve())}
    (index_dir / "readers" / "dead.json").write_text(json.dumps(dead))
    assert readers.wait_until_served(index_dir, "gen-a", 1.0)
    assert not readers.wait_until_served(index_dir, "gen-b", 0.2)


def test_a_served_generation_is_recorded_before_it_is_reported(settings: Settings, built: Path, tmp_path: Path) -> None:
    """The CI failure of 2026-12-03: /readyz said 200, then the reader record appeared in the index folder."""
    from rag.index import readers
    from rag.service import Service

    local = copy_store(settings, tmp_path)
    for _ in range(5):
        service = Service(local.model_copy(update={"reload_check_seconds": 0.0}))
        service.start()
        try:
            deadline = time.monotonic() + 60
            while not (status := service.status()).ready:  # poll as tightly as a client can
                assert time.monotonic() < deadline, "the service never became ready"
            assert readers.serving(local.index_dir) == {os.getpid(): status.generation}
        finally:
            service.stop()
        assert readers.serving(local.index_dir) == {}
