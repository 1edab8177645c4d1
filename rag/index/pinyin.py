"""Build stage: the pinyin lexicon that maps romanised corpus words back to them (Malanshan → 马栏山).

Built once per index generation and stored in it (`pinyin.json`), so neither a server's start-up nor its
first question pays for pypinyin (about 1 s for this corpus, minutes for a million paragraphs).
"""

from __future__ import annotations

from collections.abc import Iterable

from rag.textutil import has_cjk

PINYIN_PAIR_LIMIT = 50_000  # paragraphs up to which adjacent-word pairs are indexed too (memory grows with it)
MAX_PAIR_CHARS = 4


def build_pinyin_lexicon(vocabulary: Iterable[str], paragraph_words: Iterable[list[str]] = ()) -> dict[str, str]:
    """pinyin (lower-case, no tones, no spaces) → corpus word.

    `vocabulary` comes first, most frequent words first: where two words share a pinyin the earlier
    one keeps it. `paragraph_words` (each paragraph's words in order) adds words and adjacent pairs
    ("马栏山" + "视频" → "malanshanshipin"). Empty without pypinyin: the bridge is then simply absent.
    """
    try:
        from pypinyin import lazy_pinyin
    except ImportError:
        return {}
    lexicon: dict[str, str] = {}

    def add(word: str) -> None:
        if word in seen:
            return
        seen.add(word)
        key = "".join(lazy_pinyin(word)).lower()
        if key.isascii() and key.isalpha():
            lexicon.setdefault(key, word)

    seen: set[str] = set()
    for word in vocabulary:
        if has_cjk(word) and len(word) >= 2:
            add(word)
    for words in paragraph_words:
        cjk = [w for w in words if has_cjk(w)]
        for a, b in zip(cjk, [*cjk[1:], ""], strict=False):
            if len(a) >= 2:
                add(a)
            if b and len(a + b) <= MAX_PAIR_CHARS:
                add(a + b)
    return lexicon
