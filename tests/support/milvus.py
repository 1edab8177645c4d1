"""Milvus for the backend tests: a store built into embedded milvus-lite or a `milvus-lite server` on loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rag import Settings, build_index
from support.servers import free_port
from support.waiting import wait_until

MILVUS_LITE = str(Path(sys.executable).with_name("milvus-lite"))


def on_milvus(local: Settings, target: Path, uri: str = "", prefix: str = "rag") -> Settings:
    """A copy of a built local store, published to Milvus (`uri`; empty: embedded) reusing every vector."""
    shutil.copytree(local.corpus_dir, target / "corpus")
    shutil.copytree(local.index_dir, target / "index")  # the builder's vector cache: nothing is embedded again
    settings = Settings(
        corpus_dir=target / "corpus", index_dir=target / "index", feedback_db=target / "fb.sqlite3",
        backend="milvus", milvus_uri=uri, milvus_prefix=prefix, reload_check_seconds=0.05,
    )  # fmt: skip
    build_index(settings, reuse_vectors=True)
    return settings


def scratch_copy(local: Settings, target: Path) -> Settings:
    """A copy of a local store whose index is rebuilt from scratch (one segment) reusing every vector."""
    from rag.corpus import corpus_state, load_corpus
    from rag.embedding import get_embedder
    from rag.index.build import VectorCache
    from rag.index.generations import build_lock
    from rag.index.sync import build_from_scratch

    shutil.copytree(local.corpus_dir, target / "corpus")
    shutil.copytree(local.index_dir, target / "index")
    settings = local.model_copy(update={"corpus_dir": target / "corpus", "index_dir": target / "index"})
    embedder = get_embedder(settings)
    digest, fingerprints = corpus_state(settings.corpus_dir)
    with build_lock(settings.index_dir):
        cache = VectorCache.from_serving(settings.index_dir, embedder)
        docs = load_corpus(settings.corpus_dir)
        build_from_scratch(settings, embedder, docs, digest, fingerprints, cache=cache)
    return settings


@dataclass
class MilvusServer:
    """`milvus-lite server` on 127.0.0.1, restartable on the same data folder and port."""

    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.data_dir.parent / f"milvus-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(
            [MILVUS_LITE, "server", "--data-dir", str(self.data_dir), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()

        def listening() -> bool:
            assert self.proc is not None and self.proc.poll() is None, "milvus-lite server exited"
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(listening, 60, "milvus-lite server to listen", 0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.proc = None


@contextmanager
def milvus_server(folder: Path) -> Iterator[MilvusServer]:
    """A `milvus-lite server` on a free loopback port, stopped at the end."""
    server = MilvusServer(folder / "milvus-data", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
