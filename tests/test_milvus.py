"""The Milvus backend (RAG_BACKEND=milvus) against the local one: the same store contract, the same answers.

Embedded milvus-lite and a `milvus-lite server` on a free loopback port (the `http://…` path a cluster
uses); no mock of Milvus anywhere. The store is published from a copy of the session's built index, so no
vector is embedded again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from support.milvus import MilvusServer, milvus_server, on_milvus, scratch_copy
from support.stores import FIXTURES
from support.waiting import wait_until

from app.main import create_app
from rag import Index, Settings, load_index
from rag.answer import ask
from rag.errors import IndexFormatError, IndexUnavailable
from rag.eval.gold import load_questions
from rag.index.milvus.connection import Names, client, serving_generation
from rag.index.milvus.store import MilvusStore
from rag.ingest.records import Upload
from rag.ingest.store import add_documents, remove_document
from rag.retrieval import search
from rag.service import Service

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = load_questions(ROOT / "eval" / "questions.jsonl")


def quote_ids(index: Index, question: str, settings: Settings) -> list[str]:
    return [q.paragraph_id for q in ask(index, question, settings).quotes]


# ---------------------------------------------------------------- the store contract, embedded milvus-lite


@pytest.fixture(scope="module")
def stores(documents: tuple[Settings, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Index, Settings]]:
    """The store with every fixture document, on both backends.

    The local index is built from scratch (one segment, rows in corpus order, as Milvus publishes them);
    an index grown by adds numbers its rows in the order of its segments (tests/test_segments.py).
    """
    local = scratch_copy(documents[0], tmp_path_factory.mktemp("local-scratch"))
    milvus = on_milvus(local, tmp_path_factory.mktemp("milvus-embedded"))
    return {"local": (load_index(local), local), "milvus": (load_index(milvus), milvus)}


def test_the_milvus_backend_serves_from_milvus(stores: dict[str, tuple[Index, Settings]]) -> None:
    index, settings = stores["milvus"]
    assert isinstance(index.store, MilvusStore) and index.store.backend == "milvus"
    assert stores["local"][0].store.backend == "local"
    assert serving_generation(settings) == index.generation
    assert [c.id for c in index.chunks] == [c.id for c in stores["local"][0].chunks]


@pytest.mark.parametrize("backend", ["local", "milvus"])
def test_the_store_contract(stores: dict[str, tuple[Index, Settings]], backend: str) -> None:
    """Each backend keeps the store's promises (rag/store.py), checked against the generation's own records."""
    index, settings = stores[backend]
    store = index.store
    n = len(index.chunks)
    vector = index.embedder.embed_query("人工智能")
    dense = store.dense_search(vector, 10, None)
    assert dense.shape == (n,) and np.isfinite(dense).sum() >= 10
    best = np.argsort(-np.where(np.isfinite(dense), dense, -9))[:10]
    exact = np.asarray(store.paragraph_vectors[best]) @ vector
    assert np.allclose(dense[best], exact, atol=1e-4), "dense scores are the inner products of the stored vectors"
    tokens = index.tokenizer.tokens("人工智能")
    bm25 = store.keyword_scores(tokens, 10, None)
    hit_rows = np.flatnonzero(bm25 > 0)
    assert len(hit_rows) and all(any(t in index.tokenizer.tokens(index.chunks[r].text) for t in tokens) for r in hit_rows)
    assert sum(store.doc_freq(t) for t in tokens) >= len(hit_rows) and store.doc_freq("\x00never") == 0
    for speaker in index.registry.names()[:6]:
        result = search(index, "发展", settings, speakers=[speaker])
        allowed = set(index.speaker_rows(speaker).tolist())
        assert result.hits and {h.row for h in result.hits} <= allowed, speaker
    for doc in index.documents:
        result = search(index, "发展", settings, documents=[doc.slug])
        assert result.hits and {h.chunk.document for h in result.hits} == {doc.slug}
    sample = store.sentence_sample(64)
    assert sample.shape == (min(64, len(index.sentences)), index.embedder.dimension)


def test_both_backends_rank_the_same_paragraphs_with_the_same_scores(stores: dict[str, tuple[Index, Settings]]) -> None:
    (local, settings), (milvus, _) = stores["local"], stores["milvus"]
    questions = [q.question for q in QUESTIONS[:40]] + ["What did they say about publishing?", "版权保护"]
    for question in questions:
        a, b = search(local, question, settings), search(milvus, question, settings)
        assert [h.row for h in a.hits[:10]] == [h.row for h in b.hits[:10]], question
        for x, y in zip(a.hits[:10], b.hits[:10], strict=True):
            assert abs(x.score - y.score) < 1e-5 and (x.bm25_rank is None) == (y.bm25_rank is None), question
            if x.bm25_rank is not None:
                assert x.bm25_score == pytest.approx(y.bm25_score, rel=1e-4), question


def test_both_backends_filter_alike_and_list_alike(stores: dict[str, tuple[Index, Settings]]) -> None:
    (local, settings), (milvus, _) = stores["local"], stores["milvus"]
    for speaker in local.registry.names():
        a = search(local, "我们", settings, speakers=[speaker])
        b = search(milvus, "我们", settings, speakers=[speaker])
        assert [h.row for h in a.hits] == [h.row for h in b.hits], speaker
    for doc in local.documents:
        a = search(local, "我们", settings, documents=[doc.slug], speakers=local.registry.names()[:3])
        b = search(milvus, "我们", settings, documents=[doc.slug], speakers=local.registry.names()[:3])
        assert [h.row for h in a.hits] == [h.row for h in b.hits], doc.slug
    assert milvus.store.vocabulary() == local.store.vocabulary()
    latin = {w for w in local.store.vocabulary() if w.isascii()}
    assert milvus.store.ascii_vocabulary() == local.store.ascii_vocabulary() == latin
    for word in sorted(local.store.vocabulary())[::50]:
        assert milvus.store.doc_freq(word) == local.store.doc_freq(word), word
        assert milvus.store.rows_with(word, 20) == local.store.rows_with(word, 20), word
    assert np.allclose(milvus.store.sentence_sample(2048), local.store.sentence_sample(2048), atol=1e-6)
    assert [d.slug for d in milvus.documents] == [d.slug for d in local.documents]
    assert milvus.registry.names() == local.registry.names()


def test_refusals_name_the_fix(stores: dict[str, tuple[Index, Settings]], tmp_path: Path) -> None:
    from support.embedder import FakeEmbedder

    _, settings = stores["milvus"]
    with pytest.raises(IndexUnavailable, match=r"built with embedder .*rag build --force"):
        load_index(settings, embedder=FakeEmbedder())
    copy = next((settings.index_dir / "milvus" / settings.milvus_prefix).glob("gen-*"))
    manifest = copy / "manifest.json"
    original = manifest.read_text(encoding="utf-8")
    try:
        manifest.write_text(original.replace('"format_version": ', '"format_version": 1', 1), encoding="utf-8")
        with pytest.raises(IndexFormatError, match="rag build --force"):
            load_index(settings)
        manifest.write_text(original.replace('"dimension": ', '"dimension": 7', 1), encoding="utf-8")
        with pytest.raises(IndexUnavailable, match=r"\d+-d.*rag build --force"):
            load_index(settings)
    finally:
        manifest.write_text(original, encoding="utf-8")


# ---------------------------------------------------------------- the same answers


@pytest.fixture(scope="module")
def page_milvus(settings: Settings, built: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The session's corpus on embedded milvus-lite."""
    return on_milvus(settings, tmp_path_factory.mktemp("milvus-page"))


