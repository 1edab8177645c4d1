"""Publishing a generation to Milvus: new collections for it, then one alias switch, then clean-up.

A generation's collections are written and flushed completely before the alias `<prefix>_serving` is
switched to its files collection, so every reader sees the previous generation or the new one, never half
of one; a publisher killed before the switch leaves only unreferenced collections, which the next publish
drops. The serving and the previous generation are kept (a reader may still be answering from it).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.corpus import Chunk
from rag.index import layout
from rag.index.generations import read_manifest
from rag.index.keywords import KeywordIndex, KeywordTokenizer
from rag.index.layout import Manifest, MilvusCollections
from rag.index.milvus.connection import Names, client, log, reaching, serving_generation
from rag.settings import Settings

BATCH = 512  # rows per insert (a few MB of vectors: well under the gRPC message limit)
PIECE = 48_000  # base64 characters per stored file piece (VARCHAR holds at most 65 535 bytes)
MAX_TOKENS_TEXT = 65_535
MAX_FILED_SPEAKERS = 64
# Files a Milvus generation does not need: its vectors and keyword index are the collections.
LOCAL_ONLY = (layout.VECTORS, layout.SENTENCE_VECTORS, layout.DENSE, layout.BM25)
EMPTY_TOKEN = ""  # bm25s indexes an empty paragraph as this one token
BM25_K1, BM25_B = 1.5, 0.75  # bm25s's defaults (method "lucene")


def encode_tokens(tokens: list[str], term_ids: dict[str, int]) -> str:
    """Keyword tokens as the words Milvus's `standard` analyzer keeps whole: `t<id in base 36>`.

    The project's own tokenizer (jieba with the speakers' names, simplified, stopwords out) makes the
    tokens on both sides, so BM25 scores the same words as the local backend; milvus-lite knows no
    whitespace analyzer, and its jieba would cut otherwise.
    """
    return " ".join(f"t{np.base_repr(term_ids[t], 36).lower()}" for t in tokens if t in term_ids)


def term_table(keyword: KeywordIndex) -> dict[str, list[int]]:
    """Every token of the generation's vocabulary with its id and document frequency."""
    vocab: dict[str, int] = keyword._bm25.vocab_dict  # type: ignore[attr-defined]
    return {t: [i, keyword.doc_freq(t)] for t, i in vocab.items()}


def _paragraph_schema(milvus: Any, dimension: int) -> tuple[Any, Any]:
    from pymilvus import DataType, Function, FunctionType

    schema = milvus.create_schema(auto_id=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field(
        "tokens", DataType.VARCHAR, max_length=MAX_TOKENS_TEXT, enable_analyzer=True,
        analyzer_params={"tokenizer": "standard"},
    )  # fmt: skip
    schema.add_field("keywords", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("document", DataType.VARCHAR, max_length=512)
    schema.add_field(
        "speakers", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=MAX_FILED_SPEAKERS, max_length=512
    )
    schema.add_function(
        Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["tokens"],
                 output_field_names=["keywords"])
    )  # fmt: skip
    index = milvus.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="IP")
    # bm25s's parameters: the same scores as the local backend, times (k1 + 1) (rag.index.milvus.store).
    index.add_index("keywords", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                    params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})  # fmt: skip
    return schema, index


def _vector_schema(milvus: Any, dimension: int, extra: tuple[str, ...] = ()) -> tuple[Any, Any]:
    from pymilvus import DataType

    schema = milvus.create_schema(auto_id=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    for name in extra:
        schema.add_field(name, DataType.VARCHAR, max_length=65_535)
    index = milvus.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="IP")
    return schema, index


def _speaker_keys(chunks: list[Chunk]) -> list[list[str]]:
    from rag.index.load import file_rows

    by_speaker, _, _ = file_rows(chunks)
    keys: list[list[str]] = [[] for _ in chunks]
    for key, rows in by_speaker.items():
        for row in rows.tolist():
            keys[row].append(key)
    for row, found in enumerate(keys):
        if len(found) > MAX_FILED_SPEAKERS:
            raise ValueError(f"paragraph {chunks[row].id} is filed under {len(found)} speakers (at most 64)")
    return keys


def _batches(n: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, BATCH):
        yield start, min(n, start + BATCH)


def _insert_paragraphs(settings: Settings, name: str, folder: Path, chunks: list[Chunk], terms: dict[str, int]) -> None:
    milvus = client(settings)
    vectors = np.load(folder / layout.VECTORS, mmap_mode="r", allow_pickle=False)
    tokenizer = KeywordTokenizer(layout.read_user_words(folder))
    speakers = _speaker_keys(chunks)
    for start, stop in _batches(len(chunks)):
        rows = []
        for row in range(start, stop):
            text = encode_tokens(tokenizer.tokens(chunks[row].text) or [EMPTY_TOKEN], terms)
            if len(text) > MAX_TOKENS_TEXT:
                raise ValueError(f"paragraph {chunks[row].id} has too many keyword tokens for Milvus")
            rows.append(
                {"row": row, "vector": vectors[row].tolist(), "tokens": text, "document": chunks[row].document,
                 "speakers": speakers[row]}
            )  # fmt: skip
        with reaching(settings):
            milvus.insert(name, rows)


