"""The Milvus backend of `rag.store.ParagraphStore`: searches and vector reads against one generation's collections.

Scores are the local backend's: exact inner product (FLAT) over the same vectors, and BM25 with bm25s's
parameters over the same tokens (rag.index.milvus.publish). milvus-lite returns BM25 distances negated
(a server returns them positive), and Milvus's BM25 is bm25s's times (k1 + 1): both are undone here.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexUnavailable
from rag.index import layout
from rag.index.layout import Manifest, MilvusCollections
from rag.index.milvus.connection import call, client, reaching
from rag.index.milvus.publish import BM25_K1, encode_tokens
from rag.settings import Settings
from rag.store import RowFilter, rounded_scores, row_key, sample_rows
from rag.vocabulary import StoreBackend

_POOL = ThreadPoolExecutor(8, thread_name_prefix="rag-milvus")  # keyword searches beside the dense ones
SEARCH_LIMIT = 16_384  # the most results one Milvus search returns
QUERY_ROWS = 4_096  # rows per `row in [...]` query
CACHED_VECTORS = 50_000  # sentence and paragraph vectors kept per store (~100 MB at 512-d)
FIX = "run `rag build --force` with RAG_BACKEND=milvus to rebuild it"


class RemoteRows:
    """A Milvus collection's vectors by row, read on demand and kept in a bounded LRU."""

    def __init__(self, settings: Settings, collection: str, shape: tuple[int, int]) -> None:
        self._settings = settings
        self._collection = collection
        self.shape = shape
        self.dtype = np.dtype(np.float32)
        self.ndim = 2
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        rows = row_key(key, self.shape[0])
        return self.rows(np.array([rows]))[0] if isinstance(rows, int) else self.rows(rows)

    def __matmul__(self, vector: np.ndarray) -> np.ndarray:
        """Every row's product with `vector` (reads the whole collection: for small corpora and tests)."""
        return self.rows(np.arange(self.shape[0])) @ vector

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        whole = self.rows(np.arange(self.shape[0]))
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def remember(self, rows: Sequence[int], vectors: Sequence[Sequence[float]]) -> None:
        with self._lock:
            for row, vector in zip(rows, vectors, strict=True):
                self._cache[int(row)] = np.asarray(vector, dtype=np.float32)
                self._cache.move_to_end(int(row))
            while len(self._cache) > CACHED_VECTORS:
                self._cache.popitem(last=False)

    def rows(self, rows: np.ndarray) -> np.ndarray:
        if rows.size and (rows.min() < 0 or rows.max() >= self.shape[0]):
            raise IndexError(f"a row is out of range for {self.shape[0]} rows")
        with self._lock:
            missing = sorted({int(r) for r in rows.tolist() if int(r) not in self._cache})
        for start in range(0, len(missing), QUERY_ROWS):
            part = missing[start : start + QUERY_ROWS]
            expression = f"row in {part}"
            found = call(
                self._settings, self._collection,
                lambda milvus: milvus.query(self._collection, filter=expression, output_fields=["vector"]),  # noqa: B023
            )  # fmt: skip
            self.remember([r["row"] for r in found], [r["vector"] for r in found])
        with self._lock:
            try:
                got = [self._cache[int(r)] for r in rows.tolist()]
            except KeyError as exc:
                raise IndexUnavailable(f"Milvus collection {self._collection} lacks row {exc}; {FIX}.") from None
        return np.vstack(got).astype(np.float32) if got else np.zeros((0, self.shape[1]), dtype=np.float32)