def test_the_same_quotes_for_every_eval_question(settings: Settings, index: Index, page_milvus: Settings) -> None:
    milvus = load_index(page_milvus)
    differ = [
        q.id for q in QUESTIONS if quote_ids(index, q.question, settings) != quote_ids(milvus, q.question, page_milvus)
    ]
    assert not differ, f"{len(differ)} of {len(QUESTIONS)} questions answered differently: {differ}"


def test_the_web_app_answers_the_same_on_milvus(settings: Settings, index: Index, page_milvus: Settings) -> None:
    with TestClient(create_app(page_milvus)) as http:
        wait_until(lambda: http.get("/readyz").status_code == 200, 60, "the app on Milvus to be ready", 0.1)
        for q in QUESTIONS[:8]:
            got = http.post("/ask", json={"question": q.question}).json()
            assert [x["paragraph_id"] for x in got["quotes"]] == quote_ids(index, q.question, settings), q.id
        assert http.get("/").status_code == 200


# ---------------------------------------------------------------- a Milvus server on loopback


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusServer]:
    with milvus_server(tmp_path_factory.mktemp("milvus-server")) as running:
        yield running


@pytest.fixture(scope="module")
def served(settings: Settings, built: Path, server: MilvusServer, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return on_milvus(settings, tmp_path_factory.mktemp("milvus-uri"), uri=server.uri)


def second_machine(store: Settings, folder: Path) -> Settings:
    """Another API machine on the same Milvus: its own (empty) index folder, no corpus."""
    return store.model_copy(update={"index_dir": folder / "index", "corpus_dir": folder / "no-corpus"})


def test_a_server_uri_answers_like_the_local_backend(settings: Settings, index: Index, served: Settings) -> None:
    milvus = load_index(served)
    assert served.milvus_uri.startswith("http://127.0.0.1:")
    for q in QUESTIONS[::10]:
        assert quote_ids(milvus, q.question, served) == quote_ids(index, q.question, settings), q.id


def test_add_and_remove_while_serving_reach_every_machine(served: Settings, tmp_path: Path) -> None:
    workers = [Service(served), Service(second_machine(served, tmp_path))]
    for worker in workers:
        worker.start()
        assert worker.wait_ready(120)
    try:
        before = workers[1].index().generation
        report = add_documents(served, [Upload("zhaideng-plain.txt", (FIXTURES / "zhaideng-plain.txt").read_bytes())])
        slug = report.results[0].document.slug
        for worker in workers:
            wait_until(lambda w=worker: w.index().generation == report.generation, 60, "the new generation to serve")
            found = ask(worker.index(), "出版社要如何拥抱人工智能？", served).quotes
            assert found and found[0].document == slug
        assert report.generation != before
        remove_document(served, slug)
        for worker in workers:
            wait_until(lambda w=worker: w.index().document(slug) is None, 60, "the removal to serve")
            assert all(q.document != slug for q in ask(worker.index(), "出版社要如何拥抱人工智能？", served).quotes)
    finally:
        for worker in workers:
            worker.stop()


KILLED_ADD = """
import os, sys, time
from pathlib import Path
import rag.index.milvus.publish as publish
from rag import Settings
from rag.ingest.records import Upload
from rag.ingest.store import add_documents
marker, path = sys.argv[1:3]
def pause(*args, **kwargs):
    Path(marker).write_text(str(os.getpid()))
    time.sleep(300)
publish.switch_alias = pause  # every collection of the new generation written, the alias not yet switched
add_documents(Settings(), [Upload(Path(path).name, Path(path).read_bytes())])
"""


def test_a_killed_add_leaves_the_previous_state_serving(served: Settings, tmp_path: Path) -> None:
    serving = serving_generation(served)
    script, marker = tmp_path / "add.py", tmp_path / "paused"
    script.write_text(KILLED_ADD, encoding="utf-8")
    env = {
        **os.environ, "RAG_CORPUS_DIR": str(served.corpus_dir), "RAG_INDEX_DIR": str(served.index_dir),
        "RAG_BACKEND": "milvus", "RAG_MILVUS_URI": served.milvus_uri, "RAG_MILVUS_PREFIX": served.milvus_prefix,
    }  # fmt: skip
    proc = subprocess.Popen([sys.executable, str(script), str(marker), str(FIXTURES / "markdown-zh.md")], env=env)
    try:
        wait_until(lambda: marker.exists() or proc.poll() is not None, 180, "the add to reach the alias switch", 0.1)
        assert proc.poll() is None, "the add ended before it was killed"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert serving_generation(served) == serving
    names = Names(served.milvus_prefix)
    orphans = {names.generation_of(c) for c in client(served).list_collections()} - {None, serving}
    assert orphans, "the killed add had written collections of its own"
    index = load_index(served)
    assert index.generation == serving and index.document("markdown-zh") is None
    assert ask(index, "中国移动目前全国客户规模有多少？", served).quotes
    # The next publish drops what the killed one left (the previous generation is kept for readers).
    report = add_documents(served, [Upload("markdown-zh.md", (FIXTURES / "markdown-zh.md").read_bytes())])
    left = {names.generation_of(c) for c in client(served).list_collections()} - {None}
    assert left == {report.generation, serving}
    remove_document(served, report.results[0].document.slug)


def test_milvus_stopped_and_restarted_under_a_running_api(
    settings: Settings, index: Index, served: Settings, server: MilvusServer
) -> None:
    question = QUESTIONS[0].question
    expected = quote_ids(index, question, settings)
    with TestClient(create_app(served)) as http:
        wait_until(lambda: http.get("/readyz").status_code == 200, 60, "the app to be ready", 0.1)
        server.stop()
        try:
            down = wait_until(lambda: (r := http.get("/readyz")).status_code == 503 and r, 60, "/readyz to say 503")
            body = down.json()
            assert body["status"] == "unreachable" and "RAG_MILVUS_URI" in body["reason"], body
            assert http.post("/ask", json={"question": question + "？"}).status_code == 503
        finally:
            server.start()
        wait_until(lambda: http.get("/readyz").status_code == 200, 90, "/readyz to recover", 0.2)
        got = http.post("/ask", json={"question": question}).json()
        assert [q["paragraph_id"] for q in got["quotes"]] == expected
