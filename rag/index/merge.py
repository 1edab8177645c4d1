"""Merging segments: the tiered policy, one merge, and `rag optimize`.

Policy (Lucene's tiered merge, simplified): segments are grouped in tiers by size (a tier spans a factor
of `MERGE_FACTOR`); a tier holding `MERGE_FACTOR` or more segments has its smallest `MERGE_FACTOR` merged
into one, unless the result would pass `RAG_MAX_SEGMENT_PARAGRAPHS`; a segment with more than a fifth of
its paragraphs deleted is rewritten without them. `rag optimize --full` merges everything into one segment.

A merge re-embeds nothing and re-tokenises nothing: records, vectors and postings are copied from the
inputs without their deleted rows. The dense index is retrained only when it pays: an IVF input holding
most of the result lends its trained centroids; otherwise the merged vectors get the index their count
calls for (exact up to the threshold). The merged segment is published in a new generation like any
other, so a merge killed at any point leaves the previous generation serving, and the next clean-up
removes what it had written.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.corpus import Chunk
from rag.embedding import Embedder
from rag.index import layout, postings
from rag.index.build import make_dense_index
from rag.index.generations import SEGMENTS, build_lock, cleanup
from rag.index.layout import DenseIndexInfo, SegmentRef, sha256_file
from rag.index.load import filed_row_lists
from rag.index.segment import SEGMENT_MANIFEST, Segment, SegmentContent, open_segment, write_segment
from rag.index.sync import LiveSegment, publish_generation, serving_segments
from rag.settings import Settings

MERGE_FACTOR = 10
EXPUNGE_SHARE = 0.2  # deleted share above which a segment is rewritten


@dataclass(frozen=True)
class OptimizeReport:
    generation: str | None  # the generation published, None when nothing needed merging
    merges: tuple[tuple[int, int], ...]  # (segments merged, paragraphs in the result) per merge
    segments_before: int
    segments_after: int
    seconds: float


def live_size(s: LiveSegment) -> int:
    return s.live_counts()[0]


def plan_merge(
    segments: list[LiveSegment], settings: Settings, full: bool = False, limit: int | None = None
) -> list[int]:
    """Indices (into `segments`) of the next merge (its result at most `limit` paragraphs); empty when none is due."""
    if full:
        needs = len(segments) > 1 or any(s.deleted for s in segments)
        return list(range(len(segments))) if needs else []
    limit = min(settings.max_segment_paragraphs, limit if limit is not None else settings.max_segment_paragraphs)
    for i, s in enumerate(segments):
        if s.deleted and 1 - live_size(s) / max(1, s.manifest.counts.chunks) > EXPUNGE_SHARE:
            return [i]
    tiers: dict[int, list[int]] = {}
    for i, s in enumerate(segments):
        tiers.setdefault(int(math.log(max(1, live_size(s)), MERGE_FACTOR)), []).append(i)
    for tier in sorted(tiers):
        members = sorted(tiers[tier], key=lambda i: live_size(segments[i]))
        if len(members) >= MERGE_FACTOR:
            chosen = members[:MERGE_FACTOR]
            if sum(live_size(segments[i]) for i in chosen) <= limit:
                return sorted(chosen)
    return []


def _dense_for(
    inputs: list[tuple[Segment, np.ndarray]], vectors: np.ndarray, threshold: int
) -> tuple[Any, DenseIndexInfo]:
    """The merged dense index: an IVF input's trained centroids when it holds most of the rows, else a new one."""
    n = len(vectors)
    biggest = max(inputs, key=lambda item: len(item[1]))
    info = biggest[0].manifest.dense_index
    if n > threshold and info.type.startswith("ivf") and len(biggest[1]) * 2 >= n:
        trained = faiss.read_index(str(biggest[0].folder / layout.DENSE))
        trained.reset()
        trained.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return trained, info
    return make_dense_index(vectors, threshold)


