"""The index format, defined once: the files of a generation, their readers and writers, and the manifest record.

The builder (`rag.index.build`), the loader (`rag.index.load`), the benchmarks' synthetic corpora
(`bench/synthetic.py`) and the README's layout table (`layout_table()`) all take the format from here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.corpus import Chunk, DocumentInfo
from rag.speakers import Speaker

# Any change of what the parsers derive bumps it too, so that the next command reads the corpus again.
# 6: generations of immutable segments plus deletions (rag/index/segment.py); single-folder generations
# remain only as what is published to Milvus;
# 5: organisations a title refers back to (公司首席技术官 after the company named before), organisations in
# pinyin (org_pinyin: Nanling University);
# 4: paragraph voices (segments, questions, labels), speakers in pinyin; 3: speaker kinds; 2: pinyin.json
FORMAT_VERSION = 6

MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
DOCUMENTS = "documents.json"
SPEAKERS = "speakers.json"
USER_WORDS = "userdict.txt"
VECTORS = "vectors.npy"
DENSE = "dense.faiss"
SENTENCES = "sentences.npy"
SENTENCE_VECTORS = "sentence_vectors.npy"
ANCHOR_VECTORS = "anchor_vectors.npy"
BM25 = "bm25"
TERMS = "terms.json"  # Milvus generations only: keyword token → [id, paragraphs holding it]
PINYIN = "pinyin.json"
SOURCES = "sources"

# A single-folder generation (what is published to Milvus): every file in its folder.
FILES: tuple[tuple[str, str], ...] = (
    (MANIFEST, "format version, embedder id and dimension, corpus hash, counts, build time, dense index type, sha256 of every other file"),
    (CHUNKS, "one paragraph per line: id, document, number, kind, attribution, text, offsets, source lines"),
    (DOCUMENTS, "every document's title, subtitle, source, date, event, file name, sha256, format"),
    (SPEAKERS, "every speaker: name, title, organisation, English forms, aliases"),
    (USER_WORDS, "words jieba keeps whole (names, organisations, aliases)"),
    (VECTORS, "paragraph vectors, float32, L2-normalised"),
    (DENSE, "FAISS inner-product index over the paragraph vectors (exact, or IVF codes the exact vectors re-score)"),
    (SENTENCES, "(paragraph row, start, end) of every sentence, int32"),
    (SENTENCE_VECTORS, "sentence vectors, float32"),
    (ANCHOR_VECTORS, "vectors of everyday off-topic sentences (rag/data/offtopic_anchors.txt), for abstention"),
    (f"{BM25}/", "the BM25 keyword index (bm25s JSON and .npy files)"),
    (PINYIN, "romanised corpus word → corpus word, for Latin-script questions"),
    (f"{SOURCES}/<slug>.txt", "the decoded source of every document, which every quote is verified against"),
)  # fmt: skip


def source_path(folder: Path, slug: str) -> Path:
    return folder / SOURCES / f"{slug}.txt"


# A local generation: its manifest names its segments (rag/index/segment.py defines their files).
GENERATION_FILES: tuple[tuple[str, str], ...] = (
    (MANIFEST, "format version, embedder, corpus hash, live counts, the segments in row order with the sha256 of "
     "each one's segment.json, the documents deleted from each, sha256 of the other file"),
    (ANCHOR_VECTORS, "vectors of everyday off-topic sentences (rag/data/offtopic_anchors.txt), for abstention"),
)  # fmt: skip


def layout_table() -> str:
    """The Markdown tables of a generation's and a segment's files (the README's tables are these)."""
    from rag.index.segment import FILES as SEGMENT_FILES

    rows = ["| `gen-*/` file | Holds |", "|---|---|"]
    rows += [f"| `{name}` | {holds} |" for name, holds in GENERATION_FILES]
    rows += ["", "| `segments/seg-*/` file | Holds |", "|---|---|"]
    rows += [f"| {', '.join(f'`{n.strip()}`' for n in name.split(','))} | {holds} |" for name, holds in SEGMENT_FILES]
    return "\n".join(rows)


# ---------------------------------------------------------------- the manifest


@dataclass(frozen=True)
class EmbedderRef:
    id: str
    dimension: int


@dataclass(frozen=True)
class Counts:
    documents: int
    chunks: int
    sentences: int
    speakers: int


@dataclass(frozen=True)
class DenseIndexInfo:
    """Which dense index was built: `flat-ip` (exact), `ivf-pca<d>-sq8-ip` (8-bit codes of d projected dimensions;
    earlier generations: `ivf-fp16-ip`) with its list counts."""

    type: str
    nlist: int | None = None
    nprobe: int | None = None


@dataclass(frozen=True)
class EmbeddingStats:
    embedded: int  # distinct texts embedded for this generation
    reused: int  # distinct texts whose vectors came from `reused_from`
    reused_from: str | None = None


@dataclass(frozen=True)
class MilvusCollections:
    """Where a generation published to Milvus keeps its paragraphs, sentences and metadata files."""

    paragraphs: str
    sentences: str
    files: str


@dataclass(frozen=True)
class SegmentRef:
    """A segment a generation serves: its name, the sha256 of its `segment.json`, and its row count."""

    name: str
    sha256: str
    chunks: int


@dataclass(frozen=True)
class Manifest:
    """What a generation is: its format, embedder, corpus, counts, and the checksum of every other file."""

    generation: str
    embedder: EmbedderRef
    corpus_hash: str
    counts: Counts
    dense_index: DenseIndexInfo
    anchors_sha256: str
    embedding: EmbeddingStats
    built_at: str
    build_seconds: float
    files: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    milvus: MilvusCollections | None = None  # None: the vectors and keyword index are this folder's files
    # Local generations: the segments served, in row order, and the documents deleted from each (by slug).
    # Empty: a single-folder generation (what is published to Milvus), every file in this folder.
    segments: tuple[SegmentRef, ...] = ()
    deleted: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["dense_index"] = {k: v for k, v in data["dense_index"].items() if v is not None}
        if data["milvus"] is None:
            del data["milvus"]
        data["segments"] = [asdict(s) for s in self.segments]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """The manifest a generation's JSON describes; ValueError when a field is missing or of the wrong type."""
        try:
            manifest = cls(
                format_version=int(data["format_version"]),
                generation=str(data["generation"]),
                embedder=EmbedderRef(str(data["embedder"]["id"]), int(data["embedder"]["dimension"])),
                corpus_hash=str(data["corpus_hash"]),
                counts=Counts(**{k: int(v) for k, v in data["counts"].items()}),
                dense_index=DenseIndexInfo(**data["dense_index"]),
                anchors_sha256=str(data["anchors_sha256"]),
                embedding=EmbeddingStats(**data["embedding"]),
                built_at=str(data["built_at"]),
                build_seconds=float(data["build_seconds"]),
                files={str(k): str(v) for k, v in dict(data["files"]).items()},
                milvus=MilvusCollections(**data["milvus"]) if data.get("milvus") is not None else None,
                segments=tuple(SegmentRef(str(r["name"]), str(r["sha256"]), int(r["chunks"])) for r in data.get("segments", ())),
                deleted={str(k): [str(s) for s in v] for k, v in dict(data.get("deleted", {})).items()},
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"the manifest is malformed ({type(exc).__name__}: {exc})") from None
        return manifest


def write_manifest(folder: Path, manifest: Manifest) -> None:
    write_json(folder / MANIFEST, manifest.to_json())


def read_manifest_json(folder: Path) -> Any:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


def checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file of a generation (the manifest itself excluded), by path relative to it."""
    return {
        str(p.relative_to(folder)): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- files


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def write_chunks(folder: Path, chunks: Iterable[Chunk]) -> None:
    with (folder / CHUNKS).open("w", encoding="utf-8") as fh:
        for c in chunks:
            fh.write(json.dumps(c.to_json(), ensure_ascii=False) + "\n")


# Fields many paragraphs share: one string object each in memory (~0.35 GB less at 1 M paragraphs).
SHARED_CHUNK_FIELDS = ("document", "kind", "speaker", "title", "organization", "speaker_en", "organization_en")


def read_chunks(folder: Path) -> Iterator[Chunk]:
    """chunks.jsonl line by line, with the fields paragraphs share stored once."""
    shared: dict[str, str] = {}
    with (folder / CHUNKS).open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            data = json.loads(line)
            for key in SHARED_CHUNK_FIELDS:
                value = data.get(key)
                if isinstance(value, str):
                    data[key] = shared.setdefault(value, value)
            yield Chunk.from_json(data)


def write_documents(folder: Path, documents: Iterable[DocumentInfo]) -> None:
    write_json(folder / DOCUMENTS, [d.to_json() for d in documents])


def read_documents(folder: Path) -> list[DocumentInfo]:
    return [DocumentInfo(**d) for d in json.loads((folder / DOCUMENTS).read_text(encoding="utf-8"))]


def write_speakers(folder: Path, speakers: Iterable[Speaker]) -> None:
    write_json(folder / SPEAKERS, [s.to_json() for s in speakers])


def read_speakers(folder: Path) -> list[Speaker]:
    return [Speaker.from_json(s) for s in json.loads((folder / SPEAKERS).read_text(encoding="utf-8"))]


def write_user_words(folder: Path, words: Iterable[str]) -> None:
    (folder / USER_WORDS).write_text("\n".join(words) + "\n", encoding="utf-8")


def read_user_words(folder: Path) -> list[str]:
    return [w for w in (folder / USER_WORDS).read_text(encoding="utf-8").split("\n") if w]


def write_matrix(path: Path, matrix: np.ndarray, dtype: type = np.float32) -> None:
    np.save(path, np.asarray(matrix, dtype=dtype), allow_pickle=False)


def write_sources(folder: Path, sources: Iterable[tuple[str, str]]) -> None:
    """Each document's decoded source text under its slug."""
    (folder / SOURCES).mkdir(exist_ok=True)
    for slug, text in sources:
        source_path(folder, slug).write_text(text, encoding="utf-8")


def write_pinyin(folder: Path, lexicon: dict[str, str]) -> None:
    write_json(folder / PINYIN, lexicon)


def read_pinyin(folder: Path) -> dict[str, str]:
    data = json.loads((folder / PINYIN).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{PINYIN} is not an object")
    return data
