"""Retrieval on the real index with the real model: each mode, filters, fusion settings."""

from __future__ import annotations

import pytest

from rag import Settings, search

P = "wenhua-keji-zuotanhui-p"


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_each_mode_finds_the_customer_figure(index, settings: Settings, mode: str) -> None:
    result = search(index, "中国移动目前全国客户规模有多少？", settings, mode=mode)
    assert result.hits[0].chunk.id == P + "6"
    assert "10亿" in result.hits[0].chunk.text
    assert result.hits[0].chunk.speaker == "张冬"
    assert [h.rank for h in result.hits] == list(range(1, len(result.hits) + 1))
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)


def test_bm25_only_returns_paragraphs_sharing_a_word(index, settings: Settings) -> None:
    result = search(index, "Adobe", settings, mode="bm25")
    assert [h.chunk.id for h in result.hits] == [P + "29"]
    assert result.hits[0].bm25_score > 0
    assert result.hits[0].score == pytest.approx(1 / (settings.rrf_k + 1))  # the dense rank is not fused in
    assert search(index, "Tesla", settings, mode="bm25").hits == []


def test_dense_answers_english_over_chinese(index, settings: Settings) -> None:
    result = search(index, "How many customers does China Mobile have?", settings, mode="dense")
    assert result.hits[0].chunk.id == P + "6"


def test_hybrid_fuses_both_rankings(index, settings: Settings) -> None:
    result = search(index, "马栏山译制中心", settings, mode="hybrid")
    top = result.hits[0]
    assert top.chunk.id == P + "20"
    assert top.dense_rank is not None and top.bm25_rank is not None
    expected = 1 / (settings.rrf_k + top.dense_rank) + 1 / (settings.rrf_k + top.bm25_rank)
    assert top.score == pytest.approx(expected)


def test_fusion_weights_are_settings(index, settings: Settings) -> None:
    keyword_only = Settings(**{**settings.model_dump(), "dense_weight": 0.0})
    fused = search(index, "人才", keyword_only, mode="hybrid")
    bm25 = search(index, "人才", settings, mode="bm25")
    assert [h.chunk.id for h in fused.hits if h.bm25_rank][:5] == [h.chunk.id for h in bm25.hits][:5]


def test_speaker_filter(index, settings: Settings) -> None:
    result = search(index, "马栏山", settings, speakers=["张平安"])
    assert result.hits and {h.chunk.speaker for h in result.hits} == {"张平安"}
    assert result.hits[0].chunk.id == P + "17"


def test_document_filter(index, settings: Settings) -> None:
    assert search(index, "马栏山", settings, documents=["wenhua-keji-zuotanhui"]).hits
    assert search(index, "马栏山", settings, documents=["no-such-document"]).hits == []


def test_speaker_names_stay_one_token(index) -> None:
    tokens = index.tokenizer.tokens("科大讯飞的刘庆峰和拓维信息")
    assert {"科大讯飞", "刘庆峰", "拓维信息"} <= set(tokens)
    assert index.tokenizer.tokens("iFLYTEK 5G AI") == ["iflytek", "5g", "ai"]
