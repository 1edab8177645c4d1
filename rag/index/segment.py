"""One immutable segment: the paragraphs of some documents with their vectors, dense index, postings and sources.

A generation (rag/index/generations.py) is a list of segments plus deletions. `rag add` writes one small
segment for the new documents; a merge (rag/index/merge.py) writes one segment from several. A segment
folder is written under a temporary name, checked, stamped and renamed into `segments/`; it never changes
after that.

Checking: `segment.json` holds the sha256 of every other file of the segment, and the generation's manifest
holds the sha256 of `segment.json`. Hashing every byte of a million-paragraph index at each start takes
longer than the start may (several GB), so a file whose hash was checked once is remembered in
`.verified.json` by its size, inode and change time (ctime, which no program can set back): an
unchanged file is not read again, a file written since (corruption, truncation, a copy) is hashed again
and refused when it differs.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.corpus import Chunk, Document, DocumentInfo
from rag.errors import IndexUnavailable
from rag.index import chunk_table, layout, postings
from rag.index.chunk_table import ChunkTable
from rag.index.generations import fsync_tree
from rag.index.layout import DenseIndexInfo, EmbedderRef, sha256_file
from rag.index.local_store import set_nprobe
from rag.index.postings import Postings
from rag.index.rows import RowMatrix
from rag.speakers import Speaker

SEGMENTS = "segments"
SEGMENT_MANIFEST = "segment.json"
SEGMENT_DOCUMENTS = "documents.json"  # each document: info, speakers, fingerprint
ROWS = "rows.json"  # local rows by speaker key, by document, and each question's answers
SEGMENT_PINYIN = "pinyin.json"  # romanised words this segment brought (earlier segments' words excluded)
STAMP = ".verified.json"
FIX = "run `rag build --force` to rebuild the index"

FILES: tuple[tuple[str, str], ...] = (
    (SEGMENT_MANIFEST, "format version, embedder, counts, dense index type, sha256 of every other file"),
    (SEGMENT_DOCUMENTS, "its documents: title, source, date, file, sha256, speakers, fingerprint of the stored files"),
    (chunk_table.RECORDS, "one JSON record per paragraph (id, document, kind, attribution, text, offsets, voices)"),
    (chunk_table.OFFSETS, "int64 byte offset of each record (rows + 1)"),
    (f"{chunk_table.IDS}, {chunk_table.ID_ROWS}", "the paragraph ids sorted, and the row of each"),
    (ROWS, "rows by speaker, by document, and each question's answers"),
    (layout.VECTORS, "paragraph vectors, float32, L2-normalised"),
    (layout.DENSE, "FAISS inner-product index over them (exact, or IVF with float16 codes)"),
    (layout.SENTENCES, "(paragraph row, start, end) of every sentence, int32"),
    (layout.SENTENCE_VECTORS, "sentence vectors, float32"),
    (", ".join(postings.FILES), "keyword postings: sorted terms, term offsets, rows, frequencies, paragraph lengths"),
    (SEGMENT_PINYIN, "romanised word → corpus word, for the words this segment brought"),
    (f"{layout.SOURCES}/<slug>.txt", "the decoded source of each document, which every quote is verified against"),
)  # fmt: skip


def new_segment_name() -> str:
    now = time.time_ns()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 1_000_000_000))
    return f"seg-{stamp}.{now % 1_000_000_000:09d}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class SegmentCounts:
    documents: int
    chunks: int
    sentences: int


@dataclass(frozen=True)
class SegmentManifest:
    name: str
    embedder: EmbedderRef
    counts: SegmentCounts
    dense_index: DenseIndexInfo
    created_at: str
    merged_from: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)
    format_version: int = layout.FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["dense_index"] = {k: v for k, v in data["dense_index"].items() if v is not None}
        data["merged_from"] = list(self.merged_from)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SegmentManifest:
        try:
            return cls(
                name=str(data["name"]),
                embedder=EmbedderRef(str(data["embedder"]["id"]), int(data["embedder"]["dimension"])),
                counts=SegmentCounts(**{k: int(v) for k, v in data["counts"].items()}),
                dense_index=DenseIndexInfo(**data["dense_index"]),
                created_at=str(data["created_at"]),
                merged_from=tuple(str(s) for s in data.get("merged_from", ())),
                files={str(k): str(v) for k, v in dict(data["files"]).items()},
                format_version=int(data["format_version"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"the segment manifest is malformed ({type(exc).__name__}: {exc})") from None


@dataclass(frozen=True)
class StoredDocument:
    """A document as a segment records it: what the listings show, its speakers, and its stored files' fingerprint."""

    info: DocumentInfo
    speakers: tuple[Speaker, ...]
    fingerprint: str  # rag.corpus.corpus_state's fingerprint of the stored source and its metadata
    summary: dict[str, Any] = field(default_factory=dict)  # what `rag documents` lists (rag.ingest.check.summary)
    content_hash: str = ""  # rag.ingest.check.content_hash of the source: an upload of the same text is a duplicate

    def to_json(self) -> dict[str, Any]:
        return {
            "info": self.info.to_json(),
            "speakers": [s.to_json() for s in self.speakers],
            "fingerprint": self.fingerprint,
            "summary": self.summary,
            "content_hash": self.content_hash,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredDocument:
        return cls(
            DocumentInfo(**data["info"]),
            tuple(Speaker.from_json(s) for s in data["speakers"]),
            str(data["fingerprint"]),
            dict(data.get("summary", {})),
            str(data.get("content_hash", "")),
        )


@dataclass(frozen=True)
class SegmentContent:
    """What a segment is written from: its rows in order, with everything derived from them."""

    documents: list[StoredDocument]
    chunks: list[Chunk]
    sources: list[tuple[str, str]]  # (slug, decoded source)
    vectors: np.ndarray
    sentences: np.ndarray  # (m, 3) int32 local rows
    sentence_vectors: np.ndarray
    dense: Any  # faiss index over `vectors`
    dense_info: DenseIndexInfo
    pinyin: dict[str, str]
    rows: dict[str, dict[str, list[int]]]


def stored_documents_of(
    documents: list[Document], fingerprints: dict[str, str], corpus_dir: Path | None = None
) -> list[StoredDocument]:
    from rag.ingest.check import content_hash, summary

    out = []
    for d in documents:
        source = corpus_dir / d.info.file if corpus_dir is not None else None
        digest = content_hash(source.read_bytes()) if source is not None and source.is_file() else ""
        out.append(
            StoredDocument(d.info, tuple(d.speakers), fingerprints.get(d.info.file, ""), summary(d).to_json(), digest)
        )
    return out


def write_segment(
    segments_dir: Path,
    content: SegmentContent,
    embedder: EmbedderRef,
    write_postings: Any,
    merged_from: tuple[str, ...] = (),
) -> SegmentManifest:
    """Write a segment under a temporary name, checksum and stamp it, then rename it into place.

    `write_postings(folder)` writes the postings files (from token lists, or merged from other segments).
    """
    name = new_segment_name()
    segments_dir.mkdir(parents=True, exist_ok=True)
    tmp = segments_dir / f".tmp-{name}"
    tmp.mkdir()
    chunk_table.write_chunk_table(tmp, content.chunks)
    layout.write_json(tmp / SEGMENT_DOCUMENTS, [d.to_json() for d in content.documents])
    layout.write_json(tmp / ROWS, content.rows)
    layout.write_matrix(tmp / layout.VECTORS, content.vectors)
    layout.write_matrix(tmp / layout.SENTENCES, content.sentences.reshape(-1, 3), np.int32)
    layout.write_matrix(tmp / layout.SENTENCE_VECTORS, content.sentence_vectors)
    faiss.write_index(content.dense, str(tmp / layout.DENSE))
    write_postings(tmp)
    layout.write_json(tmp / SEGMENT_PINYIN, content.pinyin)
    layout.write_sources(tmp, content.sources)
    manifest = SegmentManifest(
        name=name,
        embedder=embedder,
        counts=SegmentCounts(len(content.documents), len(content.chunks), len(content.sentences)),
        dense_index=content.dense_info,
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        merged_from=merged_from,
        files=layout.checksums(tmp),
    )
    layout.write_json(tmp / SEGMENT_MANIFEST, manifest.to_json())
    fsync_tree(tmp)
    write_stamp(tmp, manifest)
    os.rename(tmp, segments_dir / name)
    return manifest


# ---------------------------------------------------------------- checking


def _file_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_ino, st.st_ctime_ns]


