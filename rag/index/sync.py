"""Building local generations of segments: from scratch, or by bringing the serving one up to date with the corpus.

An up-to-date build costs what changed: the corpus files are fingerprinted (rag.corpus.corpus_state),
a file whose fingerprint no live document has is parsed and embedded into ONE new segment, a document
whose file is gone or changed is recorded as deleted, and a new generation naming the old segments
unchanged plus the new one is published atomically. Nothing else is read, parsed, embedded or rewritten.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.corpus import Document, corpus_files, corpus_state, load_corpus, read_document
from rag.embedding import Embedder
from rag.errors import CorpusError, IndexFormatError, IndexUnavailable
from rag.index import layout
from rag.index.build import Progress, VectorCache, anchors_digest, offtopic_anchors, user_words
from rag.index.generations import SEGMENTS, current_generation, fsync_tree, publish, read_manifest
from rag.index.keywords import KeywordTokenizer
from rag.index.layout import Counts, DenseIndexInfo, EmbedderRef, EmbeddingStats, Manifest, SegmentRef, sha256_file
from rag.index.postings import Postings
from rag.index.segment import (
    ROWS,
    SEGMENT_DOCUMENTS,
    SEGMENT_MANIFEST,
    SegmentManifest,
    StoredDocument,
    read_segment_manifest,
    stored_documents_of,
    verify_segment,
    write_segment,
)
from rag.index.segment_build import content_from_documents
from rag.settings import Settings, file_limits
from rag.speakers import Speaker, SpeakerRegistry

log = logging.getLogger("rag.index")


@dataclass
class LiveSegment:
    """A segment as the generation being written will name it: its documents and the slugs deleted from it."""

    ref: SegmentRef
    manifest: SegmentManifest
    folder: Path
    documents: list[StoredDocument]
    deleted: set[str] = field(default_factory=set)

    @property
    def live_documents(self) -> list[StoredDocument]:
        return [d for d in self.documents if d.info.slug not in self.deleted]

    def live_counts(self) -> tuple[int, int]:
        """(paragraphs, sentences) not deleted."""
        counts = self.manifest.counts
        if not self.deleted:
            return counts.chunks, counts.sentences
        rows = json.loads((self.folder / ROWS).read_text(encoding="utf-8"))["documents"]
        dead = np.zeros(counts.chunks, dtype=bool)
        for slug in self.deleted:
            dead[np.asarray(rows.get(slug, []), dtype=np.int64)] = True
        sentences = np.load(self.folder / layout.SENTENCES, mmap_mode="r", allow_pickle=False)
        live_sentences = int((~dead[np.asarray(sentences[:, 0], dtype=np.int64)]).sum()) if len(sentences) else 0
        return int((~dead).sum()), live_sentences


def read_live_segments(index_dir: Path, manifest: Manifest) -> list[LiveSegment]:
    """The segments a generation names, checked (stamped files are not hashed again), with its deletions."""
    out = []
    for ref in manifest.segments:
        folder = index_dir / SEGMENTS / ref.name
        if not (folder / SEGMENT_MANIFEST).is_file() or sha256_file(folder / SEGMENT_MANIFEST) != ref.sha256:
            raise IndexUnavailable(f"The index segment {ref.name} is missing or does not match its generation")
        seg_manifest = read_segment_manifest(folder)
        verify_segment(folder, seg_manifest)
        documents = [
            StoredDocument.from_json(d) for d in json.loads((folder / SEGMENT_DOCUMENTS).read_text(encoding="utf-8"))
        ]
        out.append(LiveSegment(ref, seg_manifest, folder, documents, set(manifest.deleted.get(ref.name, ()))))
    return out


def serving_segments(index_dir: Path, embedder: Embedder) -> tuple[Path, Manifest, list[LiveSegment]] | None:
    """The serving generation, when it is a local generation of segments this embedder can extend."""
    name = current_generation(index_dir)
    if name is None or not (index_dir / name).is_dir():
        return None
    try:
        manifest = read_manifest(index_dir / name)
        if not manifest.segments or manifest.milvus is not None:
            return None
        if manifest.embedder != EmbedderRef(embedder.id, embedder.dimension):
            return None
        return index_dir / name, manifest, read_live_segments(index_dir, manifest)
    except IndexFormatError:
        return None
    except (IndexUnavailable, OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("not extending generation %s (building from scratch): %s", name, exc)
        return None


def speakers_of(documents: list[StoredDocument]) -> list[Speaker]:
    return [s for d in documents for s in d.speakers]


def tokenizer_for(speakers: list[Speaker]) -> KeywordTokenizer:
    return KeywordTokenizer(user_words(SpeakerRegistry.from_speakers(speakers).speakers))


def new_segment(
    settings: Settings,
    embedder: Embedder,
    documents: list[Document],
    fingerprints: dict[str, str],
    others: list[LiveSegment],
    progress: Progress | None,
    cache: VectorCache | None = None,
) -> tuple[LiveSegment, tuple[int, int]]:
    """Embed and write one segment of `documents` beside the live segments `others`."""
    stored = stored_documents_of(documents, fingerprints, settings.corpus_dir if fingerprints else None)
    speakers = speakers_of([d for s in others for d in s.live_documents]) + speakers_of(stored)
    earlier = [Postings(s.folder) for s in others]
    total = sum(s.live_counts()[0] for s in others) + sum(len(d.chunks) for d in documents)
    content, write_postings, stats = content_from_documents(
        documents,
        stored,
        embedder,
        settings,
        tokenizer_for(speakers),
        lambda word: any(p.term_id(word) is not None for p in earlier),
        total,
        cache,
        progress,
    )
    if progress:
        progress("write", 0, 1)
    ref_embedder = EmbedderRef(embedder.id, embedder.dimension)
    manifest = write_segment(settings.index_dir / SEGMENTS, content, ref_embedder, write_postings)
    folder = settings.index_dir / SEGMENTS / manifest.name
    ref = SegmentRef(manifest.name, sha256_file(folder / SEGMENT_MANIFEST), manifest.counts.chunks)
    return LiveSegment(ref, manifest, folder, stored), stats


def publish_generation(
    settings: Settings,
    embedder: Embedder,
    segments: list[LiveSegment],
    corpus_digest: str,
    started: float,
    stats: tuple[int, int] = (0, 0),
    previous: Path | None = None,
    cache: VectorCache | None = None,
) -> Path:
    """Write a generation naming `segments` (with their deletions) and publish it; returns its folder."""
    index_dir = settings.index_dir
    now = time.time_ns()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 1_000_000_000))
    name = f"gen-{stamp}.{now % 1_000_000_000:09d}-{uuid.uuid4().hex[:6]}"  # sorts by time
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir(parents=True)
    anchors = offtopic_anchors()
    digest = anchors_digest(anchors)
    ref_embedder = EmbedderRef(embedder.id, embedder.dimension)
    _anchor_vectors(tmp, previous, anchors, digest, ref_embedder, embedder, settings, cache)
    live_docs = [d for s in segments for d in s.live_documents]
    counts = [s.live_counts() for s in segments]
    persons = {s.key for s in speakers_of(live_docs) if s.kind == "person"}
    largest = max(segments, key=lambda s: s.manifest.counts.chunks, default=None)
    manifest = Manifest(
        generation=name,
        embedder=ref_embedder,
        corpus_hash=corpus_digest,
        counts=Counts(len(live_docs), sum(c for c, _ in counts), sum(s for _, s in counts), len(persons)),
        dense_index=largest.manifest.dense_index if largest else DenseIndexInfo("flat-ip"),
        anchors_sha256=digest,
        embedding=EmbeddingStats(stats[0], stats[1], previous.name if previous and stats[1] else None),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        build_seconds=round(time.perf_counter() - started, 3),
        files=layout.checksums(tmp),
        segments=tuple(s.ref for s in segments),
        deleted={s.ref.name: sorted(s.deleted) for s in segments if s.deleted},
    )
    layout.write_manifest(tmp, manifest)
    fsync_tree(tmp)
    final = index_dir / name
    os.rename(tmp, final)
    publish(index_dir, final)
    return final


def _anchor_vectors(
    folder: Path,
    previous: Path | None,
    anchors: list[str],
    digest: str,
    ref: EmbedderRef,
    embedder: Embedder,
    settings: Settings,
    cache: VectorCache | None,
) -> None:
    """The off-topic anchors' vectors: linked from the previous generation when they are the same, else embedded."""
    target = folder / layout.ANCHOR_VECTORS
    if previous is not None:
        try:
            old = read_manifest(previous)
            source = previous / layout.ANCHOR_VECTORS
            if (
                old.anchors_sha256 == digest
                and old.embedder == ref
                and sha256_file(source) == old.files.get(layout.ANCHOR_VECTORS)
            ):
                try:
                    os.link(source, target)
                except OSError:
                    shutil.copyfile(source, target)
                return
        except (IndexUnavailable, OSError):
            pass
    vectors, _, _ = (cache or VectorCache()).embed(anchors, embedder, settings.embed_batch_size)
    layout.write_matrix(target, vectors)


