"""Reading documents to add from disk (the CLI's side): folders expanded, names and sizes checked first."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rag.corpus import META_SUFFIX
from rag.errors import CorpusError, TooLarge
from rag.ingest.records import Upload
from rag.parsers import source_suffixes


def expand_paths(paths: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(file, the folder it was given in) for each path; a folder stands for its source files."""
    out: list[tuple[Path, Path]] = []
    suffixes = source_suffixes()
    for path in paths:
        refuse_dotdot(path)
        if path.is_dir() and not path.is_symlink():
            out.extend(
                (p, path)
                for p in sorted(path.iterdir())
                if p.suffix.lower() in suffixes and not p.name.endswith(META_SUFFIX) and not p.name.startswith(".")
            )
        else:
            out.append((path, path.parent))
    return out


def read_upload(path: Path, folder: Path, max_bytes: int) -> Upload:
    """Read a file given on the command line, refusing names with `..`, symlinks out of `folder`, non-files."""
    refuse_dotdot(path)
    real = _inside(path, folder)
    info = real.stat()
    if not stat.S_ISREG(info.st_mode):
        raise CorpusError(path, "not a regular file")
    if info.st_size > max_bytes:
        raise too_large(path, info.st_size, max_bytes)
    with real.open("rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise too_large(path, len(data), max_bytes)
    meta: dict[str, Any] = {}
    side = path.with_name(path.name.split(".")[0] + META_SUFFIX)
    if side.exists() or side.is_symlink():
        side_real = _inside(side, folder)
        try:
            meta = json.loads(side_real.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CorpusError(side, f"metadata is not valid UTF-8 JSON ({exc})") from None
    return Upload(name=str(path), data=data, meta=meta)


def refuse_dotdot(path: Path | str) -> None:
    if ".." in Path(path).parts or ".." in Path(path).name:
        raise CorpusError(path, "names with `..` are refused")


def _inside(path: Path, folder: Path) -> Path:
    """The file a path leads to, refused when a symlink leads outside the folder it was given in."""
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        raise CorpusError(path, "no such file") from None
    except (OSError, RuntimeError) as exc:
        raise CorpusError(path, f"cannot be read ({exc})") from None
    base = folder.resolve()
    if not real.is_relative_to(base):
        raise CorpusError(path, f"the symlink leads outside {folder} (to {real}); refused")
    return real


def too_large(name: Path | str, size: int, limit: int) -> TooLarge:
    return TooLarge(name, f"the file is {size} bytes, over the limit of {limit} bytes (RAG_MAX_DOCUMENT_BYTES)")
