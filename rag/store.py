"""The store interface between the answer stage and a search backend (local files, or Milvus).

Everything the answer stage asks of the stored corpus beyond its paragraph records goes through a
`ParagraphStore`: ranked paragraphs for a query vector or keyword tokens (with speaker/document filters),
paragraph and sentence vectors by row, term document frequencies, and the abstention's sentence sample.
The paragraph records, documents and speakers (the listings) are the generation's metadata files, which
every backend holds alike. `rag.index.local_store` and `rag.index.milvus.store` implement it; no stage
knows which one it talks to, and no backend knows about answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from rag.vocabulary import StoreBackend

SAMPLE_SEED = 0  # the abstention's sentence sample is the same rows on every backend
# BM25 scores are rounded to this many decimals: backends sum the same terms in a different order, and the
# last float bits would otherwise order tied paragraphs differently.
BM25_DECIMALS = 5


class VectorRows(Protocol):
    """A (rows, d) float32 matrix read by rows: `m[i]`, `m[a:b]`, `m[rows]`, and `m @ v` over every row."""

    @property
    def shape(self) -> tuple[int, int]: ...

    def __len__(self) -> int: ...

    def __getitem__(self, key: Any) -> np.ndarray: ...

    def __matmul__(self, vector: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class RowFilter:
    """The paragraphs a speaker/document filter allows: by key (what a remote store filters on) and by row."""

    speaker_keys: tuple[str, ...]  # rag.speakers.speaker_key of each named speaker (any of them)
    documents: tuple[str, ...]  # document slugs (any of them); both given: both must hold
    rows: np.ndarray  # the sorted rows they allow, as the generation's metadata files them


class ParagraphStore(Protocol):
    """What the answer stage reads from a search backend (one generation of it)."""

    @property
    def backend(self) -> StoreBackend: ...

    @property
    def paragraph_vectors(self) -> VectorRows: ...

    @property
    def sentence_vectors(self) -> VectorRows: ...

    def dense_search(self, query_vector: np.ndarray, limit: int, allowed: RowFilter | None) -> np.ndarray:
        """Inner-product score of every paragraph (length = paragraph count), -inf where not computed.

        Unfiltered: at least the best `limit`; filtered: every allowed row.
        """
        ...

    def keyword_scores(self, tokens: Sequence[str], limit: int, allowed: RowFilter | None) -> np.ndarray:
        """BM25 score of every paragraph (length = paragraph count), rounded (`rounded_scores`); at least the
        best `limit` positive ones among the allowed rows are given, the rest may be 0."""
        ...

    def hybrid_scores(
        self, query_vector: np.ndarray, tokens: Sequence[str], limit: int, allowed: RowFilter | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """`dense_search` and `keyword_scores` of one query (a remote store runs them at once)."""
        ...

    def doc_freq(self, token: str) -> int:
        """In how many paragraphs the keyword token occurs (0 when never)."""
        ...

    def vocabulary(self) -> set[str]:
        """Every keyword token of the corpus."""
        ...

    def ascii_vocabulary(self) -> set[str]:
        """The keyword tokens written in ASCII alone (English words, pinyin, numbers): `vocabulary()`'s, without
        reading the rest (millions of Chinese words at archive scale)."""
        ...

    def rows_with(self, token: str, limit: int) -> list[int]:
        """The first `limit` paragraph rows (in row order) holding the keyword token."""
        ...

    def sentence_sample(self, size: int) -> np.ndarray:
        """The vectors of a fixed sample of `size` sentences (all of them when there are fewer)."""
        ...

    def close(self) -> None:
        """Release connections and files (the generation is no longer served)."""
        ...


def row_key(key: Any, n: int) -> int | np.ndarray:
    """A `VectorRows` key as one row or an int64 array of rows, negatives counted from the end, each checked."""
    if isinstance(key, int | np.integer):
        row = int(key) + n if key < 0 else int(key)
        if not 0 <= row < n:
            raise IndexError(f"row {key} is out of range for {n} rows")
        return row
    if isinstance(key, slice):
        return np.arange(*key.indices(n), dtype=np.int64)
    rows = np.asarray(key)
    if rows.dtype == bool or rows.ndim != 1 or (not np.issubdtype(rows.dtype, np.integer) and rows.size):
        raise IndexError("rows must be an int, a slice or a 1-D array of row numbers")
    rows = rows.astype(np.int64, copy=False)
    rows = np.where(rows < 0, rows + n, rows)
    if rows.size and (rows.min() < 0 or rows.max() >= n):
        raise IndexError(f"a row is out of range for {n} rows")
    return rows


def sample_rows(n: int, size: int) -> np.ndarray:
    """The rows of the abstention's fixed sentence sample, the same for every backend."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(SAMPLE_SEED).choice(n, size, replace=False))


def rounded_scores(scores: np.ndarray) -> np.ndarray:
    """BM25 scores rounded to BM25_DECIMALS, in place: `np.round`'s own steps (scale, round half to even,
    unscale) over the whole array, which at 1 M paragraphs costs a quarter of picking out the non-zero ones."""
    scale = scores.dtype.type(10**BM25_DECIMALS)
    np.multiply(scores, scale, out=scores)
    np.rint(scores, out=scores)
    np.divide(scores, scale, out=scores)
    return scores