def merge(settings: Settings, embedder: Embedder, chosen: list[LiveSegment]) -> LiveSegment:
    """Write one segment holding the live rows of `chosen`, in their order."""
    segments_dir = settings.index_dir / SEGMENTS
    opened = [(open_segment(segments_dir, s.ref.name, s.ref.sha256), s) for s in chosen]
    chunks: list[Chunk] = []
    vectors = []
    sentences = []
    sentence_vectors = []
    terms: dict[str, int] = {}
    term_ids, rows, freqs, lengths = [], [], [], []
    documents = []
    sources = []
    pinyin: dict[str, str] = {}
    inputs = []
    offset = 0
    for segment, live in opened:
        keep = np.ones(len(segment), dtype=bool)
        for slug in live.deleted:
            keep[np.asarray(segment.rows_by_document.get(slug, []), dtype=np.int64)] = False
        local = np.flatnonzero(keep)
        new_row = np.full(len(segment), -1, dtype=np.int64)
        new_row[local] = offset + np.arange(len(local))
        inputs.append((segment, local))
        chunks.extend(segment.chunks[int(r)] for r in local)
        vectors.append(segment.vectors[local] if len(local) else np.zeros((0, segment.vectors.shape[1]), np.float32))
        own = segment.sentences
        kept = keep[own[:, 0]] if len(own) else np.zeros(0, dtype=bool)
        moved = np.array(own[kept], dtype=np.int32).reshape(-1, 3)
        moved[:, 0] = new_row[moved[:, 0]]
        sentences.append(moved)
        kept_rows = np.flatnonzero(kept)
        sentence_vectors.append(
            segment.sentence_vectors[kept_rows]
            if len(kept_rows)
            else np.zeros((0, segment.vectors.shape[1]), np.float32)
        )
        p = segment.postings
        term_map = np.asarray([terms.setdefault(t, len(terms)) for t in p.term_texts()], dtype=np.int64)
        of_term = np.repeat(np.arange(len(p.terms)), p.doc_freqs())
        post_rows = new_row[np.asarray(p.rows, dtype=np.int64)]
        alive = post_rows >= 0
        term_ids.append(term_map[of_term[alive]] if len(term_map) else np.zeros(0, dtype=np.int64))
        rows.append(post_rows[alive])
        freqs.append(np.asarray(p.tf)[alive])
        lengths.append(np.asarray(p.doc_len)[local])
        for d in segment.documents:
            if d.info.slug not in live.deleted:
                documents.append(d)
                sources.append(
                    (d.info.slug, (segment.folder / layout.SOURCES / f"{d.info.slug}.txt").read_text("utf-8"))
                )
        for key, word in segment.pinyin.items():
            pinyin.setdefault(key, word)
        offset += len(local)
    merged_vectors = np.concatenate(vectors)
    dense, dense_info = _dense_for(inputs, merged_vectors, settings.dense_index_threshold)
    content = SegmentContent(
        documents=documents,
        chunks=chunks,
        sources=sources,
        vectors=merged_vectors,
        sentences=np.concatenate(sentences),
        sentence_vectors=np.concatenate(sentence_vectors),
        dense=dense,
        dense_info=dense_info,
        pinyin=pinyin,
        rows=filed_row_lists(chunks),
    )
    words = list(terms)

    def write_postings(folder: Path) -> None:
        postings.write_arrays(
            folder, words, np.concatenate(term_ids), np.concatenate(rows).astype(np.int32),
            np.concatenate(freqs), np.concatenate(lengths),
        )  # fmt: skip

    manifest = write_segment(
        segments_dir, content, chosen[0].manifest.embedder, write_postings, tuple(s.ref.name for s in chosen)
    )
    folder = segments_dir / manifest.name
    ref = SegmentRef(manifest.name, sha256_file(folder / SEGMENT_MANIFEST), manifest.counts.chunks)
    return LiveSegment(ref, manifest, folder, documents)


def optimize(settings: Settings, embedder: Embedder, full: bool = False) -> OptimizeReport:
    """Merge segments while the policy asks for it (everything into one with `full`), publishing each merge."""
    with build_lock(settings.index_dir):
        cleanup(settings.index_dir)
        return optimize_under_lock(settings, embedder, full)


def optimize_under_lock(
    settings: Settings, embedder: Embedder, full: bool = False, limit: int | None = None
) -> OptimizeReport:
    """`optimize` for a caller holding the build lock; `limit` bounds each merge's result (small merges only)."""
    started = time.perf_counter()
    merges: list[tuple[int, int]] = []
    serving = serving_segments(settings.index_dir, embedder)
    if serving is None:
        from rag.errors import IndexUnavailable

        raise IndexUnavailable(
            f"No local index of segments in {settings.index_dir} to optimize; run `rag build` first."
        )
    folder, manifest, segments = serving
    before = len(segments)
    published = None
    while chosen := plan_merge(segments, settings, full, limit):
        t = time.perf_counter()
        merged = merge(settings, embedder, [segments[i] for i in chosen])
        at = chosen[0]
        segments = [s for i, s in enumerate(segments) if i not in chosen]
        segments.insert(at, merged)
        published = publish_generation(settings, embedder, segments, manifest.corpus_hash, t, previous=folder)
        folder = published
        merges.append((len(chosen), merged.manifest.counts.chunks))
        full = False  # one full merge leaves a single segment
    return OptimizeReport(
        published.name if published else None,
        tuple(merges),
        before,
        len(segments),
        round(time.perf_counter() - started, 3),
    )
