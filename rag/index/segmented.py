"""A generation's segments seen as one index: global rows over their live rows, and the store that searches them.

Global rows number the live paragraphs of every segment in the generation's order (a deleted paragraph has
no global row), so nothing past this module knows about segments or deletions. Dense search asks each
segment's FAISS index for its own best rows and merges them; BM25 takes its statistics (paragraph count,
document frequencies, average length) from the whole generation, so the ranking is the one a single merged
index gives (tests/test_segments.py compares them).
"""

from __future__ import annotations

import bisect
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faiss
import numpy as np

from rag.corpus import Chunk, paragraph_document
from rag.index.chunk_table import Records
from rag.index.local_store import exact_scores, is_approximate, proposal_count, search_one
from rag.index.postings import idf, term_weights
from rag.index.segment import Segment
from rag.store import RowFilter, rounded_scores, row_key, sample_rows
from rag.vocabulary import StoreBackend


class RowMap:
    """Local rows of one segment ↔ global rows: the live local rows, placed from `offset` on."""

    def __init__(self, n_local: int, live: np.ndarray | None, offset: int) -> None:
        self.n_local = n_local
        self.live = live  # sorted live local rows; None: every row is live
        self.offset = offset
        self.n_live = n_local if live is None else len(live)
        if live is None:
            self._global: np.ndarray | None = None
        else:
            self._global = np.full(n_local, -1, dtype=np.int64)
            self._global[live] = offset + np.arange(len(live))

    def to_global(self, local: np.ndarray) -> np.ndarray:
        """Global rows of local rows (-1 for a deleted one)."""
        local = np.asarray(local, dtype=np.int64)
        return local + self.offset if self._global is None else self._global[local]

    def to_local(self, global_rows: np.ndarray) -> np.ndarray:
        at = np.asarray(global_rows, dtype=np.int64) - self.offset
        return at if self.live is None else self.live[at]

    @property
    def deleted(self) -> int:
        return self.n_local - self.n_live


class Part:
    """A segment as one generation sees it: its paragraph and sentence row maps."""

    def __init__(self, segment: Segment, deleted_slugs: set[str], offset: int, sentence_offset: int) -> None:
        self.segment = segment
        dead = [r for slug in deleted_slugs for r in segment.rows_by_document.get(slug, [])]
        n = len(segment)
        live = None
        if dead:
            keep = np.ones(n, dtype=bool)
            keep[np.asarray(dead, dtype=np.int64)] = False
            live = np.flatnonzero(keep)
        self.paragraphs = RowMap(n, live, offset)
        sentence_rows = segment.sentences[:, 0] if len(segment.sentences) else np.zeros(0, dtype=np.int64)
        sentence_live = None if live is None else np.flatnonzero(self.paragraphs.to_global(sentence_rows) >= 0)
        self.sentences = RowMap(len(segment.sentences), sentence_live, sentence_offset)

    def global_sentences(self) -> np.ndarray:
        """This part's live sentences as (global paragraph row, start, end)."""
        own = self.segment.sentences
        if self.sentences.live is not None:
            own = own[self.sentences.live]
        out = np.array(own, dtype=np.int32).reshape(-1, 3)
        out[:, 0] = self.paragraphs.to_global(out[:, 0])
        return out


def make_parts(segments: Sequence[Segment], deleted: dict[str, list[str]]) -> list[Part]:
    parts: list[Part] = []
    offset = sentence_offset = 0
    for segment in segments:
        part = Part(segment, set(deleted.get(segment.name, ())), offset, sentence_offset)
        parts.append(part)
        offset += part.paragraphs.n_live
        sentence_offset += part.sentences.n_live
    return parts


def _split(starts: list[int], rows: np.ndarray) -> np.ndarray:
    """Which part each global row falls in."""
    return np.searchsorted(np.asarray(starts[1:], dtype=np.int64), rows, side="right")