def build_from_scratch(
    settings: Settings,
    embedder: Embedder,
    documents: list[Document],
    corpus_digest: str,
    fingerprints: dict[str, str],
    progress: Progress | None = None,
    cache: VectorCache | None = None,
) -> Path:
    """One segment of every document, in a new generation."""
    started = time.perf_counter()
    segment, stats = new_segment(settings, embedder, documents, fingerprints, [], progress, cache)
    return publish_generation(settings, embedder, [segment], corpus_digest, started, stats, cache=cache)


def bring_up_to_date(settings: Settings, embedder: Embedder, progress: Progress | None = None) -> Path:
    """Extend the serving generation with what changed in the corpus (a full build when it cannot be extended)."""
    started = time.perf_counter()
    index_dir = settings.index_dir
    digest, fingerprints = corpus_state(settings.corpus_dir)
    serving = serving_segments(index_dir, embedder)
    if serving is None:
        docs = load_corpus(settings.corpus_dir, file_limits(settings))
        return build_from_scratch(settings, embedder, docs, digest, fingerprints, progress)
    folder, manifest, segments = serving
    live = {d.info.file: (s, d) for s in segments for d in s.live_documents}
    gone = [(s, d) for file, (s, d) in live.items() if fingerprints.get(file) != d.fingerprint]
    new_files = [f for f, fp in fingerprints.items() if f not in live or live[f][1].fingerprint != fp]
    if not gone and not new_files:
        if digest == manifest.corpus_hash:
            return folder
        return publish_generation(settings, embedder, segments, digest, started, previous=folder)
    for s, d in gone:
        s.deleted.add(d.info.slug)
    documents = _parse(settings, new_files, {d.info.slug: d.info.file for s in segments for d in s.live_documents})
    stats = (0, 0)
    if documents:
        segment, stats = new_segment(settings, embedder, documents, fingerprints, segments, progress)
        segments = [*segments, segment]
    segments = [s for s in segments if s.live_documents]
    if not segments:
        raise CorpusError(settings.corpus_dir, "the corpus folder has no source documents")
    log.info("generation extended: %d document(s) added, %d deleted", len(documents), len(gone))
    return publish_generation(settings, embedder, segments, digest, started, stats, previous=folder)


def _parse(settings: Settings, files: list[str], slugs: dict[str, str]) -> list[Document]:
    """Parse the named corpus files (the others are already indexed); slugs must stay unique."""
    limits = file_limits(settings)
    wanted = set(files)
    documents = []
    for path in corpus_files(settings.corpus_dir):
        if path.name not in wanted:
            continue
        doc = read_document(path, limits)
        if doc.info.slug in slugs:
            raise CorpusError(path, f"document slug `{doc.info.slug}` is also used by {slugs[doc.info.slug]}")
        slugs[doc.info.slug] = path.name
        documents.append(doc)
    return documents
