"""Loading a generation of segments into an `Index`: segments are mapped, not parsed, and kept across reloads.

A segment already open in this process (the previous generation named it too) is taken as it is, so a
reload after `rag add` opens only the new segment, and the two generations share every other one in memory.
"""

from __future__ import annotations

import threading
import weakref
from itertools import chain
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
    """Rows by speaker key, by document and each question's answers, in global rows (deleted rows left out).

    Each segment's row lists are mapped to global rows in one array, not list by list: at 1 M paragraphs
    that is 20 arrays instead of 27 000 (0.35 s of a worker's start).
    """
    speaker_keys: dict[str, int] = {}
    speaker_ids: list[np.ndarray] = []
    speaker_rows: list[np.ndarray] = []
    by_document: dict[str, np.ndarray] = {}
    answers: dict[str, tuple[int, ...]] = {}
    for part in parts:
        seg = part.segment
        keys, rows, lengths = _flat(part, seg.rows_by_speaker)
        ids = np.array([speaker_keys.setdefault(k, len(speaker_keys)) for k in keys], dtype=np.int64)
        speaker_ids.append(np.repeat(ids, lengths))
        speaker_rows.append(rows)
        slugs, rows, lengths = _flat(part, seg.rows_by_document)
        for slug, found in zip(slugs, _split_live(rows, lengths), strict=True):
            if len(found):
                by_document[slug] = found
        questions, rows, lengths = _flat(part, seg.answer_rows)
        for question, found in zip(questions, _split_live(rows, lengths), strict=True):
            if len(found):
                answers[question] = tuple(int(r) for r in found)
    return _grouped(list(speaker_keys), speaker_ids, speaker_rows), by_document, answers


def _flat(part: Part, lists: dict[str, list[int]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The names, their rows as one array of global rows (-1 for a deleted one), and each name's count."""
    lengths = np.fromiter((len(v) for v in lists.values()), dtype=np.int64, count=len(lists))
    flat = np.fromiter(chain.from_iterable(lists.values()), dtype=np.int64, count=int(lengths.sum()))
    return list(lists), part.paragraphs.to_global(flat), lengths


def _split_live(rows: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    """`rows` cut into runs of `lengths`, each without its deleted (-1) rows."""
    if not len(lengths):
        return []
    live = rows >= 0
    live_before = np.r_[0, np.cumsum(live)]
    ends = np.cumsum(lengths)
    kept = live_before[ends] - live_before[ends - lengths]
    return np.split(rows[live], np.cumsum(kept)[:-1])


def _grouped(keys: list[str], ids: list[np.ndarray], rows: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Each key's sorted distinct live rows (a speaker's rows may come from several segments)."""
    if not keys:
        return {}
    all_ids, all_rows = np.concatenate(ids), np.concatenate(rows)
    live = all_rows >= 0
    all_ids, all_rows = all_ids[live], all_rows[live]
    order = np.lexsort((all_rows, all_ids))
    all_ids, all_rows = all_ids[order], all_rows[order]
    fresh = np.ones(len(all_ids), dtype=bool)
    fresh[1:] = (all_ids[1:] != all_ids[:-1]) | (all_rows[1:] != all_rows[:-1])
    all_ids, all_rows = all_ids[fresh], all_rows[fresh]
    bounds = np.searchsorted(all_ids, np.arange(len(keys) + 1))
    return {key: all_rows[bounds[i] : bounds[i + 1]] for i, key in enumerate(keys) if bounds[i + 1] > bounds[i]}


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
    for part in reversed(parts):  # the first segment naming a word wins, as in a merge
        pinyin.update(part.segment.pinyin)
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