class ChunkSequence(Records):
    """Every live paragraph record by global row (read from the segments on demand)."""

    def __init__(self, parts: list[Part]) -> None:
        self._parts = parts
        self._starts = [p.paragraphs.offset for p in parts]
        self._n = sum(p.paragraphs.n_live for p in parts)
        self._parts_by_document: dict[str, list[Part]] | None = None

    def _record(self, row: int) -> Chunk:
        part = self._parts[bisect.bisect_right(self._starts, row) - 1]
        rowmap = part.paragraphs
        return part.segment.chunks[
            row - rowmap.offset if rowmap.live is None else int(rowmap.live[row - rowmap.offset])
        ]

    def __iter__(self) -> Iterator[Chunk]:
        for part in self._parts:
            live = part.paragraphs.live
            table = part.segment.chunks
            if live is None:
                yield from table
            else:
                for local in live.tolist():
                    yield table[local]

    def row_of(self, chunk_id: str) -> int | None:
        """The global row of the live paragraph with this id.

        Only the segments holding the id's document are asked: asking all 20 segments of a 1 M archive
        cost ~0.3 ms an id, and quote verification asks for dozens per question.
        """
        if self._parts_by_document is None:
            by_document: dict[str, list[Part]] = {}
            for part in reversed(self._parts):  # newest first: a re-added document lives in the last
                for slug in part.segment.rows_by_document:
                    by_document.setdefault(slug, []).append(part)
            self._parts_by_document = by_document
        parts = self._parts_by_document.get(paragraph_document(chunk_id))
        for part in parts if parts is not None else self._parts:
            local = part.segment.chunks.row_of(chunk_id)
            if local is not None:
                found = int(part.paragraphs.to_global(np.asarray([local]))[0])
                if found >= 0:
                    return found
        return None


class ConcatRows:
    """The paragraph (or sentence) vectors of every part as one (rows, d) matrix read by rows."""

    def __init__(self, matrices: list[Any], maps: list[RowMap], dimension: int) -> None:
        self._matrices = matrices
        self._maps = maps
        self._starts = [m.offset for m in maps]
        self.shape = (sum(m.n_live for m in maps), dimension)
        self.dtype = np.dtype(np.float32)
        self.ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, slice) and key.indices(self.shape[0])[2] == 1:  # a run of rows (a paragraph's sentences)
            start, stop, _ = key.indices(self.shape[0])
            return self._run(start, max(start, stop))
        rows = row_key(key, self.shape[0])
        if isinstance(rows, int):
            i = bisect.bisect_right(self._starts, rows) - 1
            rowmap = self._maps[i]
            local = rows - rowmap.offset if rowmap.live is None else int(rowmap.live[rows - rowmap.offset])
            return np.asarray(self._matrices[i][local])
        return self._gather(rows)

    def _run(self, start: int, stop: int) -> np.ndarray:
        """Global rows start..stop: one read per part they cross when their live local rows are a run too.

        Answering reads a paragraph's sentences this way ~36 times a question; going through `_gather`
        (row arrays, grouping, unique) cost more than the reads.
        """
        pieces = []
        i = bisect.bisect_right(self._starts, start) - 1
        while start < stop:
            rowmap = self._maps[i]
            end = min(stop, rowmap.offset + rowmap.n_live)
            a, b = start - rowmap.offset, end - rowmap.offset
            if a < b:  # a part with no live rows here adds nothing
                local = rowmap.live[a:b] if rowmap.live is not None else None
                if local is not None and int(local[-1]) - int(local[0]) + 1 == len(local):  # live rows in a run: one read
                    a, b, local = int(local[0]), int(local[-1]) + 1, None
                pieces.append(np.asarray(self._matrices[i][a:b] if local is None else self._matrices[i][local]))
            start = end
            i += 1
        if len(pieces) == 1:
            return pieces[0]
        return np.concatenate(pieces) if pieces else np.zeros((0, self.shape[1]), dtype=np.float32)

    def _gather(self, rows: np.ndarray) -> np.ndarray:
        if len(self._matrices) == 1:
            return self._matrices[0][self._maps[0].to_local(rows)]
        if len(rows) == 1:  # one row: no grouping
            i = bisect.bisect_right(self._starts, int(rows[0])) - 1
            return self._matrices[i][self._maps[i].to_local(rows)]
        out = np.empty((len(rows), self.shape[1]), dtype=np.float32)
        which = _split(self._starts, rows)
        for i in np.unique(which).tolist():
            at = np.flatnonzero(which == i)
            out[at] = self._matrices[i][self._maps[i].to_local(rows[at])]
        return out

    def __matmul__(self, vector: np.ndarray) -> np.ndarray:
        parts = []
        for matrix, rowmap in zip(self._matrices, self._maps, strict=True):
            product = matrix @ vector
            parts.append(product if rowmap.live is None else product[rowmap.live])
        return np.concatenate(parts) if parts else np.zeros((0, *np.shape(vector)[1:]), dtype=np.float32)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        whole = self._gather(np.arange(self.shape[0]))
        return whole if dtype is None else whole.astype(dtype, copy=False)


