"""Adding and removing documents: validate first, store under server-chosen names, re-index incrementally.

The corpus store (`RAG_CORPUS_DIR`) is the source of truth and the index follows it:

1. Every given document is validated before anything is written: name, size, encoding, format, at least one
   speaker paragraph, metadata. A refusal leaves corpus and index exactly as they were.
2. Content already in the store (same text, whatever the file name) is a no-op that says so.
3. Under the index's build lock, the source is copied into the store as `<slug><suffix>` beside
   `<slug>.meta.json` (title, date, source, slug, known speakers), each written to a temporary name and renamed.
4. A new generation is built reusing every vector the serving one already has (only new paragraphs and
   sentences are embedded) and published atomically. If the build fails the store is put back as it was;
   if the process is killed, the previous generation keeps serving and the next build picks the change up.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from rag.corpus import META_SUFFIX
from rag.embedding import Embedder
from rag.errors import Conflict, CorpusError, IngestError, RagError, StoreBroken, UnknownDocument
from rag.index.build import Progress, build_under_lock
from rag.index.generations import build_lock, read_manifest
from rag.index.load import index_status
from rag.ingest.check import prepare, stored_documents, summary
from rag.ingest.records import NO_FIELDS, Added, AddReport, DocumentSummary, Fields, Prepared, RemoveReport, Upload
from rag.settings import Settings

log = logging.getLogger("rag.ingest")


def remove_abandoned_writes(corpus_dir: Path) -> None:
    """Delete temporary files left by writes that were killed (callers hold the build lock)."""
    for tmp in corpus_dir.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            raise Conflict(f"{path.name} appeared in the corpus meanwhile; nothing was added")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _embedding_counts(folder: Path) -> tuple[int, int]:
    stats = read_manifest(folder).embedding
    return stats.embedded, stats.reused


def add_documents(
    settings: Settings,
    uploads: Sequence[Upload],
    fields: Fields = NO_FIELDS,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> AddReport:
    """Validate, store and index documents; duplicates are reported and skipped. All or nothing."""
    from rag.embedding import get_embedder

    prepared = prepare(settings, uploads, fields)  # refusals happen here, before any lock or write
    embedder = embedder or get_embedder(settings)
    progress = within_time_limit(settings.add_seconds, progress)
    if all(p.duplicate_of is not None for p in prepared) and not _index_behind(settings, embedder):
        return AddReport(tuple(_result(p) for p in prepared))
    with build_lock(settings.index_dir):
        prepared = prepare(settings, uploads, fields)  # the store may have changed while waiting for the lock
        new = [p for p in prepared if p.duplicate_of is None]
        if new:
            folder = _store_and_build(settings, new, embedder, progress)
        elif _index_behind(settings, embedder):
            # Stored by an add that was killed before it published: finish that add now.
            folder = _build(settings, embedder, progress)
        else:
            return AddReport(tuple(_result(p) for p in prepared))
        embedded, reused = _embedding_counts(folder)  # read before a merge may retire the add's generation
        serving = _merge_small(settings, embedder, folder)
    return AddReport(tuple(_result(p) for p in prepared), serving.name, embedded, reused)


def within_time_limit(seconds: float, progress: Progress | None) -> Progress:
    """`progress`, raising IngestError once `seconds` have passed (the add is then undone by its caller)."""
    deadline = time.monotonic() + seconds

    def report(stage: str, done: int, total: int) -> None:
        if time.monotonic() > deadline:
            raise IngestError(
                f"indexing took longer than {seconds:g} s (RAG_ADD_SECONDS) and was undone; "
                "add fewer or shorter documents at a time"
            )
        if progress is not None:
            progress(stage, done, total)

    return report


def _store_and_build(settings: Settings, new: list[Prepared], embedder: Embedder, progress: Progress | None) -> Path:
    """Write the new documents into the store and build; a failed build takes them out again."""
    corpus_dir = settings.corpus_dir
    corpus_dir.mkdir(parents=True, exist_ok=True)
    remove_abandoned_writes(corpus_dir)
    written: list[Path] = []
    try:
        for p in new:
            meta_path = corpus_dir / (p.stored_name.split(".")[0] + META_SUFFIX)
            _write_atomic(meta_path, (json.dumps(p.meta, ensure_ascii=False, indent=2) + "\n").encode())
            written.append(meta_path)
            _write_atomic(corpus_dir / p.stored_name, p.upload.data)
            written.append(corpus_dir / p.stored_name)
        _fsync_dir(corpus_dir)
        return _build(settings, embedder, progress)
    except BaseException:
        for path in reversed(written):  # the source first: the document disappears in one step
            path.unlink(missing_ok=True)
        raise


def _build(settings: Settings, embedder: Embedder, progress: Progress | None) -> Path:
    """Build from the store (under the lock the caller holds); a stored document that fails is the store's fault."""
    try:
        return build_under_lock(settings, embedder, progress=progress, reuse_vectors=True)
    except CorpusError as exc:
        raise StoreBroken(f"the corpus store cannot be indexed: {exc}") from exc


