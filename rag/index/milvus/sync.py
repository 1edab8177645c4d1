"""This machine's copy of the serving Milvus generation's metadata files (paragraph records, sources, terms).

Every API machine reads the alias, and fetches a generation it does not have yet from its files collection
into `<index dir>/milvus/<prefix>/<generation>/` (written to a temporary folder, checked against the
manifest, renamed into place), so workers on any machine need only the Milvus address.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from rag.errors import IndexUnavailable
from rag.index import layout
from rag.index.generations import fsync_tree, read_manifest, verify_files
from rag.index.milvus.connection import Names, client, milvus_uri, reaching, serving_generation
from rag.settings import Settings

KEEP_COPIES = 2


def copies_dir(settings: Settings) -> Path:
    return settings.index_dir / "milvus" / settings.milvus_prefix


def serving_copy(settings: Settings) -> Path:
    """The local folder of the generation Milvus serves, fetched first when this machine lacks it."""
    name = serving_generation(settings)
    if name is None:
        raise IndexUnavailable(
            f"No index in Milvus at {milvus_uri(settings)} under prefix {settings.milvus_prefix!r}; "
            "run `rag build` with RAG_BACKEND=milvus to create it."
        )
    folder = copies_dir(settings) / name
    if (folder / layout.MANIFEST).is_file():
        return folder
    fetch(settings, name, folder)
    prune(settings, keep=name)
    return folder


def check_for_serving(settings: Settings, build: Callable[[], object]) -> None:
    """Before `rag serve`: fetch and verify the generation Milvus serves; build one only when there is none
    and this machine has the corpus (an API machine needs only the Milvus settings)."""
    if serving_generation(settings) is None and settings.corpus_dir.is_dir():
        build()
        return
    serving_copy(settings)


def fetch(settings: Settings, name: str, folder: Path) -> None:
    """Write the generation's files from Milvus into `folder` (atomically: a temporary folder renamed)."""
    collection = Names(settings.milvus_prefix).generation(name).files
    milvus = client(settings)
    pieces: dict[str, dict[int, str]] = {}
    with reaching(settings):
        milvus.load_collection(collection)
        iterator = milvus.query_iterator(collection, batch_size=256, filter="row >= 0", output_fields=["path", "part", "data"])
        try:
            while batch := iterator.next():
                for row in batch:
                    pieces.setdefault(row["path"], {})[int(row["part"])] = row["data"]
        finally:
            iterator.close()
    if layout.MANIFEST not in pieces:
        raise IndexUnavailable(f"The Milvus generation {name} has no manifest; run `rag build --force` to rebuild it.")
    tmp = folder.parent / f".tmp-{name}-{uuid.uuid4().hex[:6]}"
    try:
        for rel, parts in pieces.items():
            if sorted(parts) != list(range(len(parts))):
                raise IndexUnavailable(f"The Milvus generation {name} lacks part of {rel}; run `rag build --force`.")
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode("".join(parts[i] for i in range(len(parts)))))
        verify_files(tmp, read_manifest(tmp))
        json.loads((tmp / layout.TERMS).read_text(encoding="utf-8"))
        fsync_tree(tmp)
        os.rename(tmp, folder)
    except FileExistsError:
        pass  # another worker fetched it meanwhile
    except OSError as exc:
        if not (folder / layout.MANIFEST).is_file():
            raise IndexUnavailable(f"The Milvus generation {name} cannot be copied to {folder} ({exc}).") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def prune(settings: Settings, keep: str) -> None:
    """Remove older local copies (the newest few stay for a reader still answering from one)."""
    found = sorted((p for p in copies_dir(settings).glob("gen-*") if p.is_dir()), key=lambda p: p.name)
    for old in [p for p in found if p.name != keep][:-KEEP_COPIES]:
        shutil.rmtree(old, ignore_errors=True)
