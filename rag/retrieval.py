"""Retrieval: the store's dense and keyword (BM25) rankings, their reciprocal-rank fusion, speaker/document filters."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from rag.corpus import Chunk
from rag.index.load import Index
from rag.script import to_simplified
from rag.settings import Settings
from rag.speakers import speaker_key
from rag.store import RowFilter
from rag.vocabulary import SearchMode


@dataclass(frozen=True)
class Hit:
    """A retrieved paragraph with its fused score and the evidence behind it."""

    chunk: Chunk
    row: int
    score: float
    rank: int
    dense_score: float
    bm25_score: float
    dense_rank: int | None
    bm25_rank: int | None


@dataclass
class SearchResult:
    """Hits, best first, plus what the answer stage reuses (the query vector and the keyword tokens)."""

    hits: list[Hit]
    query_vector: np.ndarray
    tokens: list[str]
    timings_ms: dict[str, float] = field(default_factory=dict)


def _ranks(scores: np.ndarray, rows: np.ndarray | None, limit: int, positive_only: bool) -> dict[int, int]:
    """1-based ranks of the best `limit` rows by score (`rows` sorted and unique; None: every row)."""
    if rows is not None and len(rows) == 0:
        return {}
    sub = scores if rows is None or len(rows) == len(scores) else scores[rows]  # all rows: no copy
    if positive_only:
        # Only positive scores are ranked, and they all rank above the rest: select among them alone
        # (BM25 scores a few thousand rows; partitioning all of a 1 M corpus cost ~4 ms per query).
        keep = np.flatnonzero(sub > 0)
        rows, sub = (keep if rows is None else rows[keep]), sub[keep]
        if len(rows) == 0:
            return {}
    elif rows is None:
        rows = np.arange(len(scores))
    return _ranks_of(rows, sub, limit, positive_only)


def _ranks_of(rows: np.ndarray, values: np.ndarray, limit: int, positive_only: bool) -> dict[int, int]:
    """1-based ranks of the best `limit` of `rows` (sorted, unique) by `values`, ties by row."""
    take = min(limit, len(rows))
    if take == 0:
        return {}
    top = np.argpartition(-values, take - 1)[:take] if take < len(rows) else np.arange(len(rows))
    top = top[np.lexsort((rows[top], -values[top]))]  # ties by row: the same order whatever else was scored
    out: dict[int, int] = {}
    for rank, i in enumerate(top, start=1):
        if positive_only and values[i] <= 0:
            break
        out[int(rows[i])] = rank
    return out


def allowed_rows(
    index: Index, speakers: Collection[str] | None, documents: Collection[str] | None
) -> np.ndarray | None:
    """Rows the filters allow, or None for all rows."""
    if not speakers and not documents:
        return None
    # Every stored row is < len(chunks), so the sorted unique union of the filter's rows is already its
    # intersection with all rows (intersecting with np.arange(n) hashed every row: 66 ms at 100 k).
    rows: np.ndarray | None = None
    if speakers:
        parts = [index.speaker_rows(s) for s in speakers]
        rows = np.unique(np.concatenate(parts))
    if documents:
        parts = [index.rows_by_document.get(d, np.zeros(0, dtype=np.int64)) for d in documents]
        wanted = np.unique(np.concatenate(parts))
        rows = wanted if rows is None else np.intersect1d(rows, wanted, assume_unique=True)
    return rows


def row_filter(
    index: Index, speakers: Collection[str] | None, documents: Collection[str] | None
) -> RowFilter | None:
    """The filter the store applies: the speakers' keys, the documents, and the rows they allow."""
    rows = allowed_rows(index, speakers, documents)
    if rows is None:
        return None
    keys = tuple(dict.fromkeys(speaker_key(s) for s in speakers or ()))
    return RowFilter(speaker_keys=keys, documents=tuple(dict.fromkeys(documents or ())), rows=rows)


