"""The local backend of `rag.store.ParagraphStore`: FAISS, bm25s and the vector files of a generation folder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import faiss
import numpy as np

from rag.index.keywords import KeywordIndex
from rag.index.layout import DenseIndexInfo
from rag.index.rows import RowMatrix
from rag.store import RowFilter, VectorRows, rounded_scores, sample_rows
from rag.vocabulary import StoreBackend

RERANK_FACTOR = 2  # candidates an approximate index proposes per row wanted,
RERANK_MIN = 100  # and at least this many


def set_nprobe(dense: Any, info: DenseIndexInfo) -> None:
    """The lists an IVF query scans, as the manifest says (also inside a projection)."""
    if info.nprobe is not None and info.type.startswith("ivf"):
        faiss.extract_index_ivf(dense).nprobe = info.nprobe


def is_approximate(dense: Any) -> bool:
    """Whether the index's scores come from codes (IVF) rather than the exact vectors."""
    return not isinstance(dense, faiss.IndexFlat)


def search_one(dense: Any, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """One query against the FAISS index, on this thread alone.

    For a single query FAISS's OpenMP team costs more in hand-offs than it saves, and far more when the
    embedding model or other requests hold the other cores (bench/RESULTS.md: 0.3 ms instead of 24 ms
    at 10 000 paragraphs). The thread count is per calling thread, so builds elsewhere keep every core.
    """
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        found_scores, found_rows = dense.search(query_vector.reshape(1, -1).astype(np.float32), k)
    finally:
        faiss.omp_set_num_threads(threads)
    return found_scores, found_rows


def proposal_count(k: int) -> int:
    """Candidates an approximate index proposes for the best `k` rows (at most its row count)."""
    return max(RERANK_FACTOR * k, RERANK_MIN)


def exact_scores(vectors: VectorRows, rows: np.ndarray, query_vector: np.ndarray) -> np.ndarray:
    """The exact inner products of the proposed rows (sorted: one read per run) with the query."""
    if not len(rows):
        return np.zeros(0, np.float32)
    return np.asarray(vectors[rows] @ query_vector.astype(np.float32), dtype=np.float32)


def search_dense(dense: Any, vectors: VectorRows, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The best `k` rows by exact inner product, best first: (scores, rows), -1 rows where fewer exist.

    An approximate index (IVF codes) only proposes candidates: max(RERANK_FACTOR × k, RERANK_MIN) are re-scored
    with the exact vectors, so every score that leaves is the exact product and the order is exact
    among the candidates.
    """
    if not is_approximate(dense):
        return search_one(dense, query_vector, k)
    proposed = search_one(dense, query_vector, min(dense.ntotal, proposal_count(k)))[1][0]
    proposed = np.sort(proposed[proposed >= 0])
    exact = exact_scores(vectors, proposed, query_vector)
    best = np.lexsort((proposed, -exact))[:k]
    rows = np.full((1, k), -1, dtype=np.int64)
    scores = np.full((1, k), -np.inf, dtype=np.float32)
    rows[0, : len(best)] = proposed[best]
    scores[0, : len(best)] = exact[best]
    return scores, rows


class LocalStore:
    """One generation's search files on this machine (everything in memory or read by rows from disk)."""

    backend: StoreBackend = "local"

    def __init__(self, vectors: RowMatrix, dense: Any, keyword: KeywordIndex, sentence_vectors: RowMatrix) -> None:
        self.paragraph_vectors = vectors
        self.sentence_vectors = sentence_vectors
        self.dense = dense  # faiss.Index
        self.keyword = keyword

    def dense_search(self, query_vector: np.ndarray, limit: int, allowed: RowFilter | None) -> np.ndarray:
        n = len(self.paragraph_vectors)
        scores = np.full(n, -np.inf, dtype=np.float32)
        if n == 0:
            return scores
        if allowed is not None:
            if len(allowed.rows):
                scores[allowed.rows] = self.paragraph_vectors[allowed.rows] @ query_vector
            return scores
        found_scores, found_rows = search_dense(self.dense, self.paragraph_vectors, query_vector, min(n, max(limit, 1)))
        ok = found_rows[0] >= 0
        scores[found_rows[0][ok]] = found_scores[0][ok]
        return scores

    def keyword_scores(self, tokens: Sequence[str], limit: int, allowed: RowFilter | None) -> np.ndarray:
        if not tokens:
            return np.zeros(len(self.paragraph_vectors), dtype=np.float32)
        return rounded_scores(self.keyword.scores(list(tokens)).copy())

    def hybrid_scores(
        self, query_vector: np.ndarray, tokens: Sequence[str], limit: int, allowed: RowFilter | None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.dense_search(query_vector, limit, allowed), self.keyword_scores(tokens, limit, allowed)

    def doc_freq(self, token: str) -> int:
        return self.keyword.doc_freq(token)

    def vocabulary(self) -> set[str]:
        return self.keyword.vocabulary()

    def ascii_vocabulary(self) -> set[str]:
        return {word for word in self.keyword.vocabulary() if word.isascii()}

    def rows_with(self, token: str, limit: int) -> list[int]:
        return self.keyword.rows_with(token, limit)

    def sentence_sample(self, size: int) -> np.ndarray:
        return np.ascontiguousarray(self.sentence_vectors[sample_rows(len(self.sentence_vectors), size)])

    def close(self) -> None:
        """Nothing to release: the row files close when the matrices are collected."""
