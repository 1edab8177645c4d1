"""Build stage: embed a corpus and write it as one complete index generation, then publish it.

Builds may be incremental: a text (paragraph, sentence or off-topic anchor) whose exact bytes the serving
generation already embedded with the same embedder reuses that vector, found by the sha256 of the text, once
the files it comes from pass their manifest checksums. A plain `build_index` (`rag build`) re-embeds everything.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.corpus import Chunk, Document, corpus_hash, corpus_state, load_corpus
from rag.embedding import Embedder
from rag.errors import IndexFormatError, IndexUnavailable
from rag.index import layout
from rag.index.generations import (
    SEGMENTS,
    build_lock,
    cleanup,
    current_generation,
    fsync_tree,
    publish,
    read_manifest,
)
from rag.index.keywords import KeywordIndex, KeywordTokenizer
from rag.index.layout import Counts, DenseIndexInfo, EmbedderRef, EmbeddingStats, Manifest, read_chunks, sha256_file
from rag.index.pinyin import PINYIN_PAIR_LIMIT, build_pinyin_lexicon
from rag.script import to_simplified
from rag.settings import Settings, file_limits
from rag.speakers import Speaker, SpeakerRegistry

Progress = Callable[[str, int, int], None]
IVF_PROBE_DIVISOR = 3  # an IVF query scans nlist / 3 lists: recall@10 ≥ 0.99 at 1 M paragraphs (bench/RESULTS.md),
IVF_MIN_SCANNED = 25_000  # and lists holding at least this many paragraphs (a small segment's are short)
PROJECTED_VARIANCE = 0.96  # share of the vectors' variance the IVF codes keep (e5-small: 96 of 384 dimensions)
PROJECTION_SAMPLE = 100_000  # vectors the projection is computed from
log = logging.getLogger("rag.index")

ANCHORS_FILE = Path(__file__).resolve().parent.parent / "data" / "offtopic_anchors.txt"


def offtopic_anchors() -> list[str]:
    """Everyday off-topic sentences (a data file) used as the "not about the speeches" reference."""
    lines = ANCHORS_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def user_words(speakers: list[Speaker]) -> list[str]:
    """Words jieba must keep whole: names, organisations and their aliases."""
    words: set[str] = set()
    for s in speakers:
        words.update(to_simplified(a) for a in (*s.person_aliases(), *s.org_names()) if a and " " not in a)
    return sorted(words)


def pinyin_for(chunks: list[Chunk], keyword: KeywordIndex, tokenizer: KeywordTokenizer) -> dict[str, str]:
    """The generation's pinyin lexicon: its vocabulary, plus word pairs for corpora up to PINYIN_PAIR_LIMIT."""
    paragraphs = chunks if len(chunks) <= PINYIN_PAIR_LIMIT else []
    return build_pinyin_lexicon(
        keyword.vocabulary_by_frequency(), ([w for w, _ in tokenizer.words(c.text)] for c in paragraphs)
    )