def _insert_sentences(settings: Settings, name: str, folder: Path) -> None:
    milvus = client(settings)
    vectors = np.load(folder / layout.SENTENCE_VECTORS, mmap_mode="r", allow_pickle=False)
    for start, stop in _batches(len(vectors)):
        rows = [{"row": row, "vector": vectors[row].tolist()} for row in range(start, stop)]
        with reaching(settings):
            milvus.insert(name, rows)


def _file_pieces(folder: Path, manifest: Manifest) -> Iterator[dict[str, Any]]:
    number = 0
    files = {**{rel: (folder / rel).read_bytes() for rel in manifest.files}}
    files[layout.MANIFEST] = json.dumps(manifest.to_json(), ensure_ascii=False, indent=1).encode("utf-8")
    for rel, data in sorted(files.items()):
        text = base64.b64encode(data).decode("ascii")
        pieces = [text[i : i + PIECE] for i in range(0, len(text), PIECE)] or [""]
        for part, piece in enumerate(pieces):
            yield {"row": number, "vector": [0.0, 0.0], "path": rel, "part": str(part), "data": piece}
            number += 1


def _create(settings: Settings, name: str, made: tuple[Any, Any]) -> None:
    milvus = client(settings)
    with reaching(settings):
        if milvus.has_collection(name):  # left by a publisher killed before its switch
            milvus.drop_collection(name)
        milvus.create_collection(name, schema=made[0], index_params=made[1], consistency_level="Strong")


def milvus_manifest(folder: Path, names: MilvusCollections) -> Manifest:
    """The manifest of the Milvus copy: the metadata files only (with the term table), and where the rest is."""
    local = read_manifest(folder)
    files = {rel: sha for rel, sha in local.files.items() if rel.split("/", 1)[0] not in LOCAL_ONLY}
    files[layout.TERMS] = layout.sha256_file(folder / layout.TERMS)
    return replace(local, files=files, milvus=names)


def publish_to_milvus(settings: Settings, folder: Path) -> MilvusCollections:
    """Upload the complete local generation `folder` to Milvus and make it the serving one there."""
    started = time.perf_counter()
    milvus = client(settings)
    local = read_manifest(folder)
    names = Names(settings.milvus_prefix)
    collections = names.generation(local.generation)
    chunks = list(layout.read_chunks(folder))
    keyword = KeywordIndex.load(folder / layout.BM25, len(chunks))
    table = term_table(keyword)
    layout.write_json(folder / layout.TERMS, table)
    manifest = milvus_manifest(folder, collections)

    _create(settings, collections.paragraphs, _paragraph_schema(milvus, local.embedder.dimension))
    _insert_paragraphs(settings, collections.paragraphs, folder, chunks, {t: v[0] for t, v in table.items()})
    _create(settings, collections.sentences, _vector_schema(milvus, local.embedder.dimension))
    _insert_sentences(settings, collections.sentences, folder)
    _create(settings, collections.files, _files_schema(milvus))
    with reaching(settings):
        for piece in _file_pieces(folder, manifest):
            milvus.insert(collections.files, [piece])
        for name in (collections.paragraphs, collections.sentences, collections.files):
            milvus.flush(name)
    previous = switch_alias(settings, collections.files)
    dropped = drop_stale(settings, keep={local.generation, *([previous] if previous else [])})
    log.info(
        "published generation %s to Milvus in %.1f s (%d paragraphs%s)",
        local.generation, time.perf_counter() - started, len(chunks),
        f"; dropped {', '.join(dropped)}" if dropped else "",
    )  # fmt: skip
    return collections


def _files_schema(milvus: Any) -> tuple[Any, Any]:
    from pymilvus import DataType

    schema = milvus.create_schema(auto_id=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
    schema.add_field("path", DataType.VARCHAR, max_length=1024)
    schema.add_field("part", DataType.VARCHAR, max_length=16)
    schema.add_field("data", DataType.VARCHAR, max_length=65_535)
    index = milvus.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="L2")
    return schema, index


def switch_alias(settings: Settings, files_collection: str) -> str | None:
    """Point the serving alias at `files_collection`; returns the generation it named before."""
    names = Names(settings.milvus_prefix)
    milvus = client(settings)
    previous = serving_generation(settings)
    with reaching(settings):
        if previous is None and names.alias not in milvus.list_aliases().get("aliases", []):
            milvus.create_alias(files_collection, names.alias)
        else:
            milvus.alter_alias(files_collection, names.alias)
    return previous


def drop_stale(settings: Settings, keep: set[str]) -> list[str]:
    """Drop this prefix's collections of generations other than `keep`; returns the generations dropped."""
    names = Names(settings.milvus_prefix)
    milvus = client(settings)
    dropped: set[str] = set()
    with reaching(settings):
        for collection in milvus.list_collections():
            generation = names.generation_of(collection)
            if generation is not None and generation not in keep:
                milvus.drop_collection(collection)
                dropped.add(generation)
    return sorted(dropped)