# Postings weighed and kept: 8 bytes each, ~128 MB at most (the eval questions' 682 words hold 13 M at 1 M paragraphs).
WEIGHT_CACHE_ENTRIES = 16_000_000
# Below one scored row in this many, only the scored rows' BM25 sums are rounded (a pass over a 1 M array is ~1 ms).
TOUCHED_ROUNDING_SHARE = 32
# The IVF segments' pooled proposals re-scored exactly: this many times what one segment proposes.
GLOBAL_RERANK_FACTOR = 3
# Segments this small are searched as one matrix (a FAISS call costs ~0.2 ms however few its rows): what
# `rag add` leaves between merges.
SMALL_SEGMENT_ROWS = 2_000


def _live_locals(part: Part) -> np.ndarray:
    n = len(part.segment)
    return np.arange(n) if part.paragraphs.live is None else part.paragraphs.live


def _live_vectors(part: Part) -> np.ndarray:
    return np.asarray(part.segment.vectors[_live_locals(part)], dtype=np.float32).reshape(
        -1, part.segment.vectors.shape[1]
    )


def _scanned_bytes(segment: Segment) -> float:
    """What one query's search of the segment's own index reads: every vector, or the probed lists' codes."""
    if not is_approximate(segment.dense):
        return float(segment.vectors.shape[0] * segment.vectors.shape[1] * 4)
    lists = faiss.extract_index_ivf(segment.dense)
    return float(lists.ntotal * min(1.0, lists.nprobe / lists.nlist) * lists.code_size)


_search_pool: ThreadPoolExecutor | None = None
_search_pool_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _search_pool
    with _search_pool_lock:
        if _search_pool is None:
            _search_pool = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="rag-search")
        return _search_pool


