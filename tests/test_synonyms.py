"""Words of related meaning from the packaged 同义词词林 (rag.synonyms)."""

from __future__ import annotations

from rag.synonyms import related


def test_related_words_come_from_the_thesaurus() -> None:
    assert "客户" in related("用户") and "用户" in related("客户")
    assert "质量" in related("品质")
    assert "用户" not in related("用户")  # a word is not its own relative


def test_vague_and_unknown_words_have_none() -> None:
    assert all(len(w) >= 2 for w in related("职业"))  # 事, 业 are in its group, too vague to count
    assert related("营收") == frozenset() and related("") == frozenset()