def _merge_small(settings: Settings, embedder: Embedder, folder: Path) -> Path:
    """Small merges the tiered policy asks for after an add or remove (`RAG_MERGE_AFTER_ADD_PARAGRAPHS`).

    Each merge publishes its own generation; a merge that fails leaves the add's generation serving (the
    change is in the index either way) and is reported in the log, for `rag optimize` to finish.
    """
    if settings.backend != "local" or settings.merge_after_add_paragraphs <= 0:
        return folder
    from rag.index.merge import optimize_under_lock

    try:
        report = optimize_under_lock(settings, embedder, limit=settings.merge_after_add_paragraphs)
    except (RagError, OSError, ValueError, RuntimeError) as exc:
        log.error("merging small segments after the change failed (run `rag optimize`): %s", exc)
        return folder
    return folder if report.generation is None else folder.parent / report.generation


def _index_behind(settings: Settings, embedder: Embedder) -> bool:
    """True when the serving index was built from another state of the store than the current one."""
    return index_status(settings, embedder.id) == "corpus-changed"


def _result(p: Prepared) -> Added:
    if p.duplicate_of is not None:
        return Added("duplicate", p.upload.name, p.duplicate_of)
    return Added("added", p.upload.name, summary(p.document))


def remove_document(settings: Settings, slug: str, embedder: Embedder | None = None) -> RemoveReport:
    """Take a document out of the store and publish a generation without it (no embedding needed)."""
    from rag.embedding import get_embedder

    embedder = embedder or get_embedder(settings)
    with build_lock(settings.index_dir):
        remove_abandoned_writes(settings.corpus_dir)
        documents, _, _ = stored_documents(settings.corpus_dir, settings.index_dir)
        target = next((d for d in documents if d.info.slug == slug), None)
        if target is None:
            known = ", ".join(sorted(d.info.slug for d in documents)) or "(none)"
            raise UnknownDocument(f"no document `{slug}` in the corpus; known documents: {known}")
        if len(documents) == 1:
            raise Conflict(f"`{slug}` is the only document; the index needs at least one (add another first)")
        source = settings.corpus_dir / target.info.file
        meta = settings.corpus_dir / (target.info.file.split(".")[0] + META_SUFFIX)
        saved = [(path, path.read_bytes()) for path in (source, meta) if path.is_file()]
        try:
            for path, _ in saved:
                path.unlink()
            _fsync_dir(settings.corpus_dir)
            folder = _build(settings, embedder, None)
        except BaseException:
            for path, data in reversed(saved):  # the metadata first, then the source that makes it a document
                _write_atomic(path, data)
            raise
        folder = _merge_small(settings, embedder, folder)
    return RemoveReport(target.summary, folder.name)


def list_documents(settings: Settings) -> list[DocumentSummary]:
    """Every document in the store (from the index when it holds exactly the store's files, else parsed)."""
    documents, _, _ = stored_documents(settings.corpus_dir, settings.index_dir)
    return [d.summary for d in documents]
