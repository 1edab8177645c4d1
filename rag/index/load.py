"""Loading a generation into the `Index` a query needs: verified; vectors read by rows, postings memory-mapped.

Which files a generation holds is rag/index/layout.py; the folder mechanics (CURRENT, lock, clean-up) are
rag/index/generations.py; writing one is rag/index/build.py.
"""

from __future__ import annotations

import gc
import logging
import operator
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, SupportsIndex, TypeVar, cast

import faiss
import numpy as np

from rag.corpus import Chunk, DocumentInfo, corpus_hash
from rag.embedding import Embedder
from rag.errors import IndexFormatError, IndexUnavailable, StoreUnreachable
from rag.index import layout
from rag.index.build import (
    Progress,
    build_under_lock,
)
from rag.index.generations import (
    FIX,
    build_lock,
    read_manifest,
    serving_folder,
    verify_files,
)
from rag.index.keywords import KeywordIndex, KeywordTokenizer
from rag.index.layout import EmbedderRef, Manifest
from rag.index.local_store import LocalStore, set_nprobe
from rag.index.rows import RowMatrix
from rag.index.serving import serving_name
from rag.settings import Settings
from rag.speakers import SpeakerRegistry, speaker_key
from rag.store import ParagraphStore, VectorRows
from rag.vocabulary import IndexStatus

log = logging.getLogger("rag.index")
T = TypeVar("T")


class SourceTexts:
    """The decoded source of every document, read from the generation's `sources/` when a quote is verified.

    Not held in memory (it would repeat every paragraph's text: ~0.3 GB at 1 M paragraphs); the last
    few documents read are kept. The files were checked against the manifest when the generation loaded.
    """

    KEEP = 32

    def __init__(self, folder: Path | dict[str, Path], slugs: Iterable[str]) -> None:
        """`folder`: the one folder of every source, or each slug's folder (a generation of segments)."""
        self._folders = folder if isinstance(folder, dict) else None
        self._folder = folder if isinstance(folder, Path) else Path()
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
            folder = self._folders[slug] if self._folders is not None else self._folder
            text = (folder / f"{slug}.txt").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            log.error("source of %s cannot be read", slug)
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
    manifest: Manifest
    chunks: Sequence[Chunk]  # a list, or the segments' records read on demand (rag.index.segmented)
    documents: list[DocumentInfo]
    registry: SpeakerRegistry
    store: ParagraphStore  # vectors and keyword search: local files or Milvus (rag.store)
    tokenizer: KeywordTokenizer
    sentences: np.ndarray  # (n, 3) int32: chunk row, start, end
    sources: SourceTexts
    embedder: Embedder
    anchor_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.float32))
    sentence_rows: SentenceSpans = field(init=False)
    rows_by_speaker: dict[str, np.ndarray] = field(default_factory=dict)
    rows_by_document: dict[str, np.ndarray] = field(default_factory=dict)
    answer_rows: dict[str, tuple[int, ...]] = field(default_factory=dict)  # question id -> its answers' rows
    pinyin: dict[str, str] = field(default_factory=dict)  # romanised corpus word → corpus word
    # Given by a generation of segments, which files them: the row of a paragraph id, and the row tables.
    row_of_id: Callable[[str], int | None] | None = None
    filed_rows: FiledRows | None = None

    @property
    def generation(self) -> str:
        return self.manifest.generation

    @property
    def vectors(self) -> VectorRows:
        """(chunks, d) float32 paragraph vectors, read by rows from the store."""
        return self.store.paragraph_vectors

    @property
    def sentence_vectors(self) -> VectorRows:
        """(sentences, d) float32 sentence vectors, read by rows from the store."""
        return self.store.sentence_vectors

    def chunk_by_id(self, chunk_id: str) -> Chunk | None:
        if self.row_of_id is not None:
            row = self.row_of_id(chunk_id)
            return None if row is None else self.chunks[row]
        return self._by_id.get(chunk_id)

    def document(self, slug: str) -> DocumentInfo | None:
        return self._documents.get(slug)

    def memo(self, key: str, make: Callable[[], T]) -> T:
        """A value derived from this generation: made on first use, then kept, and freed with the index.

        For derived data (samples, profiles, summaries) a replaced generation must not keep alive, and
        that no other generation may see: a module-level cache would do both.
        """
        try:
            return cast(T, self._memo[key])
        except KeyError:
            value = self._memo[key] = make()  # two threads may both make it: the values are the same
            return value

    def __post_init__(self) -> None:
        self._memo: dict[str, Any] = {}
        self._by_id = {c.id: c for c in self.chunks} if self.row_of_id is None else {}
        self._documents = {d.slug: d for d in self.documents}
        self.sentence_rows = SentenceSpans(self.sentences, len(self.chunks))
        filed = self.filed_rows if self.filed_rows is not None else file_rows(self.chunks)
        self.rows_by_speaker, self.rows_by_document, self.answer_rows = filed

    def speaker_rows(self, name: str) -> np.ndarray:
        """The rows of every paragraph holding words of the speaker (by name, in either script)."""
        return self.rows_by_speaker.get(speaker_key(name), np.zeros(0, dtype=np.int64))


