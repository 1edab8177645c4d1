"""SIGKILL an index operation (build, add, remove, optimize) at a chosen point, in a process of its own.

The operation runs in a child Python that wraps the function it reaches at `point` so that it writes a
marker file and sleeps; the test then kills it with SIGKILL, exactly there, and inspects what is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rag import Settings
from support.waiting import wait_until

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent

KILL_SCRIPT = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
import rag.index.build, rag.index.generations, rag.index.merge, rag.index.segment, rag.index.sync, rag.ingest.store
from support.embedder import FakeEmbedder
from support.stores import FIXTURES
from rag import Settings, build_index
from rag.ingest.records import Upload
from rag.ingest.store import add_documents, remove_document

corpus, index, operation, point, marker, argument = sys.argv[1:7]

def pause():
    Path(marker).write_text(str(os.getpid()))
    time.sleep(300)

def pause_before(owner, attr, nth=1):
    original, calls = getattr(owner, attr), [0]
    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == nth:
            pause()
        return original(*args, **kwargs)
    setattr(owner, attr, wrapper)

embedder = FakeEmbedder()
if point == "locked":
    pause_before(rag.index.build, "cleanup")  # the build lock is held, nothing written yet
elif point == "embedding":
    pause_before(embedder, "embed_batch")
elif point == "corpus-changed":
    pause_before(rag.ingest.store, "_fsync_dir")  # the store has changed, the build has not started
elif point == "corpus-temp":
    pause_before(os, "replace")  # a stored file is written under its temporary name, not yet renamed
elif point == "writing":
    pause_before(rag.index.build.faiss, "write_index")  # half the generation's files are in the temporary folder
elif point == "segment-written":
    pause_before(rag.index.segment, "fsync_tree")  # a segment's files written under its temporary name
elif point == "generation-written":
    pause_before(rag.index.sync, "fsync_tree")  # its segment renamed into place, the generation's folder written
elif point == "renamed":
    pause_before(rag.index.sync, "publish")  # complete and renamed, CURRENT not yet replaced
elif point == "published":
    pause_before(rag.index.generations, "cleanup")  # inside publish: CURRENT replaced, stale generations not yet removed
else:
    raise SystemExit("unknown point " + point)
settings = Settings(corpus_dir=Path(corpus), index_dir=Path(index))
if operation == "build":
    build_index(settings, embedder)
elif operation == "add":
    add_documents(settings, [Upload(argument, (FIXTURES / argument).read_bytes())], embedder=embedder)
elif operation == "remove":
    remove_document(settings, argument, embedder=embedder)
elif operation == "optimize":
    rag.index.merge.optimize(settings, embedder, full=True)
"""

DEFAULT_ARGUMENT = {"build": "", "add": "zhaideng-plain.txt", "remove": "markdown-zh", "optimize": ""}


def kill_at(settings: Settings, tmp_path: Path, operation: str, point: str, argument: str | None = None) -> None:
    """Run `operation` (add: a fixture file name; remove: a document slug) and SIGKILL it at `point`."""
    script = tmp_path / "operate_and_pause.py"
    script.write_text(KILL_SCRIPT.format(tests=str(TESTS)), encoding="utf-8")
    marker = tmp_path / f"paused-{operation}-{point}-{time.monotonic_ns()}"
    argument = DEFAULT_ARGUMENT[operation] if argument is None else argument
    args = [str(settings.corpus_dir), str(settings.index_dir), operation, point, str(marker), argument]
    proc = subprocess.Popen(
        [sys.executable, str(script), *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )

    def paused() -> bool:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        return marker.exists()

    try:
        wait_until(paused, 120, f"the {operation} to reach {point}")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
