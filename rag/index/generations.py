"""The generation store: an index folder's immutable `gen-*` folders, the `CURRENT` pointer replaced
atomically, the build lock, clean-up, and the manifest every generation is checked against.

Layout of `RAG_INDEX_DIR`: `CURRENT` (the serving generation's name), `gen-<time>-<id>/` (complete,
immutable generations: a manifest naming their segments, and the few files of their own),
`segments/seg-<time>-<id>/` (immutable segments, shared by the generations that name them; rag/index/segment.py),
`.tmp-*` (a build in progress), `.lock`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from rag.errors import IndexFormatError, IndexUnavailable
from rag.index.layout import FORMAT_VERSION, MANIFEST, Manifest, read_manifest_json, sha256_file

CURRENT = "CURRENT"
SEGMENTS = "segments"  # the immutable segments generations name (rag/index/segment.py)
LOCK = ".lock"
FIX = "run `rag build --force` to rebuild it"


def fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with p.open("rb") as fh:
                os.fsync(fh.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One builder at a time per index folder (an advisory lock released when the process dies)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / LOCK).open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def cleanup_if_idle(index_dir: Path) -> list[str]:
    """`cleanup` when no build holds the lock (a running build cleans up itself); returns what was removed."""
    if not (index_dir / LOCK).exists():
        return []
    with (index_dir / LOCK).open("a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return []
        try:
            return cleanup(index_dir)
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def publish(index_dir: Path, folder: Path) -> None:
    """Make `folder` the serving generation: atomic replace of CURRENT, then drop stale generations."""
    previous = current_generation(index_dir)
    tmp = index_dir / f".{CURRENT}.{uuid.uuid4().hex}"
    tmp.write_text(folder.name + "\n", encoding="utf-8")
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / CURRENT)
    fd = os.open(index_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    cleanup(index_dir, keep=folder.name, previous=previous if previous != folder.name else None)


def current_generation(index_dir: Path) -> str | None:
    """Name of the serving generation, or None when nothing has been published."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return name or None


def cleanup(index_dir: Path, keep: str | None = None, keep_previous: int = 1, previous: str | None = None) -> list[str]:
    """Remove abandoned temporary folders and stale generations (call it under `build_lock`); returns names.

    Kept: the serving generation and the one that served before it (`previous`, or else the newest older
    ones). A complete generation a killed build left unpublished is removed.
    """
    current = keep or current_generation(index_dir)
    gens = sorted((p for p in index_dir.glob("gen-*") if p.is_dir()), key=lambda p: p.name)
    if previous is not None:
        kept = {previous}
    else:
        older = [g.name for g in gens if current is None or g.name < current]
        kept = set(older[max(0, len(older) - keep_previous) :]) if keep_previous > 0 else set()
    if current is not None:
        kept.add(current)
    removed: list[str] = []
    for p in gens:
        if p.name not in kept:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    for p in index_dir.glob(".tmp-*"):
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p.name)
    for p in index_dir.glob(f".{CURRENT}.*"):
        p.unlink(missing_ok=True)
    removed += cleanup_segments(index_dir, [g for g in gens if g.name in kept])
    return removed


def cleanup_segments(index_dir: Path, kept: list[Path]) -> list[str]:
    """Remove the segments no kept generation names, and segments a killed writer left half-written."""
    folder = index_dir / SEGMENTS
    if not folder.is_dir():
        return []
    referenced: set[str] = set()
    for gen in kept:
        try:
            data = read_manifest_json(gen)
            referenced.update(str(r["name"]) for r in data.get("segments", ()))
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return []  # a kept generation that cannot be read: keep every segment rather than guess
    removed = []
    for p in folder.iterdir():
        if p.name.startswith(".tmp-") or (p.is_dir() and p.name not in referenced):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(f"{SEGMENTS}/{p.name}")
    return removed


def read_manifest(folder: Path) -> Manifest:
    """A generation's manifest; refuses a missing, corrupt or other-format one with the fix."""
    try:
        data = read_manifest_json(folder)
    except FileNotFoundError:
        raise IndexUnavailable(f"The index at {folder} has no {MANIFEST}; {FIX}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise IndexUnavailable(f"The index manifest {folder / MANIFEST} is corrupt; {FIX}.") from None
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        found = data.get("format_version") if isinstance(data, dict) else None
        raise IndexFormatError(
            f"The index at {folder} has format version {found}, this program reads {FORMAT_VERSION}; {FIX}."
        )
    try:
        return Manifest.from_json(data)
    except ValueError as exc:
        raise IndexUnavailable(f"The index manifest {folder / MANIFEST} is corrupt ({exc}); {FIX}.") from None


def serving_folder(index_dir: Path) -> Path:
    """The folder of the serving generation; refuses when there is none."""
    name = current_generation(index_dir)
    if name is None:
        raise IndexUnavailable(f"No index found in {index_dir}; run `rag build` to create it.")
    folder = index_dir / name
    if not folder.is_dir():
        raise IndexUnavailable(f"The index generation {name} named by {index_dir / CURRENT} is missing; {FIX}.")
    return folder


def verify_files(folder: Path, manifest: Manifest) -> None:
    """Check every file's sha256 against the manifest."""
    if not manifest.files:
        raise IndexUnavailable(f"The index manifest in {folder} lists no files; {FIX}.")
    for rel, expected in manifest.files.items():
        path = folder / rel
        if not path.is_file():
            raise IndexUnavailable(f"The index file {rel} is missing from {folder}; {FIX}.")
        if sha256_file(path) != expected:
            raise IndexUnavailable(f"The index file {rel} in {folder} is corrupt (checksum mismatch); {FIX}.")
