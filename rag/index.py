"""The on-disk index: a folder of plain files per generation, published atomically, verified on load.

Layout of `RAG_INDEX_DIR`:

    CURRENT                  name of the generation folder that serves (replaced atomically)
    gen-<time>-<id>/         one complete, immutable generation
        manifest.json        format, embedder, corpus hash, counts, sha256 of every other file
        chunks.jsonl         one speaker paragraph per line
        documents.json, speakers.json, userdict.txt
        vectors.npy          paragraph vectors (float32, L2-normalised)
        dense.faiss          FAISS inner-product index over vectors.npy
        sentences.npy        (chunk row, start, end) of every sentence, int32
        sentence_vectors.npy sentence vectors (float32)
        bm25/                bm25s files (JSON + .npy, no pickle)
        pinyin.json          pinyin → corpus word, for Latin-script questions (rag.pinyin)
        sources/<slug>.txt   the decoded source of every document, for verification

Builds may be incremental: a text (paragraph, sentence or off-topic anchor) whose exact bytes the serving
generation already embedded with the same embedder reuses that vector, found by the sha256 of the text, once
the files it comes from pass their manifest checksums. A plain `build_index` (`rag build`) re-embeds everything.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import mmap
import operator
import os
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, SupportsIndex

import faiss
import numpy as np

from rag.corpus import Chunk, Document, DocumentInfo, corpus_hash, load_corpus
from rag.embedding import Embedder
from rag.errors import IndexError_, IndexFormatError
from rag.keywords import KeywordIndex, KeywordTokenizer
from rag.pinyin import PINYIN_PAIR_LIMIT, build_pinyin_lexicon
from rag.settings import Settings
from rag.speakers import Speaker, SpeakerRegistry
from rag.textutil import split_sentences

FORMAT_VERSION = 2  # 2: pinyin.json and documents' source_en (a version-1 index is rebuilt by any command)
CURRENT = "CURRENT"
LOCK = ".lock"
Progress = Callable[[str, int, int], None]
IVF_PROBE_DIVISOR = 4  # an IVF query scans nlist / 4 lists: recall@10 ~0.99 at 1 M paragraphs (bench/RESULTS.md)
log = logging.getLogger("rag.index")


class SourceTexts:
    """The decoded source of every document, read from the generation's `sources/` when a quote is verified.

    Not held in memory (it would repeat every paragraph's text: ~0.3 GB at 1 M paragraphs); the last
    few documents read are kept. The files were checked against the manifest when the generation loaded.
    """

    KEEP = 32

    def __init__(self, folder: Path, slugs: Iterable[str]) -> None:
        self._folder = folder
        self._slugs = frozenset(slugs)
        self._recent: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, slug: str) -> str | None:
        if slug not in self._slugs:
            return None
        with self._lock:
            if slug in self._recent:
                self._recent.move_to_end(slug)
                return self._recent[slug]
        try:
            text = (self._folder / f"{slug}.txt").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            log.error("source of %s cannot be read from %s", slug, self._folder)
            return None
        with self._lock:
            self._recent[slug] = text
            while len(self._recent) > self.KEEP:
                self._recent.popitem(last=False)
        return text

    def __getitem__(self, slug: str) -> str:
        text = self.get(slug)
        if text is None:
            raise KeyError(slug)
        return text


class SentenceSpans:
    """Paragraph row → the range of its sentences' rows (sentences are stored in paragraph order)."""

    def __init__(self, sentences: np.ndarray, n_chunks: int) -> None:
        self._starts = (
            np.searchsorted(sentences[:, 0], np.arange(n_chunks + 1))
            if len(sentences)
            else np.zeros(n_chunks + 1, dtype=np.int64)
        )

    def __len__(self) -> int:
        return len(self._starts) - 1

    def __getitem__(self, index: SupportsIndex) -> range:
        row = operator.index(index)
        if not 0 <= row < len(self):
            raise IndexError(row)
        return range(int(self._starts[row]), int(self._starts[row + 1]))


@dataclass(eq=False)
class Index:
    """A loaded, verified index generation: everything a query needs, in memory."""

    folder: Path
    manifest: dict[str, Any]
    chunks: list[Chunk]
    documents: list[DocumentInfo]
    registry: SpeakerRegistry
    vectors: np.ndarray
    dense: Any  # faiss.Index
    keyword: KeywordIndex
    tokenizer: KeywordTokenizer
    sentences: np.ndarray  # (n, 3) int32: chunk row, start, end
    sentence_vectors: np.ndarray
    sources: SourceTexts
    embedder: Embedder
    anchor_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.float32))
    sentence_rows: SentenceSpans = field(init=False)
    rows_by_speaker: dict[str, np.ndarray] = field(default_factory=dict)
    rows_by_document: dict[str, np.ndarray] = field(default_factory=dict)
    pinyin: dict[str, str] | None = None  # None: a generation from before pinyin.json (built on first use)

    @property
    def generation(self) -> str:
        return str(self.manifest["generation"])

    def chunk_by_id(self, chunk_id: str) -> Chunk | None:
        return self._by_id.get(chunk_id)

    def __post_init__(self) -> None:
        self._by_id = {c.id: c for c in self.chunks}
        self.sentence_rows = SentenceSpans(self.sentences, len(self.chunks))
        by_speaker: dict[str, list[int]] = {}
        by_doc: dict[str, list[int]] = {}
        for row, c in enumerate(self.chunks):
            by_speaker.setdefault(c.speaker, []).append(row)
            by_doc.setdefault(c.document, []).append(row)
        self.rows_by_speaker = {k: np.array(v, dtype=np.int64) for k, v in by_speaker.items()}
        self.rows_by_document = {k: np.array(v, dtype=np.int64) for k, v in by_doc.items()}