def projection(vectors: np.ndarray) -> Any:
    """The main directions of the vectors, as many (a multiple of 16) as hold PROJECTED_VARIANCE of their variance.

    The directions are the uncentred ones on purpose: the vectors' common direction is kept, so the
    product of two projected vectors approximates their inner product itself. The count is read from the
    variance (what tells vectors apart) and follows the model: e5-small's vectors need 96 of their 384
    dimensions; a model whose variance is spread evenly keeps (nearly) all of its own.
    """
    n, dim = vectors.shape
    sample = np.random.default_rng(1).choice(n, size=min(n, PROJECTION_SAMPLE), replace=False)
    rows = np.asarray(vectors[np.sort(sample)], dtype=np.float64)
    _, directions = np.linalg.eigh(rows.T @ rows / len(rows))  # ascending energy
    directions = directions[:, ::-1]
    variance = np.clip(np.linalg.eigvalsh(np.cov(rows, rowvar=False))[::-1], 0, None)
    share = np.cumsum(variance) / max(float(variance.sum()), 1e-12)
    needed = int(np.searchsorted(share, PROJECTED_VARIANCE)) + 1
    dimensions = min(dim, max(16, -(-needed // 16) * 16))
    matrix = np.ascontiguousarray(directions[:, :dimensions].T, dtype=np.float32)
    transform = faiss.LinearTransform(dim, dimensions, False)
    faiss.copy_array_to_vector(matrix.ravel(), transform.A)
    transform.is_trained = True
    return transform


def make_dense_index(vectors: np.ndarray, threshold: int) -> tuple[Any, DenseIndexInfo]:
    """Exact inner-product search up to `threshold` paragraphs; above it a projected IVF index of 8-bit codes.

    Chosen by measurement (bench/RESULTS.md, "The dense index at 1 M, second pass"): exact search costs
    ~0.1 ms per 1 000 paragraphs on 2 cores, so past the threshold it outgrows the rest of the query. Above
    it the vectors are projected on their main directions (`projection`: 96 for e5-small, 96 % of their
    variance) and stored as 8-bit codes, 96 bytes a paragraph instead of 768 for float16, in 2·√n lists of
    which a query scans a third. The codes only choose candidates; `search_dense` re-scores them with the
    exact vectors. At 500 000 paragraphs this is 2.9 ms a query for recall@10 0.995, where float16 codes
    in 4·√n lists, a quarter of them scanned from a memory map, took ~6–12 ms.
    """
    n, dim = vectors.shape
    index: Any
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    if n <= threshold:
        index = faiss.IndexFlatIP(dim)
        info = DenseIndexInfo("flat-ip")
    else:
        nlist = int(min(65_536, max(16, round(2 * np.sqrt(n)))))
        nprobe = min(nlist, max(8, nlist // IVF_PROBE_DIVISOR, -(-nlist * IVF_MIN_SCANNED // n)))
        transform = projection(data)
        dimensions = transform.d_out
        lists = faiss.IndexIVFScalarQuantizer(
            faiss.IndexFlatIP(dimensions),
            dimensions,
            nlist,
            faiss.ScalarQuantizer.QT_8bit,
            faiss.METRIC_INNER_PRODUCT,
        )
        lists.cp.niter = 10
        lists.cp.seed = 1234
        index = faiss.IndexPreTransform(transform, lists)
        sample = np.random.default_rng(0).choice(n, size=min(n, 40 * nlist), replace=False)
        index.train(data[np.sort(sample)])
        lists.nprobe = nprobe
        info = DenseIndexInfo(f"ivf-pca{dimensions}-sq8-ip", nlist, nprobe)
    if n:
        index.add(data)
    return index, info


def text_key(text: str) -> bytes:
    """What a vector is cached under: the sha256 of its text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def anchors_digest(anchors: list[str]) -> str:
    return hashlib.sha256("\n".join(anchors).encode("utf-8")).hexdigest()


REUSED_FILES = (layout.CHUNKS, layout.VECTORS, layout.SENTENCES, layout.SENTENCE_VECTORS, layout.ANCHOR_VECTORS)


@dataclass
class VectorCache:
    """Passage vectors an earlier generation computed, keyed by the sha256 of their text."""

    vectors: dict[bytes, np.ndarray] = field(default_factory=dict)
    source: str = ""  # the generation they come from

    @classmethod
    def from_generation(cls, folder: Path, embedder: Embedder) -> VectorCache:
        """The vectors of a generation built by the same embedder; empty when it is missing or fails its checks."""
        try:
            manifest = read_manifest(folder)
            if manifest.embedder != EmbedderRef(embedder.id, embedder.dimension):
                return cls()
            if manifest.segments:
                return cls.from_segments(folder, manifest)
            for rel in REUSED_FILES:
                if rel not in manifest.files or sha256_file(folder / rel) != manifest.files[rel]:
                    raise IndexUnavailable(f"{rel} does not match its checksum")
            texts = [to_simplified(c.text) for c in read_chunks(folder)]
            vectors = np.load(folder / layout.VECTORS, allow_pickle=False)
            sentences = np.load(folder / layout.SENTENCES, allow_pickle=False)
            sentence_vectors = np.load(folder / layout.SENTENCE_VECTORS, allow_pickle=False)
            if vectors.shape != (len(texts), embedder.dimension) or len(sentences) != len(sentence_vectors):
                raise IndexUnavailable("vector counts differ from the chunks")
            cache = cls(source=folder.name)
            cache._add(texts, vectors, sentences, sentence_vectors)
            cache._add_anchors(folder, manifest)
            return cache
        except IndexFormatError as exc:  # expected once after an upgrade: every text is embedded again
            log.info("not reusing vectors from %s: %s", folder, exc)
            return cls()
        except (OSError, ValueError, TypeError, KeyError, IndexError, IndexUnavailable, RuntimeError) as exc:
            log.warning("not reusing vectors from %s: %s", folder, exc)
            return cls()

    @classmethod
    def from_segments(cls, folder: Path, manifest: Manifest) -> VectorCache:
        """The vectors of a generation of segments (its live paragraphs and sentences, and its anchors)."""
        from rag.index.segment import open_segment

        cache = cls(source=folder.name)
        for ref in manifest.segments:
            segment = open_segment(folder.parent / SEGMENTS, ref.name, ref.sha256)
            texts = [to_simplified(c.text) for c in segment.chunks]
            cache._add(texts, segment.vectors[0 : len(texts)], segment.sentences, segment.sentence_vectors[:])
        cache._add_anchors(folder, manifest)
        return cache

    def _add(self, texts: list[str], vectors: np.ndarray, sentences: np.ndarray, sentence_vectors: np.ndarray) -> None:
        """Paragraph vectors by their (simplified) texts, and sentence vectors by their spans of those texts."""
        for text, vector in zip(texts, vectors, strict=True):
            self.vectors[text_key(text)] = vector
        for (row, start, end), vector in zip(sentences.tolist(), sentence_vectors, strict=True):
            self.vectors[text_key(texts[row][start:end])] = vector  # to_simplified keeps offsets

    def _add_anchors(self, folder: Path, manifest: Manifest) -> None:
        """The generation's off-topic anchor vectors, when they are of today's anchors."""
        anchors = offtopic_anchors()
        if manifest.anchors_sha256 == anchors_digest(anchors):
            anchor_vectors = np.load(folder / layout.ANCHOR_VECTORS, allow_pickle=False)
            if len(anchor_vectors) == len(anchors):
                for text, vector in zip(anchors, anchor_vectors, strict=True):
                    self.vectors[text_key(text)] = vector

    @classmethod
    def from_serving(cls, index_dir: Path, embedder: Embedder) -> VectorCache:
        """The serving generation's vectors (empty when nothing serves)."""
        name = current_generation(index_dir)
        if name is None or not (index_dir / name).is_dir():
            return cls()
        return cls.from_generation(index_dir / name, embedder)

    def embed(
        self, texts: list[str], embedder: Embedder, batch_size: int, progress: Progress | None = None
    ) -> tuple[np.ndarray, int, int]:
        """Passage vectors for `texts`: (vectors, distinct texts embedded now, distinct texts reused).

        Each distinct text is embedded once; vectors computed here join the cache.
        """
        keys = [text_key(t) for t in texts]
        distinct = dict(zip(keys, texts, strict=True))
        # Shortest first: a batch pads to its longest text, so texts of like length batch with little padding
        # (bench/embedding.py measures what that is worth against the bare model).
        todo = sorted(((k, t) for k, t in distinct.items() if k not in self.vectors), key=lambda kt: len(kt[1]))
        reused = len(distinct) - len(todo)
        for i in range(0, len(todo), batch_size):
            part = todo[i : i + batch_size]
            out = embedder.embed_batch([t for _, t in part], "passage")
            for (key, _), vector in zip(part, out, strict=True):
                self.vectors[key] = vector
            if progress:
                progress("embed", min(i + batch_size, len(todo)), len(todo))
        if not texts:
            return np.zeros((0, embedder.dimension), dtype=np.float32), 0, 0
        return np.vstack([self.vectors[k] for k in keys]).astype(np.float32), len(todo), reused


def write_generation(
    folder: Path,
    documents: list[Document],
    embedder: Embedder,
    settings: Settings,
    corpus_digest: str,
    generation: str,
    progress: Progress | None = None,
    cache: VectorCache | None = None,
) -> Manifest:
    """Embed and write one complete generation into `folder` (which must be new); returns its manifest.

    Texts whose vectors are in `cache` are not embedded again.
    """
    started = time.perf_counter()
    cache = cache if cache is not None else VectorCache()
    chunks = [c for d in documents for c in d.chunks]
    speakers = [s for d in documents for s in d.speakers]
    registry = SpeakerRegistry.from_speakers(speakers)
    words = user_words(registry.speakers)
    tokenizer = KeywordTokenizer(words)

    sentence_rows: list[tuple[int, int, int]] = []
    for row, chunk in enumerate(chunks):
        sentence_rows.extend((row, s, e) for s, e in chunk.units())
    sentence_texts = [chunks[r].text[s:e] for r, s, e in sentence_rows]

    anchors = offtopic_anchors()
    # Embedded in simplified characters, so a question in either script meets a paragraph in either (the
    # quotes themselves stay as printed).
    texts = [to_simplified(c.text) for c in chunks] + [to_simplified(s) for s in sentence_texts] + anchors
    all_vectors, embedded, reused = cache.embed(texts, embedder, settings.embed_batch_size, progress)
    vectors = all_vectors[: len(chunks)]
    sentence_vectors = all_vectors[len(chunks) : len(chunks) + len(sentence_texts)]
    anchor_vectors = all_vectors[len(chunks) + len(sentence_texts) :]
    dense, dense_info = make_dense_index(vectors, settings.dense_index_threshold)
    keyword = KeywordIndex.build([tokenizer.tokens(c.text) for c in chunks])
    pinyin = pinyin_for(chunks, keyword, tokenizer)
    if progress:
        progress("write", 0, 1)

    folder.mkdir(parents=True)
    layout.write_chunks(folder, chunks)
    layout.write_documents(folder, (d.info for d in documents))
    layout.write_speakers(folder, registry.speakers)
    layout.write_user_words(folder, words)
    layout.write_matrix(folder / layout.VECTORS, vectors)
    layout.write_matrix(folder / layout.SENTENCES, np.array(sentence_rows).reshape(-1, 3), np.int32)
    layout.write_matrix(folder / layout.SENTENCE_VECTORS, sentence_vectors)
    layout.write_matrix(folder / layout.ANCHOR_VECTORS, anchor_vectors)
    faiss.write_index(dense, str(folder / layout.DENSE))
    (folder / layout.BM25).mkdir()
    keyword.save(folder / layout.BM25)
    layout.write_pinyin(folder, pinyin)
    layout.write_sources(folder, ((d.info.slug, d.source_text) for d in documents))

    manifest = Manifest(
        generation=generation,
        embedder=EmbedderRef(embedder.id, embedder.dimension),
        corpus_hash=corpus_digest,
        counts=Counts(
            documents=len(documents),
            chunks=len(chunks),
            sentences=len(sentence_rows),
            speakers=sum(1 for s in registry.speakers if s.kind == "person"),
        ),
        dense_index=dense_info,
        anchors_sha256=anchors_digest(anchors),
        embedding=EmbeddingStats(embedded, reused, cache.source or None),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        build_seconds=round(time.perf_counter() - started, 3),
        files=layout.checksums(folder),
    )
    layout.write_manifest(folder, manifest)
    fsync_tree(folder)
    return manifest


def build_index(
    settings: Settings,
    embedder: Embedder | None = None,
    documents: list[Document] | None = None,
    progress: Progress | None = None,
    reuse_vectors: bool = False,
) -> Path:
    """Build a new generation from the corpus and publish it atomically; returns its folder.

    With `reuse_vectors`, texts the serving generation already embedded are not embedded again.
    """
    from rag.embedding import get_embedder

    embedder = embedder or get_embedder(settings)
    with build_lock(settings.index_dir):
        return build_under_lock(settings, embedder, documents, progress, reuse_vectors)


def build_under_lock(
    settings: Settings,
    embedder: Embedder,
    documents: list[Document] | None = None,
    progress: Progress | None = None,
    reuse_vectors: bool = True,
) -> Path:
    """`build_index` for a caller that already holds `build_lock` (ingestion changes the corpus under it)."""
    index_dir = settings.index_dir
    cleanup(index_dir)
    if settings.backend == "local":  # generations of segments (rag/index/sync.py)
        from rag.index import sync

        if documents is not None:
            return sync.build_from_scratch(settings, embedder, documents, _documents_hash(documents), {}, progress)
        if reuse_vectors:
            return sync.bring_up_to_date(settings, embedder, progress)
        digest, fingerprints = corpus_state(settings.corpus_dir)
        docs = load_corpus(settings.corpus_dir, file_limits(settings))
        return sync.build_from_scratch(settings, embedder, docs, digest, fingerprints, progress)
    # Milvus: one complete folder, published to its collections.
    docs = documents if documents is not None else load_corpus(settings.corpus_dir, file_limits(settings))
    digest = corpus_hash(settings.corpus_dir) if documents is None else _documents_hash(docs)
    cache = VectorCache.from_serving(index_dir, embedder) if reuse_vectors else VectorCache()
    now = time.time_ns()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 1_000_000_000))
    name = f"gen-{stamp}.{now % 1_000_000_000:09d}-{uuid.uuid4().hex[:6]}"  # sorts by time
    tmp = index_dir / f".tmp-{name}"
    write_generation(tmp, docs, embedder, settings, digest, name, progress, cache)
    final = index_dir / name
    os.rename(tmp, final)
    if settings.backend == "milvus":  # serving switches there; this folder stays the builder's vector cache
        from rag.index.milvus.publish import publish_to_milvus

        publish_to_milvus(settings, final)
    publish(index_dir, final)
    return final


def _documents_hash(docs: list[Document]) -> str:
    digest = hashlib.sha256()
    for d in sorted(docs, key=lambda d: d.info.slug):
        digest.update(d.info.slug.encode() + b"\0" + d.info.sha256.encode())
    return digest.hexdigest()