def sentence_rescore(index: Index, values: np.ndarray, query_vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Lift each scored paragraph (`rows`, their dense scores `values`) to its best sentence's similarity when
    that is higher; returns the new scores of `rows` (a new array).

    A paragraph vector blurs several points together; a question about one of them matches its
    sentence better than the whole paragraph (English questions over Chinese text most of all).
    The sentences of every paragraph are read in one gather (one read per paragraph cost ~0.1 ms each).
    """
    out = np.array(values, dtype=np.float32)
    if len(rows) == 0 or len(index.sentence_vectors) == 0:
        return out
    spans = [index.sentence_rows[int(row)] for row in rows]
    several = [(at, span) for at, span in enumerate(spans) if len(span) > 1]
    if not several:
        return out
    sentence_rows = np.concatenate([np.arange(span.start, span.stop) for _, span in several])
    sims = np.asarray(index.sentence_vectors[sentence_rows] @ query_vector, dtype=np.float32)
    starts = np.cumsum([0] + [len(span) for _, span in several[:-1]])
    best = np.maximum.reduceat(sims, starts)
    lifted = np.asarray([at for at, _ in several], dtype=np.int64)
    out[lifted] = np.maximum(out[lifted], best)
    return out


def _idf(index: Index, token: str) -> float:
    n = max(1, len(index.chunks))
    df = index.store.doc_freq(token)
    return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))


def keyword_confidence(index: Index, tokens: list[str], best_row: int | None) -> float:
    """How much of the question (IDF-weighted) the best keyword match (`best_row`; None: no row scored)
    covers, in 0..1.

    Words the corpus never uses count at full weight: a question phrased in other words than the
    speeches (a paraphrase, or English) gets little say from BM25, and the dense ranking leads.
    """
    # English words the corpus does not use are another language, not missing topic words: leave them out.
    tokens = [t for t in tokens if not (t.isascii() and t.isalpha() and index.store.doc_freq(t) == 0)]
    atomic = [t for t in dict.fromkeys(tokens) if not any(o != t and o in t for o in tokens)]
    if not atomic or best_row is None:
        return 0.0
    text = to_simplified(index.chunks[best_row].text).lower()  # tokens are simplified
    max_idf = _idf(index, "\x00")
    weights = {t: (_idf(index, t) if index.store.doc_freq(t) else max_idf) for t in atomic}
    covered = sum(w for t, w in weights.items() if t in text)
    return min(1.0, 2.0 * covered / sum(weights.values()))


def search(
    index: Index,
    question: str,
    settings: Settings,
    top_k: int | None = None,
    mode: SearchMode | None = None,
    speakers: Collection[str] | None = None,
    documents: Collection[str] | None = None,
    query_vector: np.ndarray | None = None,
    boost_speakers: Collection[str] | None = None,
    keyword_text: str | None = None,
) -> SearchResult:
    """Rank paragraphs for a question. `speakers`/`documents` filter; `boost_speakers` only lift.

    `keyword_text` replaces the question for BM25 (e.g. without the speaker names a filter already uses).
    """
    top_k = top_k or settings.top_k
    mode = mode or settings.mode
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if query_vector is None:
        query_vector = index.embedder.embed_query(to_simplified(question))
    t1 = time.perf_counter()
    timings["embed"] = (t1 - t0) * 1000
    tokens = index.tokenizer.tokens(question)
    keyword_tokens = index.tokenizer.tokens(keyword_text) if keyword_text is not None else tokens
    allowed = row_filter(index, speakers, documents)
    rows = allowed.rows if allowed is not None else None
    limit = max(settings.candidates, top_k)

    dense, bm25 = index.store.hybrid_scores(query_vector, keyword_tokens, limit, allowed)
    scored = np.flatnonzero(dense > -np.inf) if rows is None else rows[dense[rows] > -np.inf]
    # Only the rows the dense search scored are carried on (a few hundred of up to millions of rows).
    dense_scores = sentence_rescore(index, dense[scored], query_vector, scored)
    dense_of = dict(zip(scored.tolist(), dense_scores.tolist(), strict=True))
    dense_rank = _ranks_of(scored, dense_scores, limit, positive_only=False)
    bm25_rank = _ranks(bm25, rows, limit, positive_only=True)  # rows None: every row

    best_keyword_row = next(iter(bm25_rank), None)  # rank 1: the highest positive BM25 score, ties by row
    bm25_weight = settings.bm25_weight * keyword_confidence(index, keyword_tokens, best_keyword_row)
    fused: dict[int, float] = {}
    if mode in ("dense", "hybrid"):
        w = settings.dense_weight if mode == "hybrid" else 1.0
        for row, rank in dense_rank.items():
            fused[row] = fused.get(row, 0.0) + w / (settings.rrf_k + rank)
    if mode in ("bm25", "hybrid"):
        w = bm25_weight if mode == "hybrid" else 1.0
        for row, rank in bm25_rank.items():
            fused[row] = fused.get(row, 0.0) + w / (settings.rrf_k + rank)
    if boost_speakers:
        lifted = set(boost_speakers)
        for row in fused:
            if index.chunks[row].speaker in lifted:
                fused[row] += settings.speaker_boost

    order = sorted(fused, key=lambda r: (-fused[r], r))
    hits = [
        Hit(
            chunk=index.chunks[row],
            row=row,
            score=float(fused[row]),
            rank=rank,
            dense_score=dense_of.get(row, float("nan")),
            bm25_score=float(bm25[row]),
            dense_rank=dense_rank.get(row),
            bm25_rank=bm25_rank.get(row),
        )
        for rank, row in enumerate(order, start=1)
    ]
    timings["search"] = (time.perf_counter() - t1) * 1000
    return SearchResult(hits=hits, query_vector=query_vector, tokens=keyword_tokens, timings_ms=timings)