# ---------------------------------------------------------------- building

ANCHORS_FILE = Path(__file__).parent / "data" / "offtopic_anchors.txt"


def offtopic_anchors() -> list[str]:
    """Everyday off-topic sentences (a data file) used as the "not about the speeches" reference."""
    lines = ANCHORS_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def user_words(speakers: list[Speaker]) -> list[str]:
    """Words jieba must keep whole: names, organisations and their aliases."""
    words: set[str] = set()
    for s in speakers:
        words.update(a for a in (*s.person_aliases(), *s.org_names()) if a and " " not in a)
    return sorted(words)


def pinyin_for(chunks: list[Chunk], keyword: KeywordIndex, tokenizer: KeywordTokenizer) -> dict[str, str]:
    """The generation's pinyin lexicon: its vocabulary, plus word pairs for corpora up to PINYIN_PAIR_LIMIT."""
    paragraphs = chunks if len(chunks) <= PINYIN_PAIR_LIMIT else []
    return build_pinyin_lexicon(
        keyword.vocabulary_by_frequency(), ([w for w, _ in tokenizer.words(c.text)] for c in paragraphs)
    )


def make_dense_index(vectors: np.ndarray, threshold: int) -> tuple[Any, dict[str, Any]]:
    """Exact inner-product search up to `threshold` paragraphs; an IVF index of float16 codes above it.

    Chosen by measurement (bench/RESULTS.md): exact search costs ~0.1 ms per 1 000 paragraphs on
    2 cores, so past the threshold it outgrows the rest of the query; IVF builds ~10× faster than
    HNSW at 1 M paragraphs and its float16 codes take half the memory of float32, for recall@10 ≥ 0.95.
    """
    n, dim = vectors.shape
    index: Any
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    if n <= threshold:
        index = faiss.IndexFlatIP(dim)
        info: dict[str, Any] = {"type": "flat-ip"}
    else:
        nlist = int(min(65_536, max(16, round(4 * np.sqrt(n)))))
        nprobe = max(8, nlist // IVF_PROBE_DIVISOR)
        index = faiss.IndexIVFScalarQuantizer(
            faiss.IndexFlatIP(dim), dim, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
        index.cp.niter = 10
        index.cp.seed = 1234
        sample = np.random.default_rng(0).choice(n, size=min(n, 40 * nlist), replace=False)
        index.train(data[np.sort(sample)])
        index.nprobe = nprobe
        info = {"type": "ivf-fp16-ip", "nlist": nlist, "nprobe": nprobe}
    if n:
        index.add(data)
    return index, info


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def text_key(text: str) -> bytes:
    """What a vector is cached under: the sha256 of its text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def anchors_digest(anchors: list[str]) -> str:
    return hashlib.sha256("\n".join(anchors).encode("utf-8")).hexdigest()


REUSED_FILES = ("chunks.jsonl", "vectors.npy", "sentences.npy", "sentence_vectors.npy", "anchor_vectors.npy")


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
            built = manifest.get("embedder", {})
            if built.get("id") != embedder.id or built.get("dimension") != embedder.dimension:
                return cls()
            files = manifest.get("files", {})
            for rel in REUSED_FILES:
                if rel not in files or _sha256(folder / rel) != files[rel]:
                    raise IndexError_(f"{rel} does not match its checksum")
            texts = [
                json.loads(line)["text"]
                for line in (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
                if line
            ]
            vectors = np.load(folder / "vectors.npy", allow_pickle=False)
            sentences = np.load(folder / "sentences.npy", allow_pickle=False)
            sentence_vectors = np.load(folder / "sentence_vectors.npy", allow_pickle=False)
            if vectors.shape != (len(texts), embedder.dimension) or len(sentences) != len(sentence_vectors):
                raise IndexError_("vector counts differ from the chunks")
            cache = cls(source=folder.name)
            for text, vector in zip(texts, vectors, strict=True):
                cache.vectors[text_key(text)] = vector
            for (row, start, end), vector in zip(sentences.tolist(), sentence_vectors, strict=True):
                cache.vectors[text_key(texts[row][start:end])] = vector
            anchors = offtopic_anchors()
            if manifest.get("anchors_sha256") == anchors_digest(anchors):
                anchor_vectors = np.load(folder / "anchor_vectors.npy", allow_pickle=False)
                if len(anchor_vectors) == len(anchors):
                    for text, vector in zip(anchors, anchor_vectors, strict=True):
                        cache.vectors[text_key(text)] = vector
            return cache
        except IndexFormatError as exc:  # expected once after an upgrade: every text is embedded again
            log.info("not reusing vectors from %s: %s", folder, exc)
            return cls()
        except (OSError, ValueError, TypeError, KeyError, IndexError, IndexError_, RuntimeError) as exc:
            log.warning("not reusing vectors from %s: %s", folder, exc)
            return cls()

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
        todo = [(k, t) for k, t in distinct.items() if k not in self.vectors]
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
) -> dict[str, Any]:
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
        sentence_rows.extend((row, s, e) for s, e in split_sentences(chunk.text))
    sentence_texts = [chunks[r].text[s:e] for r, s, e in sentence_rows]

    anchors = offtopic_anchors()
    texts = [c.text for c in chunks] + sentence_texts + anchors
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
    with (folder / "chunks.jsonl").open("w", encoding="utf-8") as fh:
        for c in chunks:
            fh.write(json.dumps(c.to_json(), ensure_ascii=False) + "\n")
    _write_json(folder / "documents.json", [d.info.to_json() for d in documents])
    _write_json(folder / "speakers.json", [s.__dict__ for s in registry.speakers])
    (folder / "userdict.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    np.save(folder / "vectors.npy", vectors.astype(np.float32), allow_pickle=False)
    np.save(folder / "sentences.npy", np.array(sentence_rows, dtype=np.int32).reshape(-1, 3), allow_pickle=False)
    np.save(folder / "sentence_vectors.npy", sentence_vectors.astype(np.float32), allow_pickle=False)
    np.save(folder / "anchor_vectors.npy", anchor_vectors.astype(np.float32), allow_pickle=False)
    faiss.write_index(dense, str(folder / "dense.faiss"))
    (folder / "bm25").mkdir()
    keyword.save(folder / "bm25")
    _write_json(folder / "pinyin.json", pinyin)
    (folder / "sources").mkdir()
    for d in documents:
        (folder / "sources" / f"{d.info.slug}.txt").write_text(d.source_text, encoding="utf-8")

    files = {str(p.relative_to(folder)): _sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}
    manifest = {
        "format_version": FORMAT_VERSION,
        "generation": generation,
        "embedder": {"id": embedder.id, "dimension": embedder.dimension},
        "corpus_hash": corpus_digest,
        "counts": {
            "documents": len(documents),
            "chunks": len(chunks),
            "sentences": len(sentence_rows),
            "speakers": sum(1 for s in registry.speakers if s.kind == "speaker"),
        },
        "dense_index": dense_info,
        "anchors_sha256": anchors_digest(anchors),
        "embedding": {"embedded": embedded, "reused": reused, "reused_from": cache.source or None},
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.perf_counter() - started, 3),
        "files": files,
    }
    _write_json(folder / "manifest.json", manifest)
    _fsync_tree(folder)
    return manifest


def _fsync_tree(folder: Path) -> None:
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
    return removed


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
    docs = documents if documents is not None else load_corpus(settings.corpus_dir, settings.max_document_bytes)
    digest = corpus_hash(settings.corpus_dir) if documents is None else _documents_hash(docs)
    cache = VectorCache.from_serving(index_dir, embedder) if reuse_vectors else VectorCache()
    now = time.time_ns()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 1_000_000_000))
    name = f"gen-{stamp}.{now % 1_000_000_000:09d}-{uuid.uuid4().hex[:6]}"  # sorts by time
    tmp = index_dir / f".tmp-{name}"
    write_generation(tmp, docs, embedder, settings, digest, name, progress, cache)
    final = index_dir / name
    os.rename(tmp, final)
    publish(index_dir, final)
    return final


def _documents_hash(docs: list[Document]) -> str:
    digest = hashlib.sha256()
    for d in sorted(docs, key=lambda d: d.info.slug):
        digest.update(d.info.slug.encode() + b"\0" + d.info.sha256.encode())
    return digest.hexdigest()


# ---------------------------------------------------------------- loading

FIX = "run `rag build --force` to rebuild it"


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexError_(f"The index at {folder} has no manifest.json; {FIX}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise IndexError_(f"The index manifest {path} is corrupt; {FIX}.") from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise IndexFormatError(
            f"The index at {folder} has format version {found}, this program reads {FORMAT_VERSION}; {FIX}."
        )
    return manifest


def serving_folder(index_dir: Path) -> Path:
    """The folder of the serving generation; refuses when there is none."""
    name = current_generation(index_dir)
    if name is None:
        raise IndexError_(f"No index found in {index_dir}; run `rag build` to create it.")
    folder = index_dir / name
    if not folder.is_dir():
        raise IndexError_(f"The index generation {name} named by {index_dir / CURRENT} is missing; {FIX}.")
    return folder


def verify_files(folder: Path, manifest: dict[str, Any]) -> None:
    """Check every file's sha256 against the manifest."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise IndexError_(f"The index manifest in {folder} lists no files; {FIX}.")
    for rel, expected in files.items():
        path = folder / rel
        if not path.is_file():
            raise IndexError_(f"The index file {rel} is missing from {folder}; {FIX}.")
        if _sha256(path) != expected:
            raise IndexError_(f"The index file {rel} in {folder} is corrupt (checksum mismatch); {FIX}.")


def _mapped_rows(path: Path) -> np.ndarray:
    """A read-only memory map of an .npy matrix read a few rows at a time (no read-ahead).

    With the kernel's default read-ahead, 2 048 scattered rows paged in 0.9 GB at 1 M paragraphs.
    """
    mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    with contextlib.suppress(AttributeError, OSError, ValueError):
        mapped._mmap.madvise(mmap.MADV_RANDOM)
    return np.asarray(mapped)


SHARED_CHUNK_FIELDS = ("document", "kind", "speaker", "title", "organization", "speaker_en", "organization_en")


def _read_chunks(path: Path) -> list[Chunk]:
    """chunks.jsonl line by line, with the fields paragraphs share stored once (~0.35 GB less at 1 M paragraphs)."""
    shared: dict[str, str] = {}
    chunks = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            data = json.loads(line)
            for key in SHARED_CHUNK_FIELDS:
                value = data.get(key)
                if isinstance(value, str):
                    data[key] = shared.setdefault(value, value)
            chunks.append(Chunk.from_json(data))
    return chunks


def load_index(settings: Settings, embedder: Embedder | None = None, verify: bool = True) -> Index:
    """Load and verify the serving generation; refuses a missing, corrupt or mismatched index."""
    from rag.embedding import get_embedder

    folder = serving_folder(settings.index_dir)
    manifest = read_manifest(folder)
    if verify:
        verify_files(folder, manifest)
    embedder = embedder or get_embedder(settings)
    built = manifest.get("embedder", {})
    if built.get("id") != embedder.id or built.get("dimension") != embedder.dimension:
        raise IndexError_(
            f"The index was built with embedder {built.get('id')} ({built.get('dimension')}-d) but the settings "
            f"select {embedder.id} ({embedder.dimension}-d); {FIX} or change RAG_EMBEDDER."
        )
    try:
        chunks = _read_chunks(folder / "chunks.jsonl")
        documents = [DocumentInfo(**d) for d in json.loads((folder / "documents.json").read_text(encoding="utf-8"))]
        speakers = [
            Speaker(**{str(k): tuple(v) if isinstance(v, list) else v for k, v in s.items()})  # type: ignore[arg-type]
            for s in json.loads((folder / "speakers.json").read_text(encoding="utf-8"))
        ]
        words = (folder / "userdict.txt").read_text(encoding="utf-8").split("\n")
        # Memory-mapped, read-only: a query reads only its candidates' rows (the dense index has its own
        # copy for unfiltered search), so resident memory does not grow with the corpus's vectors.
        vectors = _mapped_rows(folder / "vectors.npy")
        sentences = np.load(folder / "sentences.npy", allow_pickle=False)
        sentence_vectors = _mapped_rows(folder / "sentence_vectors.npy")
        anchor_vectors = np.load(folder / "anchor_vectors.npy", allow_pickle=False)
        dense = faiss.read_index(str(folder / "dense.faiss"))
        keyword = KeywordIndex.load(folder / "bm25", len(chunks))
        missing = [d.slug for d in documents if not (folder / "sources" / f"{d.slug}.txt").is_file()]
        if missing:
            raise OSError(f"missing sources: {', '.join(missing[:3])}")
        sources = SourceTexts(folder / "sources", (d.slug for d in documents))
        pinyin_file = folder / "pinyin.json"
        pinyin = json.loads(pinyin_file.read_text(encoding="utf-8")) if pinyin_file.exists() else None
        if pinyin is not None and not isinstance(pinyin, dict):
            raise ValueError("pinyin.json is not an object")
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise IndexError_(f"The index at {folder} cannot be read ({type(exc).__name__}); {FIX}.") from None
    counts = manifest.get("counts", {})
    if (
        len(chunks) != counts.get("chunks")
        or vectors.shape != (len(chunks), embedder.dimension)
        or dense.ntotal != len(chunks)
        or len(sentences) != len(sentence_vectors)
    ):
        raise IndexError_(f"The index at {folder} is inconsistent (counts differ from its manifest); {FIX}.")
    dense_params = manifest.get("dense_index", {})
    if "efSearch" in dense_params and hasattr(dense, "hnsw"):
        dense.hnsw.efSearch = int(dense_params["efSearch"])
    if "nprobe" in dense_params and hasattr(dense, "nprobe"):
        dense.nprobe = int(dense_params["nprobe"])
    return Index(
        folder=folder,
        manifest=manifest,
        chunks=chunks,
        documents=documents,
        registry=SpeakerRegistry.from_speakers(speakers),
        vectors=vectors,
        dense=dense,
        keyword=keyword,
        tokenizer=KeywordTokenizer(w for w in words if w),
        sentences=sentences,
        sentence_vectors=sentence_vectors,
        sources=sources,
        embedder=embedder,
        anchor_vectors=anchor_vectors,
        pinyin=pinyin,
    )


def index_status(settings: Settings, embedder_id: str | None = None) -> str:
    """Why the index needs building: "missing", "format-changed", "corpus-changed", "embedder-changed",
    "unreadable", or "ok"."""
    try:
        folder = serving_folder(settings.index_dir)
        manifest = read_manifest(folder)
    except IndexFormatError:
        return "format-changed"
    except IndexError_:
        return "missing" if current_generation(settings.index_dir) is None else "unreadable"
    if manifest.get("corpus_hash") != corpus_hash(settings.corpus_dir):
        return "corpus-changed"
    if embedder_id is not None and manifest.get("embedder", {}).get("id") != embedder_id:
        return "embedder-changed"
    return "ok"


def ensure_index(
    settings: Settings,
    embedder: Embedder | None = None,
    notify: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> Index:
    """Load the index, building it first when there is none or the corpus or embedder changed."""
    from rag.embedding import get_embedder

    embedder = embedder or get_embedder(settings)
    status = index_status(settings, embedder.id)
    if status != "ok":
        reasons = {
            "missing": "no index yet",
            "corpus-changed": "the corpus changed",
            "embedder-changed": "the embedder changed",
            "format-changed": "it was built by an older version",
            "unreadable": "the index is unreadable",
        }
        if notify:
            notify(f"Building the index ({reasons[status]})…")
        with build_lock(settings.index_dir):
            # Another process may have built it while this one waited for the lock.
            if index_status(settings, embedder.id) != "ok":
                build_under_lock(settings, embedder, progress=progress, reuse_vectors=True)
    return load_index(settings, embedder)
