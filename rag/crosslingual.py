"""Bridges from Latin-script questions to the Chinese corpus's own words.

- Pinyin: "Malanshan" and "Changsha" are romanised corpus words; a lexicon from the pinyin of corpus
  words (and adjacent word pairs) maps them back to 马栏山 and 长沙.
- Pseudo-relevance feedback: for an English topic ("talent"), the words shared by the best-matching
  sentences of different speakers (人才) name the topic in the corpus's language.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from rag.index.load import Index

BACKGROUND_SHARE = 0.2  # words in this share of paragraphs are background (湖南, 文化), never a topic
_LATIN = re.compile(r"[A-Za-z]{3,}")


def pinyin_terms(index: Index, text: str) -> list[str]:
    """Corpus words whose pinyin is a Latin word of the question (Malanshan → 马栏山)."""
    lexicon = index.pinyin
    out = []
    for word in _LATIN.findall(text):
        hit = lexicon.get(word.lower()) or lexicon.get(word.lower().removesuffix("s"))
        if hit and not is_background(index, hit, share=0.4):  # "Hunan" → 湖南 is in most paragraphs
            out.append(hit)
    return list(dict.fromkeys(out))


def is_background(index: Index, word: str, share: float = BACKGROUND_SHARE) -> bool:
    """True for words in at least `share` of the paragraphs (湖南, 文化): context, not a topic."""
    n = len(index.chunks)
    return n >= 10 and index.store.doc_freq(word.lower()) / n >= share


def shared_topic_words(
    index: Index, query_vector: np.ndarray, rows: np.ndarray | None = None, top: int = 3
) -> list[str]:
    """Words shared by the best sentences of different speakers: the topic in the corpus's words."""
    if len(index.sentence_vectors) == 0:
        return []
    candidates = np.arange(len(index.sentences)) if rows is None else rows
    # Without rows, multiply the on-disk matrix block by block: indexing it by every row copied it whole.
    sims = (index.sentence_vectors if rows is None else index.sentence_vectors[candidates]) @ query_vector
    order = candidates[np.argsort(-sims)]
    best_by_speaker: list[int] = []
    seen: set[str] = set()
    for sentence_row in order:
        chunk = index.chunks[int(index.sentences[sentence_row][0])]
        if chunk.kind != "speech" or chunk.speaker in seen:
            continue
        seen.add(chunk.speaker)
        best_by_speaker.append(int(sentence_row))
        if len(best_by_speaker) == top:
            break
    counts: Counter[str] = Counter()
    for sentence_row in best_by_speaker:
        chunk_row, start, end = (int(x) for x in index.sentences[sentence_row])
        words = {t for t in index.tokenizer.tokens(index.chunks[chunk_row].text[start:end]) if len(t) >= 2}
        counts.update(w for w in words if not is_background(index, w))
    return [w for w, c in counts.most_common() if c >= 2]