class SegmentStore:
    """`rag.store.ParagraphStore` over a generation's segments (this machine's files)."""

    backend: StoreBackend = "local"

    def __init__(self, parts: list[Part], dimension: int) -> None:
        self._parts = parts
        self.paragraph_vectors = ConcatRows(
            [p.segment.vectors for p in parts], [p.paragraphs for p in parts], dimension
        )
        self.sentence_vectors = ConcatRows(
            [p.segment.sentence_vectors for p in parts], [p.sentences for p in parts], dimension
        )
        self.n = len(self.paragraph_vectors)
        live_length = 0
        for p in parts:
            lengths = p.segment.postings.doc_len
            live_length += int(lengths.sum() if p.paragraphs.live is None else lengths[p.paragraphs.live].sum())
        self.average_length = live_length / self.n if self.n else 1.0
        small = [p for p in parts if 0 < len(p.segment) <= SMALL_SEGMENT_ROWS]
        self._small_vectors = (
            np.ascontiguousarray(np.concatenate([_live_vectors(p) for p in small]), dtype=np.float32)
            if small
            else np.zeros((0, dimension), dtype=np.float32)
        )
        self._small_rows = (
            np.concatenate([p.paragraphs.to_global(_live_locals(p)) for p in small]) if small else np.zeros(0, np.int64)
        )
        # The segments searched by their own index, the costliest first (bytes a query scans), and which of
        # them only propose candidates (IVF codes).
        self._searched = sorted(
            (p for p in parts if len(p.segment) > SMALL_SEGMENT_ROWS), key=lambda p: -_scanned_bytes(p.segment)
        )
        self._coded = [is_approximate(p.segment.dense) for p in self._searched]
        self._vocabulary: set[str] | None = None
        self._weight_cache: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._weight_entries = 0
        self._weights_lock = threading.Lock()
        self._doc_freqs: dict[str, int] = {}  # the generation never changes: a token's count is computed once

    @property
    def segments(self) -> list[Segment]:
        return [p.segment for p in self._parts]

    def dense_search(self, query_vector: np.ndarray, limit: int, allowed: RowFilter | None) -> np.ndarray:
        return self._dense_started(query_vector, limit, allowed)()

    def _dense_started(
        self, query_vector: np.ndarray, limit: int, allowed: RowFilter | None
    ) -> Callable[[], np.ndarray]:
        """Start the dense search; the returned function waits for it and gives the scores (-inf: not found).

        The segments searched by their own FAISS index run in the search pool from here on (FAISS releases
        the interpreter lock), so the caller can score BM25 meanwhile instead of waiting (`hybrid_scores`).
        """
        if self.n == 0 or allowed is not None:
            scores = np.full(self.n, -np.inf, dtype=np.float32)
            if allowed is not None and len(allowed.rows):
                scores[allowed.rows] = self.paragraph_vectors[allowed.rows] @ query_vector
            return lambda: scores
        want = max(limit, 1)
        segments_best = self._segments_started(query_vector, want)

        def finish() -> np.ndarray:
            found = segments_best()
            if len(self._small_rows):
                products = self._small_vectors @ query_vector.astype(np.float32)
                best = np.argpartition(-products, want)[:want] if len(products) > want else np.arange(len(products))
                found.append((self._small_rows[best], products[best]))
            scores = np.full(self.n, -np.inf, dtype=np.float32)
            if not found:
                return scores
            rows = np.concatenate([r for r, _ in found])
            values = np.concatenate([v for _, v in found])
            if len(rows) > want:  # the best `limit` of the generation, as one index would give them
                keep = np.lexsort((rows, -values))[:want]
                rows, values = rows[keep], values[keep]
            scores[rows] = values
            return scores

        return finish

    def _segments_started(
        self, query_vector: np.ndarray, want: int
    ) -> Callable[[], list[tuple[np.ndarray, np.ndarray]]]:
        """Start the searches of the segments that have their own FAISS index; the returned function waits for
        them and gives their best rows as (global rows, exact scores).

        Every segment's search runs in the pool, the costliest first, on every core (FAISS releases the
        GIL). A flat (exact) index gives its best live rows. An IVF index proposes
        `proposal_count(want)` live rows by its codes' approximate scores (as `search_dense`); the proposals of all
        of them are pooled and only the best GLOBAL_RERANK_FACTOR × that many are re-scored with the exact
        vectors, one sorted read per segment. Re-scoring every segment's proposals read ~500 scattered rows
        a question at 1 M paragraphs; the codes' scores are comparable across segments (the same model's
        vectors, each segment's projection keeping nearly all their energy), so the pooled cut keeps what a
        per-segment cut kept (bench/segments.py measures recall against exact search).
        """
        if not self._searched:
            return lambda: []
        propose = proposal_count(want)

        def one(at: int) -> tuple[np.ndarray, np.ndarray]:
            """The part's best live local rows and their (approximate, for IVF) scores."""
            part = self._searched[at]
            k = min(len(part.segment), (propose if self._coded[at] else want) + part.paragraphs.deleted)
            found_scores, found_rows = search_one(part.segment.dense, query_vector, k)
            ok = found_rows[0] >= 0
            local, values = found_rows[0][ok], found_scores[0][ok]
            if part.paragraphs.live is not None:
                live = part.paragraphs.to_global(local) >= 0
                local, values = local[live], values[live]
            return local, values

        searched = range(len(self._searched))
        pool = _pool()
        pending = [pool.submit(one, i) for i in searched]

        def finish() -> list[tuple[np.ndarray, np.ndarray]]:
            results = [f.result() for f in pending]
            out = [
                (self._searched[i].paragraphs.to_global(rows), values)
                for i, (rows, values) in enumerate(results)
                if not self._coded[i]
            ]
            coded = [i for i in searched if self._coded[i]]
            if not coded:
                return out
            coded_part = np.concatenate([np.full(len(results[i][0]), i, dtype=np.int64) for i in coded])
            coded_rows = np.concatenate([results[i][0] for i in coded])
            coded_scores = np.concatenate([results[i][1] for i in coded])
            cut = GLOBAL_RERANK_FACTOR * propose
            if len(coded_rows) > cut:
                keep = np.argpartition(-coded_scores, cut)[:cut]
                coded_part, coded_rows = coded_part[keep], coded_rows[keep]
            for i in np.unique(coded_part).tolist():
                part = self._searched[i]
                rows = np.sort(coded_rows[coded_part == i])
                out.append((part.paragraphs.to_global(rows), exact_scores(part.segment.vectors, rows, query_vector)))
            return out

        return finish

    def _postings(self, token: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(global rows, frequencies, lengths) of the token's live postings in every part."""
        out = []
        for part in self._parts:
            postings = part.segment.postings
            term = postings.term_id(token)
            if term is None:
                continue
            local, tf = postings.posting(term)
            rows = part.paragraphs.to_global(local)
            if part.paragraphs.live is not None:
                keep = rows >= 0
                local, tf, rows = local[keep], tf[keep], rows[keep]
            out.append((rows, tf, postings.doc_len[local]))
        return out

    def keyword_scores(self, tokens: Sequence[str], limit: int, allowed: RowFilter | None) -> np.ndarray:
        scores = np.zeros(self.n, dtype=np.float32)
        if not tokens or self.n == 0:
            return scores
        touched = []
        for token in tokens:
            rows, w = self._weights(token)
            scores[rows] += w  # a token's rows are distinct
            touched.append(rows)
        scored = sum(len(rows) for rows in touched)
        if scored * TOUCHED_ROUNDING_SHARE >= self.n:
            return rounded_scores(scores)
        # Only the scored rows are rounded (the rest are 0); a row two tokens scored is rounded twice alike.
        rows = np.concatenate(touched) if len(touched) > 1 else touched[0]
        scores[rows] = rounded_scores(scores[rows])
        return scores

    def _weights(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """(global rows, BM25 weights) of a token's postings in every part, kept in a bounded LRU.

        The weights depend on the generation's statistics only, so they are computed once per token: a
        common word's postings (a tenth of a million-paragraph archive) cost ~10 ms to weigh, and the
        words of questions recur. The parts' postings are kept as one array (adding 20 parts' arrays one
        by one cost more than the additions).
        """
        with self._weights_lock:
            found = self._weight_cache.get(token)
            if found is not None:
                self._weight_cache.move_to_end(token)
                return found
        postings = self._postings(token)
        weight = np.float64(np.float32(idf(sum(len(rows) for rows, _, _ in postings), self.n)))  # as one index weighs
        if postings:
            rows = np.concatenate([rows for rows, _, _ in postings]).astype(np.int32)
            weights = np.concatenate(
                [
                    (weight * term_weights(tf, lengths, self.average_length)).astype(np.float32)
                    for _, tf, lengths in postings
                ]
            )
            found = (rows, weights)
        else:
            found = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
        with self._weights_lock:
            self._weight_cache[token] = found
            self._weight_entries += len(found[0])
            while self._weight_entries > WEIGHT_CACHE_ENTRIES and len(self._weight_cache) > 1:
                _, dropped = self._weight_cache.popitem(last=False)
                self._weight_entries -= len(dropped[0])
        return found

    def hybrid_scores(
        self, query_vector: np.ndarray, tokens: Sequence[str], limit: int, allowed: RowFilter | None
    ) -> tuple[np.ndarray, np.ndarray]:
        dense = self._dense_started(query_vector, limit, allowed)  # the segments' searches run in the pool,
        bm25 = self.keyword_scores(tokens, limit, allowed)  # while BM25 is scored on this thread
        return dense(), bm25

    def doc_freq(self, token: str) -> int:
        found = self._doc_freqs.get(token)
        if found is None:
            found = 0
            for part in self._parts:
                postings = part.segment.postings
                term = postings.term_id(token)
                if term is None:
                    continue
                if part.paragraphs.live is None:
                    found += int(postings.ptr[term + 1] - postings.ptr[term])
                else:
                    found += int((part.paragraphs.to_global(postings.posting(term)[0]) >= 0).sum())
            if len(self._doc_freqs) > 100_000:
                self._doc_freqs.clear()
            self._doc_freqs[token] = found
        return found

    def vocabulary(self) -> set[str]:
        if self._vocabulary is None:
            words: set[str] = {""}  # bm25s's reserved empty token is in every vocabulary (Milvus's term table too)
            for part in self._parts:
                words.update(part.segment.postings.term_texts())
            self._vocabulary = words
        return self._vocabulary

    def ascii_vocabulary(self) -> set[str]:
        """The terms before the first non-ASCII byte of each segment's sorted term table: no other term decoded."""
        words: set[str] = {""}
        for part in self._parts:
            words.update(part.segment.postings.ascii_term_texts())
        return words

    def rows_with(self, token: str, limit: int) -> list[int]:
        out: list[int] = []
        for rows, _, _ in self._postings(token):
            out.extend(int(r) for r in rows[: limit - len(out)])
            if len(out) >= limit:
                break
        return out

    def sentence_sample(self, size: int) -> np.ndarray:
        return np.ascontiguousarray(self.sentence_vectors[sample_rows(len(self.sentence_vectors), size)])

    def close(self) -> None:
        """Nothing to release: segments close their files when collected."""
