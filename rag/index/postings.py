"""A segment's keyword postings, and BM25 scored with statistics of the whole generation.

Per segment: the sorted terms (UTF-8 bytes), each term's run in the postings (`term_ptr`), the local rows
holding it and its frequency there, and each row's token count. All memory-mapped: a query reads only
its terms' postings. Scores are computed at query time with the generation's document count, document
frequencies and average length, so several segments rank exactly as one merged index: BM25 "lucene"
as bm25s computes it (k1 1.5, b 0.75; an empty paragraph is the one token ""), which the single-folder
generations (Milvus) still use.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

TERMS = "terms.npy"
TERM_PTR = "term_ptr.npy"
POST_ROWS = "post_rows.npy"
POST_TF = "post_tf.npy"
DOC_LEN = "doc_len.npy"
FILES = (TERMS, TERM_PTR, POST_ROWS, POST_TF, DOC_LEN)
K1, B = 1.5, 0.75
EMPTY_TOKEN = ""


def write_postings(folder: Path, token_lists: Iterable[Sequence[str]]) -> None:
    """Postings of each row's tokens (row order = the segment's rows)."""
    vocabulary: dict[str, int] = {}
    term_ids: list[int] = []
    rows: list[int] = []
    freqs: list[int] = []
    lengths: list[int] = []
    for row, tokens in enumerate(token_lists):
        tokens = list(tokens) or [EMPTY_TOKEN]
        lengths.append(len(tokens))
        for token, tf in Counter(tokens).items():
            term_ids.append(vocabulary.setdefault(token, len(vocabulary)))
            rows.append(row)
            freqs.append(tf)
    write_arrays(
        folder,
        list(vocabulary),
        np.asarray(term_ids, dtype=np.int64),
        np.asarray(rows, dtype=np.int32),
        np.asarray(freqs, dtype=np.float32),
        np.asarray(lengths, dtype=np.int32),
    )


def write_arrays(
    folder: Path, terms: list[str], term_ids: np.ndarray, rows: np.ndarray, freqs: np.ndarray, lengths: np.ndarray
) -> None:
    """Write postings given as parallel (term id into `terms`, row, frequency) arrays, in any order."""
    encoded = [t.encode("utf-8") for t in terms]
    order_terms = sorted(range(len(terms)), key=lambda i: encoded[i])
    rank = np.empty(len(terms), dtype=np.int64)
    rank[np.asarray(order_terms, dtype=np.int64)] = np.arange(len(terms))
    ranked = rank[term_ids] if len(term_ids) else np.zeros(0, dtype=np.int64)
    order = np.lexsort((rows, ranked))
    ptr = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum(np.bincount(ranked, minlength=len(terms)), out=ptr[1:])
    width = max((len(e) for e in encoded), default=1) or 1
    np.save(folder / TERMS, np.asarray([encoded[i] for i in order_terms], dtype=f"S{width}"), allow_pickle=False)
    np.save(folder / TERM_PTR, ptr, allow_pickle=False)
    np.save(folder / POST_ROWS, rows[order].astype(np.int32), allow_pickle=False)
    np.save(folder / POST_TF, freqs[order].astype(np.float32), allow_pickle=False)
    np.save(folder / DOC_LEN, lengths.astype(np.int32), allow_pickle=False)


class Postings:
    """One segment's postings, memory-mapped."""

    def __init__(self, folder: Path) -> None:
        load = lambda name: np.load(folder / name, mmap_mode="r", allow_pickle=False)  # noqa: E731
        self.terms = load(TERMS)
        self.ptr = np.load(folder / TERM_PTR, allow_pickle=False)
        self.rows = load(POST_ROWS)
        self.tf = load(POST_TF)
        self.doc_len = np.load(folder / DOC_LEN, allow_pickle=False)
        if (
            len(self.ptr) != len(self.terms) + 1
            or int(self.ptr[-1]) != len(self.rows)
            or len(self.tf) != len(self.rows)
        ):
            raise ValueError("the postings files do not match each other")

    def term_id(self, token: str) -> int | None:
        key = token.encode("utf-8")
        at = int(np.searchsorted(self.terms, key))
        if at < len(self.terms) and bytes(self.terms[at]) == key:
            return at
        return None

    def posting(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """(local rows, frequencies) of a term, rows ascending."""
        start, stop = int(self.ptr[term]), int(self.ptr[term + 1])
        return np.asarray(self.rows[start:stop]), np.asarray(self.tf[start:stop])

    def term_texts(self) -> list[str]:
        return [bytes(t).decode("utf-8") for t in self.terms]

    def ascii_term_texts(self) -> list[str]:
        """The terms written in ASCII alone: a prefix of the byte-sorted table (every other term's first
        UTF-8 byte is 0x80 or more)."""
        end = int(np.searchsorted(self.terms, b"\x80"))
        return [text for text in (bytes(t).decode("utf-8") for t in self.terms[:end]) if text.isascii()]

    def doc_freqs(self) -> np.ndarray:
        return np.diff(self.ptr)


def idf(df: float, n_docs: int) -> float:
    return float(np.log(1 + (n_docs - df + 0.5) / (df + 0.5)))


def term_weights(tf: np.ndarray, lengths: np.ndarray, average_length: float) -> np.ndarray:
    """bm25s's "lucene" term-frequency component, in float32 as bm25s stores it."""
    tf = tf.astype(np.float32)
    return (tf / (K1 * ((1 - B) + B * lengths / average_length) + tf)).astype(np.float32)
