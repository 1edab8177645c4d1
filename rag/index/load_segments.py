"""Loading a generation of segments into an `Index`: segments are mapped, not parsed, and kept across reloads.

A segment already open in this process (the previous generation named it too) is taken as it is, so a
reload after `rag add` opens only the new segment, and the two generations share every other one in memory.
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path

import numpy as np

from rag.embedding import Embedder
from rag.errors import IndexUnavailable
from rag.index import layout
from rag.index.build import user_words
from rag.index.generations import FIX, SEGMENTS
from rag.index.keywords import KeywordTokenizer
from rag.index.layout import Manifest
from rag.index.load import FiledRows, Index, SourceTexts
from rag.index.segment import Segment, open_segment, verify_segment
from rag.index.segmented import ChunkSequence, Part, SegmentStore, make_parts
from rag.settings import Settings
from rag.speakers import Speaker, SpeakerRegistry

_open: weakref.WeakValueDictionary[tuple[str, str], Segment] = weakref.WeakValueDictionary()
_open_lock = threading.Lock()


def segment_for(segments_dir: Path, name: str, sha256: str, full_check: bool) -> Segment:
    """The open segment of that name and manifest checksum, opened (and checked) once per process."""
    key = (str(segments_dir.resolve() / name), sha256)
    with _open_lock:
        found = _open.get(key)
    if found is not None and not full_check:
        try:  # still what was checked: each file's size, inode and ctime against the stamp (no hashing)
            verify_segment(found.folder, found.manifest)
        except IndexUnavailable:
            with _open_lock:
                _open.pop(key, None)
            raise
        return found
    segment = open_segment(segments_dir, name, sha256, full_check)
    with _open_lock:
        _open[key] = segment
    return segment


def filed_rows(parts: list[Part]) -> FiledRows:
    """Rows by speaker key, by document and each question's answers, in global rows (deleted rows left out)."""
    by_speaker: dict[str, list[np.ndarray]] = {}
    by_document: dict[str, np.ndarray] = {}
    answers: dict[str, tuple[int, ...]] = {}

    def mapped(part: Part, rows: list[int]) -> np.ndarray:
        found = part.paragraphs.to_global(np.asarray(rows, dtype=np.int64))
        return found[found >= 0]

    for part in parts:
        seg = part.segment
        for key, rows in seg.rows_by_speaker.items():
            by_speaker.setdefault(key, []).append(mapped(part, rows))
        for slug, rows in seg.rows_by_document.items():
            found = mapped(part, rows)
            if len(found):
                by_document[slug] = found
        for question, rows in seg.answer_rows.items():
            found = mapped(part, rows)
            if len(found):
                answers[question] = tuple(int(r) for r in found)
    speakers = {k: np.unique(np.concatenate(v)) for k, v in by_speaker.items()}
    return {k: v for k, v in speakers.items() if len(v)}, by_document, answers


def load_segmented(settings: Settings, folder: Path, manifest: Manifest, embedder: Embedder, full_check: bool) -> Index:
    """The `Index` of a generation of segments (its own files were checked by the caller)."""
    segments_dir = settings.index_dir / SEGMENTS
    names = [r.name for r in manifest.segments]
    if len(set(names)) != len(names):
        raise IndexUnavailable(f"The index generation {folder.name} names a segment twice; {FIX}.")
    segments = [segment_for(segments_dir, r.name, r.sha256, full_check) for r in manifest.segments]
    for ref, segment in zip(manifest.segments, segments, strict=True):
        if len(segment) != ref.chunks or segment.manifest.embedder != manifest.embedder:
            raise IndexUnavailable(f"The index segment {ref.name} does not match generation {folder.name}; {FIX}.")
    parts = make_parts(segments, manifest.deleted)
    try:
        anchor_vectors = np.load(folder / layout.ANCHOR_VECTORS, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise IndexUnavailable(f"The index at {folder} cannot be read ({type(exc).__name__}); {FIX}.") from None
    documents = []
    speakers: list[Speaker] = []
    source_folders: dict[str, Path] = {}
    pinyin: dict[str, str] = {}
    for part in parts:
        dead = set(manifest.deleted.get(part.segment.name, ()))
        for stored in part.segment.documents:
            if stored.info.slug in dead:
                continue
            documents.append(stored.info)
            speakers.extend(stored.speakers)
            source_folders[stored.info.slug] = part.segment.folder / layout.SOURCES
        for key, word in part.segment.pinyin.items():
            pinyin.setdefault(key, word)
    chunks = ChunkSequence(parts)
    sentences = (
        np.concatenate([p.global_sentences() for p in parts]) if parts else np.zeros((0, 3), dtype=np.int32)
    ).astype(np.int32)
    store = SegmentStore(parts, embedder.dimension)
    if len(chunks) != manifest.counts.chunks or len(sentences) != manifest.counts.sentences:
        raise IndexUnavailable(f"The index at {folder} is inconsistent (counts differ from its manifest); {FIX}.")
    registry = SpeakerRegistry.from_speakers(speakers)
    return Index(
        folder=folder,
        manifest=manifest,
        chunks=chunks,
        documents=documents,
        registry=registry,
        store=store,
        tokenizer=KeywordTokenizer(user_words(registry.speakers)),
        sentences=sentences,
        sources=SourceTexts(source_folders, source_folders),
        embedder=embedder,
        anchor_vectors=anchor_vectors,
        pinyin=pinyin,
        row_of_id=chunks.row_of,
        filed_rows=filed_rows(parts),
    )
