"""Which server processes serve which generation: `index_dir/readers/<pid>.json`, written by each `Service`.

An admin change (`POST /documents`, `DELETE /documents/{id}`) publishes a generation, then waits until every
live server process reading this index serves it, so a 201 means the document is answerable whichever worker
the next question reaches. A process that died leaves a file naming a pid that no longer runs, and a copied
index folder carries files naming the original folder: both are skipped and removed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

READERS = "readers"


def _folder(index_dir: Path) -> Path:
    return index_dir / READERS


def announce(index_dir: Path, generation: str) -> None:
    """Record that this process serves `generation` (atomic replace of its file)."""
    folder = _folder(index_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{os.getpid()}.json"
    tmp = folder / f".{os.getpid()}.tmp"
    record = {"pid": os.getpid(), "generation": generation, "index_dir": str(index_dir.resolve())}
    tmp.write_text(json.dumps(record) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def withdraw(index_dir: Path) -> None:
    (_folder(index_dir) / f"{os.getpid()}.json").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def serving(index_dir: Path) -> dict[int, str]:
    """Live server processes and the generation each serves (files of dead ones are removed)."""
    out: dict[int, str] = {}
    here = str(index_dir.resolve())
    for path in _folder(index_dir).glob("*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            pid, generation, folder = int(data["pid"]), str(data["generation"]), str(data["index_dir"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if folder != here:  # copied along with the index folder: a reader of the original, not of this one
            path.unlink(missing_ok=True)
        elif _alive(pid):
            out[pid] = generation
        else:
            path.unlink(missing_ok=True)
    return out


def wait_until_served(index_dir: Path, generation: str, timeout: float) -> bool:
    """True once every live server process serves `generation`; False when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        if all(g == generation for g in serving(index_dir).values()):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
