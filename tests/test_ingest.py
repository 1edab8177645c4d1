"""Adding and removing documents: every format, duplicates, removal, refusals that change nothing, builds killed
with SIGKILL, a live server answering during an add, the CLI and the admin endpoints."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from support.embedder import FakeEmbedder
from support.faults import kill_at
from support.segments import generation_records
from support.stores import FIXTURES, private_store, tree_digest
from support.waiting import wait_until

from rag import Settings, build_index, load_index
from rag.cli import main
from rag.corpus import paragraph_from_source
from rag.errors import Conflict, CorpusError, IngestError, UnknownDocument
from rag.index.generations import current_generation
from rag.index.load import Index
from rag.ingest.check import derive_slug
from rag.ingest.records import Fields, Upload
from rag.ingest.store import add_documents, list_documents, remove_document
from rag.ingest.uploads import expand_paths, read_upload
from rag.textutil import split_sentences
from rag.views import speaker_summaries

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
VALID_TXT = "座谈会\n\n张华（湖南省文化馆馆长）\n\n文化下乡要常态化。\n"
MIXED = VALID_TXT.encode() + "\n这一段是用另一种编码保存的。\n".encode("gbk")  # UTF-8, then a GBK paragraph


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path) -> Path:
    """The real corpus and its index built once with the stable test embedder (copied for each test)."""
    folder = tmp_path_factory.mktemp("seed")
    shutil.copytree(corpus_dir, folder / "corpus")
    build_index(Settings(corpus_dir=folder / "corpus", index_dir=folder / "index"), FakeEmbedder())
    return folder


@pytest.fixture()
def store(tmp_path: Path, seed: Path) -> Settings:
    """A private corpus store and index (a copy of the seed): tests change them freely."""
    return private_store(seed, tmp_path)


def fixture(name: str, **meta: Any) -> Upload:
    return Upload(name=name, data=(FIXTURES / name).read_bytes(), meta=meta)


def snapshot(settings: Settings) -> tuple[dict[str, str], dict[str, str]]:
    """Every byte of the index and the corpus store."""
    return tree_digest(settings.index_dir), tree_digest(settings.corpus_dir)


def texts_of(index: Index, document: str | None = None) -> set[str]:
    chunks = [c for c in index.chunks if document is None or c.document == document]
    return {c.text for c in chunks} | {c.text[s:e] for c in chunks for s, e in split_sentences(c.text)}


# ---------------------------------------------------------------- adding, duplicates, removing


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir()))
def test_add_each_format_embeds_only_the_new_texts(store: Settings, tmp_path: Path, name: str) -> None:
    before = load_index(store, FakeEmbedder())
    embedder = FakeEmbedder()
    report = add_documents(store, [fixture(name)], embedder=embedder)

    (result,) = report.results
    slug = name.split(".")[0]
    assert result.status == "added" and result.document.slug == slug
    index = load_index(store, FakeEmbedder())  # verifies every file's checksum
    assert index.generation == report.generation == current_generation(store.index_dir)
    chunks = [c for c in index.chunks if c.document == slug]
    assert len(chunks) == result.document.paragraphs + result.document.editor_note
    assert [c.id for c in chunks] == [f"{slug}-p{n}" for n in range(1, len(chunks) + 1)]
    for c in chunks:
        assert paragraph_from_source(index.sources[slug], c.lines) == c.text

    # Only the new document's texts were embedded, each once; the segments already served were not touched.
    assert sorted(embedder.embedded) == sorted(texts_of(index, slug))
    assert report.embedded == len(embedder.embedded) and report.reused == 0
    assert [s.name for s in index.manifest.segments[:-1]] == [s.name for s in before.manifest.segments]
    # Every vector is exactly what a build from scratch computes.
    full = store.model_copy(update={"index_dir": tmp_path / "full"})
    build_index(full, FakeEmbedder())
    scratch = load_index(full, FakeEmbedder())
    assert sorted(c.id for c in scratch.chunks) == sorted(c.id for c in index.chunks)
    row_of = {c.id: row for row, c in enumerate(index.chunks)}
    order = np.asarray([row_of[c.id] for c in scratch.chunks])
    assert np.array_equal(np.asarray(scratch.vectors), np.asarray(index.vectors)[order])
    assert np.array_equal(scratch.anchor_vectors, index.anchor_vectors)

    # Stored under a server-chosen name, with its metadata beside it.
    stored = {p.name for p in store.corpus_dir.iterdir()}
    assert {f"{slug}{Path(name).suffix}", f"{slug}.meta.json"} <= stored
    meta = json.loads((store.corpus_dir / f"{slug}.meta.json").read_text(encoding="utf-8"))
    assert meta["slug"] == slug and meta["original_name"] == name


def test_document_fields_are_stored_and_shown(store: Settings) -> None:
    fields = Fields(title="湘江论坛", date="2024-12-02", source="湖南日报", slug="xiangjiang-forum")
    add_documents(store, [fixture("jsonl-forum.jsonl")], fields, embedder=FakeEmbedder())
    index = load_index(store, FakeEmbedder())
    info = next(d for d in index.documents if d.slug == "xiangjiang-forum")
    assert (info.title, info.date, info.source, info.file) == (
        "湘江论坛",
        "2024-12-02",
        "湖南日报",
        "xiangjiang-forum.jsonl",
    )
    rows = {r.slug: r for r in list_documents(store)}
    assert rows["xiangjiang-forum"].speakers == ("刘庆峰", "陈静")
    assert rows["xiangjiang-forum"].paragraphs == 4 and rows["xiangjiang-forum"].editor_note == 1
    assert rows["wenhua-keji-zuotanhui"].paragraphs == 34


def test_adding_the_same_content_twice_is_a_noop(store: Settings) -> None:
    add_documents(store, [fixture("markdown-zh.md")], embedder=FakeEmbedder())
    before = snapshot(store)
    embedder = FakeEmbedder()
    again = add_documents(store, [fixture("markdown-zh.md")], embedder=embedder)
    assert [(r.status, r.document.slug) for r in again.results] == [("duplicate", "markdown-zh")]
    assert again.generation is None and embedder.embedded == []
    # The same text under another name, with a BOM and Windows line endings, is the same content.
    data = "\ufeff".encode() + (FIXTURES / "markdown-zh.md").read_bytes().replace(b"\n", b"\r\n")
    third = add_documents(store, [Upload("renamed.md", data)], Fields(title="另一个标题"), embedder=embedder)
    assert [(r.status, r.document.slug) for r in third.results] == [("duplicate", "markdown-zh")]
    assert snapshot(store) == before


def test_derived_slugs_are_unique_and_ascii(store: Settings) -> None:
    page = VALID_TXT.encode()
    first = add_documents(store, [Upload("文化座谈.txt", page)], embedder=FakeEmbedder())
    second = add_documents(store, [Upload("文化座谈.txt", page + "补充一句。\n".encode())], embedder=FakeEmbedder())
    assert first.results[0].document.slug == "wen-hua-zuo-tan"
    assert second.results[0].document.slug == "wen-hua-zuo-tan-2"
    assert derive_slug("Forum 2024 (final).md", "") == "forum-2024-final"
    assert derive_slug("123.txt", "乡村振兴") == "xiang-cun-zhen-xing"


def test_a_speaker_is_one_person_across_documents(store: Settings) -> None:
    page = "人工智能与文化\n\n刘庆峰（科大讯飞董事长）\n\n大模型让每个人都能成为创作者。\n\n李华（长沙市文化馆馆长）\n\n社区活动越来越丰富。\n"
    add_documents(
        store, [Upload("ai-culture.txt", page.encode()), fixture("jsonl-forum.jsonl")], embedder=FakeEmbedder()
    )
    index = load_index(store, FakeEmbedder())
    (liu,) = index.registry.get("刘庆峰")
    assert (liu.organization, liu.name_en) == ("科大讯飞股份有限公司", "Liu Qingfeng")
    chunks = [c for c in index.chunks if c.speaker == "刘庆峰"]
    assert {c.document for c in chunks} == {"wenhua-keji-zuotanhui", "ai-culture", "jsonl-forum"}
    assert {(c.title, c.organization, c.speaker_en) for c in chunks} == {
        ("董事长", "科大讯飞股份有限公司", "Liu Qingfeng")
    }
    summary = next(r for r in speaker_summaries(index) if r.name == "刘庆峰")
    assert summary.documents == ["ai-culture", "jsonl-forum", "wenhua-keji-zuotanhui"]
    (li,) = index.registry.get("李华")
    assert (li.title, li.organization, li.name_en) == ("馆长", "长沙市文化馆", "")


def test_remove_takes_the_document_out_of_corpus_and_index(store: Settings) -> None:
    add_documents(store, [fixture("jsonl-forum.jsonl")], embedder=FakeEmbedder())
    embedder = FakeEmbedder()
    report = remove_document(store, "jsonl-forum", embedder=embedder)
    assert embedder.embedded == []  # every remaining vector is reused
    index = load_index(store, FakeEmbedder())
    assert index.generation == report.generation
    assert [d.slug for d in index.documents] == ["wenhua-keji-zuotanhui"]
    assert not any(c.document == "jsonl-forum" for c in index.chunks)
    assert not any(p.name.startswith("jsonl-forum") for p in store.corpus_dir.iterdir())

    before = snapshot(store)
    with pytest.raises(UnknownDocument, match="known documents: wenhua-keji-zuotanhui"):
        remove_document(store, "jsonl-forum", embedder=embedder)
    with pytest.raises(Conflict, match="only document"):
        remove_document(store, "wenhua-keji-zuotanhui", embedder=embedder)
    assert snapshot(store) == before


def test_a_failed_build_puts_the_store_back(store: Settings) -> None:
    class Failing(FakeEmbedder):
        """Another embedder (nothing to reuse) whose backend is down."""

        def __init__(self) -> None:
            super().__init__()
            self.id = "test/failing"

        def embed_batch(self, texts: Any, kind: str) -> np.ndarray:
            raise RuntimeError("embedding backend down")

    before = snapshot(store)
    with pytest.raises(RuntimeError, match="backend down"):
        add_documents(store, [fixture("markdown-zh.md")], embedder=Failing())
    after = snapshot(store)
    assert after[1] == before[1]  # the corpus store is as it was
    assert load_index(store, FakeEmbedder()).generation == current_generation(store.index_dir)
    add_documents(store, [fixture("jsonl-forum.jsonl")], embedder=FakeEmbedder())
    with pytest.raises(RuntimeError, match="backend down"):
        remove_document(store, "jsonl-forum", embedder=Failing())
    assert "jsonl-forum" in {r.slug for r in list_documents(store)}


# ---------------------------------------------------------------- refusals: nothing changes


def _big(limit: int) -> bytes:
    return (VALID_TXT + "很长的一段话。" * (limit // 20)).encode()


REFUSALS: list[tuple[str, list[Upload], Fields, str]] = [
    ("empty", [Upload("empty.txt", b"")], Fields(), "empty.txt: the file is empty"),
    ("blank", [Upload("blank.md", b"  \n\n \n")], Fields(), "blank.md: the file is empty"),
    ("image", [Upload("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00")], Fields(), "photo.txt: the file is a PNG image"),
    ("binary", [Upload("data.txt", b"\x01\x02\x00\x03binary\x00")], Fields(), "data.txt:1: the file looks binary"),
    ("mixed encodings", [Upload("mixed.txt", MIXED)], Fields(), "mixed.txt:7: the file mixes encodings"),
    ("too large", [Upload("big.txt", _big(32 * 1024 * 1024))], Fields(), "big.txt: the file is"),
    (
        "no speaker",
        [Upload("prose.txt", "标题\n\n只有一段话，没有发言人。\n".encode())],
        Fields(),
        "no format found a speaker",
    ),
    ("no speaker md", [Upload("prose.md", "# 标题\n\n只有一段话。\n".encode())], Fields(), "no speaker heading"),
    (
        "no speaker jsonl",
        [Upload("notes.jsonl", '{"kind": "editor_note", "text": "只有编者按。"}\n'.encode())],
        Fields(),
        "no speaker paragraph",
    ),
    ("no paragraph", [Upload("bare.txt", "标题\n\n张华（馆长）\n".encode())], Fields(), "has no paragraphs"),
    ("unknown format", [Upload("speech.xyz", VALID_TXT.encode())], Fields(), "speech.xyz: unknown file type `.xyz`"),
    ("damaged Word file", [Upload("speech.docx", b"PK\x03\x04")], Fields(), "speech.docx: the file is a damaged zip"),
    ("no suffix", [Upload("speech", VALID_TXT.encode())], Fields(), "unknown file type `(no suffix)`"),
    ("dotdot", [Upload("../escape.txt", VALID_TXT.encode())], Fields(), "names with `..` are refused"),
    ("bad slug", [Upload("ok.txt", VALID_TXT.encode())], Fields(slug="../Bad Slug"), "the slug must be"),
    ("slug in use", [Upload("ok.txt", VALID_TXT.encode())], Fields(slug="wenhua-keji-zuotanhui"), "already in use"),
    ("long title", [Upload("ok.txt", VALID_TXT.encode())], Fields(title="标" * 201), "at most 200 characters"),
    ("bad meta", [Upload("ok.txt", VALID_TXT.encode(), {"speakers": "张华"})], Fields(), "`speakers` must be a list"),
    (
        "title for two",
        [Upload("a.txt", VALID_TXT.encode()), Upload("b.md", b"# T\n\n## A\n\nB.\n")],
        Fields(title="同一个标题"),
        "one document",
    ),
    (
        "one bad in a batch",
        [fixture("markdown-zh.md"), Upload("bad.jsonl", b'{"speaker": "A", "text": ')],
        Fields(),
        "bad.jsonl:1: the line is not valid JSON",
    ),
]


@pytest.mark.parametrize(("uploads", "fields", "message"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_refusals_leave_index_and_corpus_byte_identical(
    store: Settings, uploads: list[Upload], fields: Fields, message: str
) -> None:
    before = snapshot(store)
    embedder = FakeEmbedder()
    with pytest.raises((CorpusError, IngestError)) as err:
        add_documents(store, uploads, fields, embedder=embedder)
    assert message in str(err.value)
    assert snapshot(store) == before
    assert embedder.embedded == []


def test_size_limit_is_a_setting(store: Settings) -> None:
    small = store.model_copy(update={"max_document_bytes": 200})
    before = snapshot(small)
    with pytest.raises(CorpusError, match=r"over the limit of 200 bytes \(RAG_MAX_DOCUMENT_BYTES\)"):
        add_documents(small, [Upload("big.txt", _big(400))], embedder=FakeEmbedder())
    assert snapshot(small) == before


def test_paths_symlinks_out_of_the_folder_and_dotdot_are_refused(tmp_path: Path) -> None:
    given = tmp_path / "given"
    outside = tmp_path / "outside"
    given.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text(VALID_TXT, encoding="utf-8")
    (given / "real.txt").write_text(VALID_TXT, encoding="utf-8")
    (given / "link.txt").symlink_to(outside / "secret.txt")
    (given / "alias.txt").symlink_to(given / "real.txt")

    assert read_upload(given / "alias.txt", given, 10_000).data == VALID_TXT.encode()  # inside: fine
    with pytest.raises(CorpusError, match="symlink leads outside"):
        read_upload(given / "link.txt", given, 10_000)
    with pytest.raises(CorpusError, match="symlink leads outside"):
        [read_upload(p, folder, 10_000) for p, folder in expand_paths([given])]
    with pytest.raises(CorpusError, match=r"names with `\.\.`"):
        read_upload(given / ".." / "given" / "real.txt", given, 10_000)
    with pytest.raises(CorpusError, match=r"names with `\.\.`"):
        expand_paths([given / ".." / "outside"])
    with pytest.raises(CorpusError, match="over the limit"):
        read_upload(given / "real.txt", given, 10)
    with pytest.raises(CorpusError, match="no such file"):
        read_upload(given / "missing.txt", given, 10_000)
    # A metadata file beside the document may not lead outside either.
    (outside / "x.meta.json").write_text("{}", encoding="utf-8")
    (given / "real.meta.json").symlink_to(outside / "x.meta.json")
    with pytest.raises(CorpusError, match="symlink leads outside"):
        read_upload(given / "real.txt", given, 10_000)


# ---------------------------------------------------------------- the command line


@pytest.fixture()
def cli(store: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[CliRunner, dict[str, str]]]:
    monkeypatch.setattr("rag.embedding.get_embedder", lambda settings: FakeEmbedder())
    env = {"RAG_CORPUS_DIR": str(store.corpus_dir), "RAG_INDEX_DIR": str(store.index_dir)}
    yield CliRunner(), env


def test_cli_add_documents_ask_remove(cli: tuple[CliRunner, dict[str, str]], store: Settings) -> None:
    runner, env = cli
    path = str(FIXTURES / "markdown-en.md")
    args = ["add", path, "--date", "2024-10-01", "--source", "Hunan Daily", "--slug", "voices-en"]
    r = runner.invoke(main, args, env=env)
    assert r.exit_code == 0, r.output
    assert f"Added {path} as `voices-en`" in r.output and "embedded" in r.output

    r = runner.invoke(main, ["documents", "--json"], env=env)
    rows = {row["slug"]: row for row in json.loads(r.stdout)}
    assert rows["voices-en"]["speakers"] == ["Zhang Dong", "Liu Qingfeng"]
    assert (rows["voices-en"]["date"], rows["voices-en"]["source"], rows["voices-en"]["paragraphs"]) == (
        "2024-10-01",
        "Hunan Daily",
        3,
    )
    r = runner.invoke(main, ["documents"], env=env)
    assert "voices-en  2024-10-01  Culture and Technology" in r.output

    r = runner.invoke(main, ["add", path], env=env)
    assert r.exit_code == 0 and "already in the corpus as `voices-en` (same content); nothing to do" in r.output
    r = runner.invoke(main, ["remove", "voices-en"], env=env)
    assert r.exit_code == 0 and "Removed `voices-en`" in r.output
    r = runner.invoke(main, ["remove", "voices-en"], env=env)
    assert r.exit_code == 1 and "no document `voices-en`" in r.output


def test_questions_are_answered_once_an_english_document_is_indexed(cli: tuple[CliRunner, dict[str, str]]) -> None:
    runner, env = cli
    r = runner.invoke(main, ["add", str(FIXTURES / "markdown-en.md")], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["ask", "What will museums do?", "--document", "markdown-en", "--json"], env=env)
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert {q["document"] for q in body["quotes"] + body["closest"]} == {"markdown-en"}


def test_cli_refusals_exit_non_zero_naming_file_and_reason(
    cli: tuple[CliRunner, dict[str, str]], store: Settings, tmp_path: Path
) -> None:
    runner, env = cli
    given = tmp_path / "given"
    given.mkdir()
    (given / "link.txt").symlink_to(store.corpus_dir / "wenhua-keji-zuotanhui.txt")
    (given / "mixed.txt").write_bytes(MIXED)
    (given / "ok.txt").write_text(VALID_TXT, encoding="utf-8")
    before = snapshot(store)
    for args, message in [
        ([str(given / "link.txt")], "link.txt: the symlink leads outside"),
        ([str(given / "ok.txt"), str(given / "mixed.txt")], "mixed.txt:7: the file mixes encodings"),
        ([str(given / ".." / "given" / "ok.txt")], "names with `..` are refused"),
        ([str(given / "ok.txt"), "--slug", "Not A Slug"], "the slug must be"),
    ]:
        r = runner.invoke(main, ["add", *args], env=env)
        assert r.exit_code == 1, r.output
        assert message in r.output
    assert snapshot(store) == before


# ---------------------------------------------------------------- SIGKILL during an add


@pytest.mark.slow
@pytest.mark.parametrize("point", ["corpus-changed", "embedding", "generation-written", "renamed", "published"])
def test_an_add_killed_at_any_point_leaves_a_complete_generation_serving(
    store: Settings, tmp_path: Path, point: str
) -> None:
    old = current_generation(store.index_dir)
    assert old is not None
    old_files = tree_digest(store.index_dir / old)
    kill_at(store, tmp_path, "add", point, "markdown-zh.md")

    serving = current_generation(store.index_dir)
    index = load_index(store, FakeEmbedder())  # verifies the manifest and every checksum
    assert index.generation == serving
    if point == "published":
        assert serving != old and "markdown-zh" in {d.slug for d in index.documents}
    else:
        assert serving == old and tree_digest(store.index_dir / old) == old_files
        assert "markdown-zh" not in {d.slug for d in index.documents}

    # The store already holds the document (it is written before the build): adding it again is a duplicate
    # that finishes the interrupted add. The lock died with the killed process.
    assert (store.corpus_dir / "markdown-zh.md").is_file()
    report = add_documents(store, [fixture("markdown-zh.md")], embedder=FakeEmbedder())
    assert report.results[0].status == "duplicate"
    assert (report.generation is None) == (point == "published")
    index = load_index(store, FakeEmbedder())
    assert sum(1 for c in index.chunks if c.document == "markdown-zh") == 6
    assert not list(store.index_dir.glob(".tmp-*"))
    assert len(list(store.index_dir.glob("gen-*"))) == 2  # the serving one and the one before; no orphan
    assert len(list(store.corpus_dir.glob("markdown-zh*"))) == 2  # one source and its metadata, never twice


# ---------------------------------------------------------------- a live server during an add


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_a_running_server_answers_from_one_generation_during_an_add(
    tmp_path: Path, settings: Settings, built: Path
) -> None:
    # The session's real index (multilingual-e5-small) and corpus, copied: server and add use the real model.
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(settings.corpus_dir, corpus)
    shutil.copytree(settings.index_dir, index_dir)
    local = Settings(corpus_dir=corpus, index_dir=index_dir, feedback_db=tmp_path / "fb.sqlite3")
    old = current_generation(index_dir)
    port = _free_port()
    env = {
        **os.environ,
        "RAG_CORPUS_DIR": str(corpus),
        "RAG_INDEX_DIR": str(index_dir),
        "RAG_FEEDBACK_DB": str(tmp_path / "fb.sqlite3"),
        "RAG_RELOAD_CHECK_SECONDS": "0.1",
        "RAG_CACHE_SIZE": "0",
    }
    command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    question_new = "马栏山园区已经集聚了多少家企业？"
    question_old = "中国移动目前全国客户规模有多少？"
    seen: list[tuple[int, dict[str, Any]]] = []
    stop = threading.Event()
    try:
        with httpx.Client(base_url=base, timeout=30) as client:

            def ready() -> bool:
                assert server.poll() is None, "the server exited"
                try:
                    return client.get("/readyz").status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(ready, 120, "the server to become ready", 0.2)
            r = client.post("/ask", json={"question": question_new, "document": "markdown-zh"})
            assert r.status_code == 422 and "markdown-zh" not in r.json()["known_documents"]

            def ask_forever() -> None:
                with httpx.Client(base_url=base, timeout=30) as asker:
                    while not stop.is_set():
                        for q in (question_new, question_old):
                            response = asker.post("/ask", json={"question": q})
                            seen.append((response.status_code, response.json()))

            thread = threading.Thread(target=ask_forever, daemon=True)
            thread.start()
            wait_until(lambda: len(seen) >= 4, 60, "the first answers")
            report = add_documents(local, [fixture("markdown-zh.md")])
            new = report.generation
            wait_until(lambda: any(b.get("generation") == new for _, b in seen[-2:]), 60, "the new generation")
            count = len(seen)
            wait_until(lambda: len(seen) >= count + 4, 60, "answers from the new generation")
            stop.set()
            thread.join(timeout=60)

            r = client.post("/ask", json={"question": question_new, "document": "markdown-zh"})
            assert r.status_code == 200 and {q["document"] for q in r.json()["quotes"]} == {"markdown-zh"}
    finally:
        stop.set()
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    assert {status for status, _ in seen} == {200}
    generations = [body["generation"] for _, body in seen]
    assert set(generations) == {old, new}
    first_new = generations.index(new)
    assert set(generations[first_new:]) == {new}  # once swapped, never back
    chunks = {
        gen: generation_records(index_dir, gen)
        for gen in (old, new)
    }
    for _, body in seen:
        own = chunks[body["generation"]]
        for q in body["quotes"] + body["closest"]:
            chunk = own[q["paragraph_id"]]  # every quote exists in the generation that answered
            assert (q["paragraph"], q["speaker"], q["document"]) == (chunk["text"], chunk["speaker"], chunk["document"])
    cited_new = [q["document"] == "markdown-zh" for _, b in seen for q in b["quotes"] if b["generation"] == new]
    assert any(cited_new)


# ---------------------------------------------------------------- admin endpoints


@pytest.fixture()
def admin(store: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Settings]]:
    from app.main import create_app

    monkeypatch.setattr("rag.embedding.get_embedder", lambda settings: FakeEmbedder())
    settings = store.model_copy(update={"admin_token": "s3cret-token", "max_document_bytes": 20_000})
    with TestClient(create_app(settings)) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, 60, "the app to become ready")
        yield client, settings


AUTH = {"Authorization": "Bearer s3cret-token"}


def _file(name: str, data: bytes | None = None) -> dict[str, tuple[str, bytes]]:
    return {"file": (name, data if data is not None else (FIXTURES / name).read_bytes())}


def test_admin_endpoints_are_disabled_without_a_token(store: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.main import create_app

    monkeypatch.setattr("rag.embedding.get_embedder", lambda settings: FakeEmbedder())
    before = snapshot(store)
    with TestClient(create_app(store)) as client:
        assert client.post("/documents", files=_file("markdown-zh.md"), headers=AUTH).status_code == 404
        assert client.delete("/documents/wenhua-keji-zuotanhui", headers=AUTH).status_code == 404
    assert snapshot(store) == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic s3cret-token"},
        {"Authorization": "Bearer s3cret"},
    ],
    ids=["none", "wrong", "basic", "prefix"],
)
def test_admin_endpoints_need_the_bearer_token(admin: tuple[TestClient, Settings], headers: dict[str, str]) -> None:
    client, settings = admin
    before = snapshot(settings)
    r = client.post("/documents", files=_file("markdown-zh.md"), headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.delete("/documents/wenhua-keji-zuotanhui", headers=headers).status_code == 401
    assert snapshot(settings) == before


def test_admin_upload_ask_duplicate_delete(admin: tuple[TestClient, Settings]) -> None:
    client, _ = admin
    r = client.post("/documents", files=_file("markdown-zh.md"), data={"date": "2024-11-05"}, headers=AUTH)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "added" and body["document"]["slug"] == "markdown-zh"
    assert body["document"]["date"] == "2024-11-05" and body["embedded"] > 0 and body["reused"] == 0  # old segments are kept, not re-read
    # The new generation serves before the response: the next question can already filter on it.
    assert client.get("/readyz").json()["generation"] == body["generation"]
    r = client.post("/ask", json={"question": "园区有多少家企业？", "document": "markdown-zh"})
    assert r.status_code == 200 and r.json()["generation"] == body["generation"]
    assert {q["document"] for q in r.json()["quotes"] + r.json()["closest"]} == {"markdown-zh"}

    r = client.post("/documents", files=_file("markdown-zh.md"), headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "duplicate" and r.json()["generation"] is None

    r = client.delete("/documents/markdown-zh", headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "removed"
    r = client.post("/ask", json={"question": "园区有多少家企业？", "document": "markdown-zh"})
    assert r.status_code == 422
    assert client.delete("/documents/markdown-zh", headers=AUTH).status_code == 404
    assert client.delete("/documents/..%2Fetc", headers=AUTH).status_code == 404
    r = client.delete("/documents/wenhua-keji-zuotanhui", headers=AUTH)
    assert r.status_code == 409 and "only document" in r.json()["detail"]


@pytest.mark.parametrize(
    ("request_kwargs", "status", "message"),
    [
        ({"files": _file("photo.txt", b"\x89PNG\x00\x00")}, 422, "photo.txt: the file is a PNG image"),
        ({"files": _file("big.txt", _big(20_000))}, 413, "over the limit of 20000 bytes"),
        ({"files": _file("../../etc/x.txt", VALID_TXT.encode())}, 422, "names with `..` are refused"),
        ({"files": _file("speech.xyz", VALID_TXT.encode())}, 422, "unknown file type `.xyz`"),
        ({"files": _file("prose.md", "# 标题\n\n没有发言人。\n".encode())}, 422, "no speaker heading"),
        ({"data": {"title": "x"}}, 422, "multipart/form-data"),
        ({"files": {"other": ("a.txt", b"x")}}, 422, "`file` part"),
        ({"files": {**_file("ok.txt", VALID_TXT.encode()), "meta": ("m.json", b"[1]")}}, 422, "JSON object"),
        ({"files": _file("ok.txt", VALID_TXT.encode()), "data": {"slug": "Bad Slug"}}, 422, "the slug must be"),
        ({"files": _file("ok.txt", VALID_TXT.encode()), "data": {"slug": "wenhua-keji-zuotanhui"}}, 409, "in use"),
    ],
    ids=["binary", "too-large", "dotdot", "format", "no-speaker", "not-multipart", "no-file", "meta", "slug", "taken"],
)
def test_admin_refusals_change_nothing(
    admin: tuple[TestClient, Settings], request_kwargs: dict[str, Any], status: int, message: str
) -> None:
    client, settings = admin
    before = snapshot(settings)
    r = client.post("/documents", headers=AUTH, **request_kwargs)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]
    assert snapshot(settings) == before
