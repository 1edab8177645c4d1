"""The dense index above the exact-search threshold: projected 8-bit IVF codes propose, exact vectors decide.

Unit logic over clustered random vectors (the product's recall at scale is bench/segments.py's), then a
real generation built past the threshold, its segments and a merge of them.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path
from types import SimpleNamespace

import faiss
import numpy as np
import pytest
from support.embedder import FakeEmbedder

from rag import Settings, build_index, load_index
from rag.index import layout
from rag.index.build import IVF_MIN_SCANNED, make_dense_index, projection
from rag.index.layout import DenseIndexInfo
from rag.index.local_store import search_dense, set_nprobe
from rag.index.merge import optimize
from rag.index.segment import read_dense
from rag.index.segmented import SegmentStore, make_parts
from rag.store import BM25_DECIMALS, rounded_scores

SPEECHES = Path(__file__).resolve().parent / "fixtures" / "speeches"


def _clustered(n: int, d: int = 384, centres: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    middle = rng.normal(size=(centres, d)).astype(np.float32)
    x = middle[rng.integers(centres, size=n)] + 0.6 * rng.normal(size=(n, d)).astype(np.float32)
    x += 2.0  # a common direction, as sentence embeddings have
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return _clustered(8000)


@pytest.fixture(scope="module")
def queries() -> np.ndarray:
    return _clustered(40, seed=7)


def _exact_top(vectors: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    products = vectors @ q
    return np.lexsort((np.arange(len(products)), -products))[:k]


def test_above_the_threshold_the_index_is_projected_ivf_codes(vectors: np.ndarray) -> None:
    index, info = make_dense_index(vectors, threshold=1000)
    ivf = faiss.extract_index_ivf(index)
    assert info.type == f"ivf-pca{ivf.d}-sq8-ip"
    assert info.nlist == round(2 * np.sqrt(len(vectors)))
    # A third of the lists, or lists enough for IVF_MIN_SCANNED paragraphs: all of them at 8 000.
    assert info.nprobe == info.nlist
    big = make_dense_index(_clustered(90_000, centres=200), threshold=1000)[1]
    assert big.nlist is not None and big.nprobe == max(big.nlist // 3, -(-big.nlist * IVF_MIN_SCANNED // 90_000))
    assert ivf.ntotal == len(vectors) and ivf.nprobe == info.nprobe
    small, small_info = make_dense_index(vectors[:1000], threshold=1000)
    assert small_info == DenseIndexInfo("flat-ip") and isinstance(small, faiss.IndexFlat)


def test_the_projection_keeps_as_many_directions_as_the_variance_needs() -> None:
    rng = np.random.default_rng(5)
    # Variance in 40 directions (plus a little everywhere): a multiple of 16 at or just above 40 is kept.
    basis = np.linalg.qr(rng.normal(size=(384, 384)))[0][:, :40]
    low_rank = rng.normal(size=(5000, 40)) @ basis.T + 0.01 * rng.normal(size=(5000, 384)) + 1.0
    assert projection(low_rank.astype(np.float32)).d_out in (48, 64)
    # Variance spread nearly evenly: most dimensions are kept.
    assert projection(_clustered(5000)).d_out >= 256
    # The projected product approximates the inner product itself (the common direction is kept).
    x = (low_rank / np.linalg.norm(low_rank, axis=1, keepdims=True)).astype(np.float32)
    t = projection(x)
    px = t.apply(x[:50])
    np.testing.assert_allclose(px @ px[0], x[:50] @ x[0], atol=1e-3)


def test_scores_are_the_exact_products_and_the_best_rows_are_found(vectors: np.ndarray, queries: np.ndarray) -> None:
    index, _ = make_dense_index(vectors, threshold=1000)
    found = 0
    for q in queries:
        scores, rows = search_dense(index, vectors, q, 10)
        assert (rows[0] >= 0).all() and len(set(rows[0].tolist())) == 10
        # Every score is the exact inner product, and the rows come best first.
        np.testing.assert_allclose(scores[0], vectors[rows[0]] @ q, rtol=1e-6)
        assert (np.diff(scores[0]) <= 0).all()
        found += len(set(rows[0].tolist()) & set(_exact_top(vectors, q, 10).tolist()))
    assert found / (10 * len(queries)) >= 0.95


def test_fewer_rows_than_asked_pad_with_minus_one(vectors: np.ndarray) -> None:
    index, _ = make_dense_index(vectors[:300], threshold=100)
    scores, rows = search_dense(index, vectors[:300], vectors[0], 400)
    real = rows[0] >= 0
    assert real.sum() <= 300 and (rows[0][~real] == -1).all() and np.isneginf(scores[0][~real]).all()
    assert rows[0][0] == 0  # a stored vector is its own best match


def test_the_index_survives_writing_and_reading_with_its_probe_count(
    vectors: np.ndarray, queries: np.ndarray, tmp_path: Path
) -> None:
    index, info = make_dense_index(vectors, threshold=1000)
    path = tmp_path / "dense.faiss"
    faiss.write_index(index, str(path))
    read = read_dense(path, info)
    assert faiss.extract_index_ivf(read).nprobe == info.nprobe
    for q in queries[:10]:
        assert np.array_equal(search_dense(read, vectors, q, 10)[1], search_dense(index, vectors, q, 10)[1])


def test_an_earlier_float16_index_is_still_searched_and_rescored(vectors: np.ndarray, tmp_path: Path) -> None:
    d = vectors.shape[1]
    old = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(d), d, 64, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )
    old.train(vectors)
    old.add(vectors)
    path = tmp_path / "old.faiss"
    faiss.write_index(old, str(path))
    info = DenseIndexInfo("ivf-fp16-ip", 64, 16)
    read = read_dense(path, info)  # memory-mapped, as before
    set_nprobe(read, info)
    assert read.nprobe == 16
    scores, rows = search_dense(read, vectors, vectors[5], 5)
    assert rows[0][0] == 5
    np.testing.assert_allclose(scores[0], vectors[rows[0]] @ vectors[5], rtol=1e-6)


def test_rounding_bm25_scores_in_place_is_numpys_rounding() -> None:
    rng = np.random.default_rng(3)
    scores = (rng.random(50_000) * 40).astype(np.float32)
    scores[rng.random(50_000) < 0.7] = 0
    scores[:4] = np.float32([0.000005, 0.000015, 2.5e-6, 12.345675])  # halves and near-halves
    expected = scores.copy()
    nonzero = np.flatnonzero(expected)
    expected[nonzero] = np.round(expected[nonzero], BM25_DECIMALS)
    out = rounded_scores(scores)
    assert out is scores and np.array_equal(out, expected)
    assert (out[expected == 0] == 0).all()


def test_a_generation_past_the_threshold_searches_its_segments_exactly(tmp_path: Path, corpus_dir: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(corpus_dir, corpus)
    for name in ("interview-qa.txt", "news-xinhua.txt", "press-numbered.txt"):
        shutil.copyfile(SPEECHES / name, corpus / name)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", dense_index_threshold=40)
    build_index(settings, FakeEmbedder())
    index = load_index(settings, FakeEmbedder())
    assert index.manifest.segments and len(index.chunks) > 40
    segment = index.store.segments[0]
    assert segment.manifest.dense_index.type.startswith("ivf-pca")
    vectors = np.asarray(index.vectors)
    for row in range(0, len(index.chunks), 7):
        q = vectors[row]
        scores = index.store.dense_search(q, 10, None)
        top = np.flatnonzero(np.isfinite(scores))
        assert 0 < len(top) <= 10 and row in top  # a paragraph finds itself
        np.testing.assert_allclose(scores[top], vectors[top] @ q, rtol=1e-5)
    # A full merge keeps an approximate index over every row, searched the same way.
    optimize(settings, FakeEmbedder(), full=True)
    merged = load_index(settings, FakeEmbedder())
    assert len(merged.store.segments) == 1 and merged.store.segments[0].dense.ntotal == len(index.chunks)
    assert (merged.folder / layout.MANIFEST).is_file()
    q = vectors[3]
    assert int(np.argmax(merged.store.dense_search(q, 10, None))) == 3


class _VectorSegment:
    """Just what `SegmentStore`'s dense search reads of a segment: its vectors, FAISS index and row tables."""

    def __init__(self, name: str, vectors: np.ndarray, threshold: int) -> None:
        self.name = name
        self.vectors = vectors
        self.sentence_vectors = vectors[:0]
        self.sentences = np.zeros((0, 3), dtype=np.int32)
        self.dense = make_dense_index(vectors, threshold=threshold)[0]
        self.rows_by_document = {"doc": list(range(0, len(vectors), 5))}  # every fifth row, for deletions
        self.postings = SimpleNamespace(doc_len=np.ones(len(vectors), dtype=np.int32))

    def __len__(self) -> int:
        return len(self.vectors)