class MilvusStore:
    """One generation's collections in Milvus, and the term table of its metadata copy."""

    backend: StoreBackend = "milvus"

    def __init__(
        self, settings: Settings, collections: MilvusCollections, n_chunks: int, sentences: np.ndarray,
        dimension: int, terms: dict[str, list[int]],
    ) -> None:  # fmt: skip
        self._settings = settings
        self.collections = collections
        self._n = n_chunks
        self._terms = terms
        self._term_ids = {t: int(v[0]) for t, v in terms.items()}
        self._spans = np.searchsorted(sentences[:, 0], np.arange(n_chunks + 1)) if len(sentences) else None
        self.paragraph_vectors = RemoteRows(settings, collections.paragraphs, (n_chunks, dimension))
        self.sentence_vectors = RemoteRows(settings, collections.sentences, (len(sentences), dimension))

    def _expression(self, allowed: RowFilter | None) -> tuple[str, dict[str, Any]]:
        if allowed is None:
            return "", {}
        # Literal lists: milvus-lite has no filter templates (`filter_params`); JSON strings are Milvus strings.
        parts = []
        if allowed.speaker_keys:
            parts.append(f"array_contains_any(speakers, {json.dumps(list(allowed.speaker_keys), ensure_ascii=False)})")
        if allowed.documents:
            parts.append(f"document in {json.dumps(list(allowed.documents), ensure_ascii=False)}")
        return " and ".join(parts), {}

    def _search(self, data: list[Any], field: str, limit: int, allowed: RowFilter | None, out: list[str]) -> Any:
        expression, _ = self._expression(allowed)
        found = call(
            self._settings, self.collections.paragraphs,
            lambda milvus: milvus.search(
                self.collections.paragraphs, data=data, anns_field=field, limit=max(1, min(limit, SEARCH_LIMIT)),
                filter=expression, output_fields=out,
                search_params={"metric_type": "IP" if field == "vector" else "BM25"},
            ),
        )  # fmt: skip
        return found[0]

    def dense_search(self, query_vector: np.ndarray, limit: int, allowed: RowFilter | None) -> np.ndarray:
        scores = np.full(self._n, -np.inf, dtype=np.float32)
        if self._n == 0 or (allowed is not None and len(allowed.rows) == 0):
            return scores
        wanted = len(allowed.rows) if allowed is not None else limit
        hits = self._search([query_vector.astype(np.float32).tolist()], "vector", wanted, allowed, ["vector"])
        rows = [int(h["row"]) for h in hits]
        self.paragraph_vectors.remember(rows, [h["entity"]["vector"] for h in hits])
        if rows:
            scores[rows] = [float(h["distance"]) for h in hits]
        self._prefetch_sentences(rows)
        return scores

    def _prefetch_sentences(self, rows: list[int]) -> None:
        """The candidates' sentence vectors in one query (the answer stage reads them next)."""
        if self._spans is None or not rows:
            return
        wanted = np.concatenate([np.arange(self._spans[r], self._spans[r + 1]) for r in rows])
        self.sentence_vectors.rows(wanted.astype(np.int64))

    def keyword_scores(self, tokens: Sequence[str], limit: int, allowed: RowFilter | None) -> np.ndarray:
        scores = np.zeros(self._n, dtype=np.float32)
        text = encode_tokens([t for t in tokens if t in self._terms], self._term_ids)
        if not text or self._n == 0:
            return scores
        hits = self._search([text], "keywords", limit, allowed, [])
        for h in hits:
            # milvus-lite negates BM25 scores; Milvus's BM25 has bm25s's lucene form times (k1 + 1).
            scores[int(h["row"])] = abs(float(h["distance"])) / (BM25_K1 + 1)
        return rounded_scores(scores)

    def hybrid_scores(
        self, query_vector: np.ndarray, tokens: Sequence[str], limit: int, allowed: RowFilter | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Both searches at once: each waits for Milvus, not for this process."""
        keyword = _POOL.submit(self.keyword_scores, tokens, limit, allowed)
        dense = self.dense_search(query_vector, limit, allowed)
        return dense, keyword.result()

    def doc_freq(self, token: str) -> int:
        found = self._terms.get(token)
        return int(found[1]) if found else 0

    def vocabulary(self) -> set[str]:
        return set(self._terms)

    def ascii_vocabulary(self) -> set[str]:
        return {term for term in self._terms if term.isascii()}

    def rows_with(self, token: str, limit: int) -> list[int]:
        """Every row holding the token is a positive BM25 match (up to SEARCH_LIMIT of them: then the first
        `limit` of those)."""
        holding = self.doc_freq(token)
        if holding == 0 or limit <= 0:
            return []
        text = encode_tokens([token], self._term_ids)
        hits = self._search([text], "keywords", holding, None, [])
        return sorted(int(h["row"]) for h in hits)[:limit]

    def sentence_sample(self, size: int) -> np.ndarray:
        return np.ascontiguousarray(self.sentence_vectors.rows(sample_rows(len(self.sentence_vectors), size)))

    def close(self) -> None:
        """The client is shared by the process; nothing of this generation's to release."""


def open_milvus_store(settings: Settings, folder: Path, manifest: Manifest, n_chunks: int) -> MilvusStore:
    """The store of a Milvus generation copied to `folder`; refuses collections that do not match its manifest."""
    assert manifest.milvus is not None
    sentences = np.load(folder / layout.SENTENCES, allow_pickle=False)
    terms = json.loads((folder / layout.TERMS).read_text(encoding="utf-8"))
    collections = manifest.milvus
    milvus = client(settings)
    dimension = manifest.embedder.dimension
    with reaching(settings):
        for name, rows in ((collections.paragraphs, n_chunks), (collections.sentences, len(sentences))):
            if not milvus.has_collection(name):
                raise IndexUnavailable(f"The Milvus collection {name} is missing; {FIX}.")
            milvus.load_collection(name)  # a server keeps it loaded; milvus-lite releases it when it restarts
            count = int(milvus.get_collection_stats(name)["row_count"])
            if count != rows:
                raise IndexUnavailable(f"The Milvus collection {name} holds {count} rows, not {rows}; {FIX}.")
            stored = _vector_dimension(milvus.describe_collection(name))
            if stored != dimension:
                raise IndexUnavailable(
                    f"The Milvus collection {name} holds {stored}-d vectors but the index manifest says "
                    f"{dimension}-d; {FIX}."
                )
    return MilvusStore(settings, collections, n_chunks, sentences, dimension, terms)


def _vector_dimension(description: dict[str, Any]) -> int | None:
    for f in description.get("fields", []):
        if f.get("name") == "vector":
            dim = f.get("params", {}).get("dim")
            return int(dim) if dim is not None else None
    return None
