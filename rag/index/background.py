"""Rebuilding while the last good generation serves: what `rag serve` does when the index is stale or missing.

A server never builds before it listens (a corpus a build chokes on would keep its port closed): it serves
the generation CURRENT names and starts `rag build` in a process of its own, with a time limit
(RAG_REBUILD_SECONDS). Every worker's hot reload picks the new generation up when it is published. The build
holds the index folder's build lock while it runs, which is how `/readyz` knows one is under way
(`build_in_progress`); how the last background build ended is written to `index_dir/last-build.json`
(`BuildOutcome`), so a failed or timed-out build is reported and the next start tries again.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.index.generations import LOCK
from rag.settings import Settings

log = logging.getLogger("rag.index.background")
OUTCOME = "last-build.json"
BUILD_LOG = "last-build.log"
PASSED_ON = ("corpus_dir", "index_dir", "embedder", "embedding_model", "embed_batch_size")


@dataclass(frozen=True)
class BuildOutcome:
    """How the last background build ended (`ok`), when, and why it failed (the log's last lines)."""

    ok: bool
    finished: str
    reason: str
    error: str = ""

    def write(self, index_dir: Path) -> None:
        tmp = index_dir / f".{OUTCOME}.{os.getpid()}"
        tmp.write_text(json.dumps(asdict(self), ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, index_dir / OUTCOME)

    @classmethod
    def read(cls, index_dir: Path) -> BuildOutcome | None:
        try:
            data = json.loads((index_dir / OUTCOME).read_text(encoding="utf-8"))
            return cls(bool(data["ok"]), str(data["finished"]), str(data["reason"]), str(data.get("error", "")))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def build_in_progress(index_dir: Path) -> bool:
    """True while some process (a background build, `rag build`, an add) holds the index folder's build lock."""
    try:
        fh = (index_dir / LOCK).open("rb")
    except OSError:
        return False
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False


def start_rebuild(settings: Settings, reason: str) -> subprocess.Popen[bytes]:
    """Start `rag build` in its own process; a thread waits for it (at most RAG_REBUILD_SECONDS) and records
    the outcome. The process is killed when this one exits."""
    index_dir = settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **{f"RAG_{name.upper()}": str(getattr(settings, name)) for name in PASSED_ON}}
    with (index_dir / BUILD_LOG).open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "build"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C meant for the server is the server's to pass on
        )
    log.warning("rebuilding the index in the background (%s), process %d", reason, proc.pid)
    hidden = tuple(str(p.resolve()) for p in (settings.corpus_dir, index_dir))
    threading.Thread(
        target=_wait, args=(proc, settings.rebuild_seconds, index_dir, reason, hidden), name="rag-rebuild", daemon=True
    ).start()
    return proc


def _wait(proc: subprocess.Popen[bytes], seconds: float, index_dir: Path, reason: str, hidden: tuple[str, ...]) -> None:
    try:
        code = proc.wait(timeout=seconds)
        error = "" if code == 0 else f"`rag build` exited with status {code}: {_tail(index_dir / BUILD_LOG)}"
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        error = f"`rag build` took longer than {seconds:g} s (RAG_REBUILD_SECONDS) and was stopped"
    for path in hidden:  # /readyz shows the error to anyone: file names, never the server's folders
        error = error.replace(path + os.sep, "")
    finished = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    BuildOutcome(ok=not error, finished=finished, reason=reason, error=error).write(index_dir)
    if error:
        log.error("background rebuild failed; the previous generation keeps serving: %s", error)
    else:
        log.info("background rebuild finished; the servers load the new generation")


def stop_rebuild(proc: subprocess.Popen[bytes]) -> None:
    """Stop a background build that is still running (a killed build leaves no partial generation)."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())[:500]