def test_several_ivf_segments_pool_their_proposals_and_rescore_the_best_exactly() -> None:
    """The pooled cut over several IVF segments finds what exact search over their live rows finds."""
    sizes = [9000, 5000, 3000, 2500]
    whole = _clustered(sum(sizes), seed=3)
    starts = np.cumsum([0, *sizes])
    segments = [_VectorSegment(str(i), whole[a:b], 1000) for i, (a, b) in enumerate(itertools.pairwise(starts))]
    assert all(not isinstance(s.dense, faiss.IndexFlat) for s in segments)
    parts = make_parts(segments, {"1": ["doc"]})  # the second segment's every fifth row is deleted
    store = SegmentStore(parts, whole.shape[1])
    live = np.concatenate([np.arange(a, b) for a, b in itertools.pairwise(starts)])
    live = live[~((live >= starts[1]) & (live < starts[2]) & ((live - starts[1]) % 5 == 0))]
    assert store.n == len(live)
    found = 0
    for q in _clustered(30, seed=11):
        scores = store.dense_search(q, 10, None)
        top = np.flatnonzero(np.isfinite(scores))
        assert len(top) == 10
        np.testing.assert_allclose(scores[top], whole[live[top]] @ q, rtol=1e-5)  # exact, on global rows
        exact = _exact_top(whole[live], q, 10)
        found += len(set(top.tolist()) & set(exact.tolist()))
    assert found / 300 >= 0.97