FiledRows = tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, tuple[int, ...]]]


def filed_row_lists(chunks: Sequence[Chunk]) -> dict[str, dict[str, list[int]]]:
    """Rows by speaker key, rows by document, and each question's answers' rows (what filters select), as
    lists: what a segment stores in its `rows.json`."""
    by_speaker: dict[str, list[int]] = {}
    by_doc: dict[str, list[int]] = {}
    answers: dict[str, list[int]] = {}
    for row, c in enumerate(chunks):
        # Filed under everyone whose words it holds, and under its own voice when that is the document's.
        for name in dict.fromkeys([*c.persons(), *([] if c.own_voice_is_a_person else [c.speaker])]):
            by_speaker.setdefault(speaker_key(name), []).append(row)
        by_doc.setdefault(c.document, []).append(row)
        if c.question:
            answers.setdefault(c.question, []).append(row)
    # A question is filed under the people who answer it too: asked of them, it stands for their answer.
    row_of = {c.id: row for row, c in enumerate(chunks)}
    for question, rows in answers.items():
        for name in dict.fromkeys(n for r in rows for n in chunks[r].persons()):
            if question in row_of:
                by_speaker.setdefault(speaker_key(name), []).append(row_of[question])
    return {"speakers": {k: sorted(set(v)) for k, v in by_speaker.items()}, "documents": by_doc, "answers": answers}


def file_rows(chunks: Sequence[Chunk]) -> FiledRows:
    """`filed_row_lists` as the arrays and tuples an `Index` holds."""
    filed = filed_row_lists(chunks)
    return (
        {k: np.array(v, dtype=np.int64) for k, v in filed["speakers"].items()},
        {k: np.array(v, dtype=np.int64) for k, v in filed["documents"].items()},
        {k: tuple(v) for k, v in filed["answers"].items()},
    )


# ---------------------------------------------------------------- loading


def open_local_store(folder: Path, manifest: Manifest, n_chunks: int) -> LocalStore:
    """The generation's FAISS index, BM25 postings and vector files."""
    # Read by rows (rag.index.rows): a query reads only its candidates' rows (the dense index has its own
    # copy for unfiltered search), so resident memory does not grow with the corpus's vectors.
    vectors = RowMatrix(folder / layout.VECTORS)
    sentence_vectors = RowMatrix(folder / layout.SENTENCE_VECTORS)
    dense = faiss.read_index(str(folder / layout.DENSE))
    if dense.ntotal != n_chunks:
        raise ValueError(f"the dense index holds {dense.ntotal} paragraphs, not {n_chunks}")
    set_nprobe(dense, manifest.dense_index)
    return LocalStore(vectors, dense, KeywordIndex.load(folder / layout.BM25, n_chunks), sentence_vectors)


def open_store(settings: Settings, folder: Path, manifest: Manifest, n_chunks: int) -> ParagraphStore:
    """The store a generation's manifest names: its own files, or the Milvus collections it was published to."""
    if manifest.milvus is None:
        return open_local_store(folder, manifest, n_chunks)
    from rag.index.milvus.store import open_milvus_store

    return open_milvus_store(settings, folder, manifest, n_chunks)