def write_stamp(folder: Path, manifest: SegmentManifest) -> None:
    """Remember every file as checked (call only right after hashing them)."""
    stamp = {rel: _file_key(folder / rel) for rel in manifest.files}
    tmp = folder / f"{STAMP}.{uuid.uuid4().hex}"
    tmp.write_text(json.dumps(stamp), encoding="utf-8")
    os.replace(tmp, folder / STAMP)


def read_segment_manifest(folder: Path) -> SegmentManifest:
    try:
        data = json.loads((folder / SEGMENT_MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexUnavailable(
            f"The index segment {folder.name} is missing or has no {SEGMENT_MANIFEST}; {FIX}."
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise IndexUnavailable(f"The index segment {folder.name} has a corrupt {SEGMENT_MANIFEST}; {FIX}.") from None
    try:
        return SegmentManifest.from_json(data)
    except ValueError as exc:
        raise IndexUnavailable(f"The index segment {folder.name}: {exc}; {FIX}.") from None


def verify_segment(folder: Path, manifest: SegmentManifest, full: bool = False) -> int:
    """Check the segment's files against its manifest; returns how many were hashed (the rest were stamped)."""
    try:
        stamp = {} if full else json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stamp = {}
    hashed = 0
    for rel, expected in manifest.files.items():
        path = folder / rel
        if not path.is_file():
            raise IndexUnavailable(f"The index file {rel} is missing from segment {folder.name}; {FIX}.")
        if stamp.get(rel) == _file_key(path):
            continue
        hashed += 1
        if sha256_file(path) != expected:
            raise IndexUnavailable(
                f"The index file {rel} in segment {folder.name} is corrupt (checksum mismatch); {FIX}."
            )
    if hashed:
        with contextlib.suppress(OSError):  # a read-only index is checked again next time
            write_stamp(folder, manifest)
    return hashed


# ---------------------------------------------------------------- reading


class Segment:
    """An open, checked segment: records, vectors and dense index, postings, row tables, documents, sources."""

    def __init__(self, folder: Path, manifest: SegmentManifest) -> None:
        self.folder = folder
        self.manifest = manifest
        self.name = manifest.name
        self.chunks = ChunkTable(folder)
        self.vectors = RowMatrix(folder / layout.VECTORS)
        self.sentences = np.load(folder / layout.SENTENCES, allow_pickle=False)
        self.sentence_vectors = RowMatrix(folder / layout.SENTENCE_VECTORS)
        self.dense = read_dense(folder / layout.DENSE, manifest.dense_index)
        self.postings = Postings(folder)
        self.documents = [
            StoredDocument.from_json(d) for d in json.loads((folder / SEGMENT_DOCUMENTS).read_text(encoding="utf-8"))
        ]
        rows = json.loads((folder / ROWS).read_text(encoding="utf-8"))
        self.rows_by_speaker: dict[str, list[int]] = rows["speakers"]
        self.rows_by_document: dict[str, list[int]] = rows["documents"]
        self.answer_rows: dict[str, list[int]] = rows["answers"]
        pinyin = json.loads((folder / SEGMENT_PINYIN).read_text(encoding="utf-8"))
        if not isinstance(pinyin, dict):
            raise ValueError(f"{SEGMENT_PINYIN} is not an object")
        self.pinyin: dict[str, str] = pinyin
        n = manifest.counts.chunks
        if (
            len(self.chunks) != n
            or self.vectors.shape[0] != n
            or self.dense.ntotal != n
            or len(self.postings.doc_len) != n
            or len(self.sentences) != manifest.counts.sentences
            or len(self.sentence_vectors) != len(self.sentences)
        ):
            raise ValueError(f"segment {self.name}: its files hold different row counts than its manifest")

    def __len__(self) -> int:
        return self.manifest.counts.chunks


def read_dense(path: Path, info: DenseIndexInfo) -> Any:
    """The segment's FAISS index. Float16 IVF lists (768 bytes a paragraph) are memory-mapped; the projected
    8-bit codes (96 bytes) are read into the heap, where they are scanned twice as fast as mapped."""
    flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if info.type == "ivf-fp16-ip" else 0
    dense = faiss.read_index(str(path), flags)
    set_nprobe(dense, info)
    return dense


def open_segment(segments_dir: Path, name: str, expected_sha256: str, full_check: bool = False) -> Segment:
    """Open and check a segment the generation names; refuses a missing, corrupt or mismatched one."""
    folder = segments_dir / name
    if not folder.is_dir():
        raise IndexUnavailable(f"The index segment {name} is missing from {segments_dir}; {FIX}.")
    if sha256_file(folder / SEGMENT_MANIFEST) != expected_sha256:
        raise IndexUnavailable(f"The index segment {name} does not match its generation's manifest; {FIX}.")
    manifest = read_segment_manifest(folder)
    if manifest.format_version != layout.FORMAT_VERSION or manifest.name != name:
        raise IndexUnavailable(f"The index segment {name} is of another format or name; {FIX}.")
    verify_segment(folder, manifest, full=full_check)
    try:
        return Segment(folder, manifest)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexUnavailable(f"The index segment {name} cannot be read ({exc}); {FIX}.") from None