def milvus_folder(settings: Settings) -> Path:
    """The local copy of the generation Milvus serves (fetched from Milvus when this machine has none)."""
    from rag.index.milvus.sync import serving_copy

    return serving_copy(settings)


def load_index(settings: Settings, embedder: Embedder | None = None, verify: bool = True) -> Index:
    """Load and verify the serving generation; refuses a missing, corrupt or mismatched index."""
    with paused_gc():
        return _load_index(settings, embedder, verify)


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """Python's cyclic garbage collector off while an index loads (several loads at once: until the last ends).

    A load allocates a few million objects that all stay (records, names, row lists); each allocation burst
    set off collections that walked the whole heap again: 0.3–1 s of a 1 M-paragraph load. Nothing a load
    makes is cyclic garbage, and reference counting still frees everything else meanwhile.
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def _load_index(settings: Settings, embedder: Embedder | None, verify: bool) -> Index:
    from rag.embedding import get_embedder

    folder = serving_folder(settings.index_dir) if settings.backend == "local" else milvus_folder(settings)
    manifest = read_manifest(folder)
    if verify:
        verify_files(folder, manifest)
    embedder = embedder or get_embedder(settings)
    built = manifest.embedder
    if built != EmbedderRef(embedder.id, embedder.dimension):
        raise IndexUnavailable(
            f"The index was built with embedder {built.id} ({built.dimension}-d) but the settings "
            f"select {embedder.id} ({embedder.dimension}-d); {FIX} or change RAG_EMBEDDER."
        )
    if manifest.segments:
        from rag.index.load_segments import load_segmented

        return load_segmented(settings, folder, manifest, embedder, full_check=False)
    try:
        chunks = list(layout.read_chunks(folder))
        documents = layout.read_documents(folder)
        speakers = layout.read_speakers(folder)
        words = layout.read_user_words(folder)
        sentences = np.load(folder / layout.SENTENCES, allow_pickle=False)
        anchor_vectors = np.load(folder / layout.ANCHOR_VECTORS, allow_pickle=False)
        missing = [d.slug for d in documents if not layout.source_path(folder, d.slug).is_file()]
        if missing:
            raise OSError(f"missing sources: {', '.join(missing[:3])}")
        sources = SourceTexts(folder / layout.SOURCES, (d.slug for d in documents))
        pinyin = layout.read_pinyin(folder)
        store = open_store(settings, folder, manifest, len(chunks))
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise IndexUnavailable(f"The index at {folder} cannot be read ({type(exc).__name__}); {FIX}.") from None
    if (
        len(chunks) != manifest.counts.chunks
        or store.paragraph_vectors.shape != (len(chunks), embedder.dimension)
        or len(sentences) != len(store.sentence_vectors)
    ):
        store.close()
        raise IndexUnavailable(f"The index at {folder} is inconsistent (counts differ from its manifest); {FIX}.")
    return Index(
        folder=folder,
        manifest=manifest,
        chunks=chunks,
        documents=documents,
        registry=SpeakerRegistry.from_speakers(speakers),
        store=store,
        tokenizer=KeywordTokenizer(w for w in words if w),
        sentences=sentences,
        sources=sources,
        embedder=embedder,
        anchor_vectors=anchor_vectors,
        pinyin=pinyin,
    )


def index_status(settings: Settings, embedder_id: str | None = None) -> IndexStatus:
    """Why the index needs building: "missing", "format-changed", "corpus-changed", "embedder-changed",
    "unreadable", or "ok"."""
    try:
        folder = serving_folder(settings.index_dir) if settings.backend == "local" else milvus_folder(settings)
        manifest = read_manifest(folder)
    except IndexFormatError:
        return "format-changed"
    except StoreUnreachable:
        raise  # not a reason to build: the store is away
    except IndexUnavailable:
        return "missing" if serving_name(settings) is None else "unreadable"
    if manifest.corpus_hash != corpus_hash(settings.corpus_dir):
        return "corpus-changed"
    if embedder_id is not None and manifest.embedder.id != embedder_id:
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
