"""Choosing the excerpt: the sentence, or few consecutive sentences, of a paragraph that answer the question."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag.corpus import Segment
from rag.crosslingual import is_background
from rag.index.load import Index
from rag.quantity import AskedList, AskedQuantity
from rag.script import to_simplified
from rag.textutil import quotes_balanced

KEYWORD_WEIGHT = 0.25  # weight of token overlap next to cosine similarity (both in 0..1)
NUMBER_BONUS = 0.1  # a "how many / when" question prefers the sentence that states what it asks
EXTEND_MARGIN = 0.03  # a neighbour joins the excerpt when it scores this close to the best sentence
BACK_REFERENCE = ("这", "此", "该", "它", "他们", "其中", "因此", "所以", "对此")
SHORT_SENTENCE = 14
LEADS_ON = ("：", ":", "？", "?")


@dataclass(frozen=True)
class Excerpt:
    """Offsets of the chosen sentences in their paragraph, and how well they match."""

    start: int
    end: int
    score: float
    sentence_scores: tuple[float, ...]
    voice: Segment | None = None  # the segment whose words these are; None: the paragraph's own voice


SENTENCE_TOKEN_CACHE = 16_384  # sentences whose tokens one index keeps (bounded; dies with the index)


def _token_set(index: Index, row: int) -> frozenset[str]:
    """A sentence's keyword tokens, cached on the index itself so a replaced generation is freed with it."""
    cache: dict[int, frozenset[str]] = index.memo("sentence_tokens", dict)
    tokens = cache.get(row)
    if tokens is None:
        chunk_row, start, end = (int(x) for x in index.sentences[row])
        tokens = frozenset(index.tokenizer.tokens(index.chunks[chunk_row].text[start:end]))
        if len(cache) >= SENTENCE_TOKEN_CACHE:
            cache.clear()  # bounded, and safe beside other threads (evicting one key raced with them)
        cache[row] = tokens
    return tokens


def sentence_scores(
    index: Index, chunk_row: int, query_vector: np.ndarray, tokens: list[str], asked: AskedQuantity | AskedList | None = None
) -> list[float]:
    """Score each sentence of a paragraph: cosine similarity plus weighted keyword overlap, plus a bonus for
    stating what a "how many / how much / when" question asks."""
    rows = index.sentence_rows[chunk_row]
    if len(rows) == 0:
        return []
    sims = index.sentence_vectors[rows.start : rows.stop] @ query_vector
    # Background words (湖南, 文化: in a fifth of all paragraphs) say nothing about which sentence answers.
    wanted = {t for t in tokens if not is_background(index, t)} or set(tokens)
    chunk = index.chunks[chunk_row]
    out = []
    for i, row in enumerate(rows):
        overlap = len(wanted & _token_set(index, row)) / len(wanted) if wanted else 0.0
        score = float(sims[i]) + KEYWORD_WEIGHT * overlap
        if asked is not None:
            _, start, end = (int(x) for x in index.sentences[row])
            score += NUMBER_BONUS * asked.stated_in(chunk.text[start:end])
        out.append(score)
    return out


Voices = Callable[[Segment | None], bool]
"""Which words may be quoted: a segment's (a person's, inside a narrative paragraph) or None (the paragraph's own)."""


def any_voice(voice: Segment | None) -> bool:
    return True


def choose_excerpt(
    index: Index,
    chunk_row: int,
    query_vector: np.ndarray,
    tokens: list[str],
    max_sentences: int,
    voices: Voices = any_voice,
    asked: AskedQuantity | AskedList | None = None,
) -> Excerpt | None:
    """Best sentence, widened to close neighbours, back-references and list introductions; balanced quotes.

    Only sentences of one voice the caller allows are chosen, and the excerpt never crosses into another
    voice (a reporter's sentence never joins a speaker's quote). None when no sentence's voice is allowed.
    """
    chunk = index.chunks[chunk_row]
    text = chunk.text
    rows = index.sentence_rows[chunk_row]
    spans = [(int(index.sentences[r][1]), int(index.sentences[r][2])) for r in rows]
    units = [(s, e, chunk.voice_at(s, e)) for s, e in spans]
    allowed = [voices(v) for _, _, v in units]
    if not any(allowed):
        return None
    if len(units) == 1 and chunk.body_start == 0 and units[0][2] is None:
        return Excerpt(0, len(text), 1.0, (1.0,), None)
    scores = sentence_scores(index, chunk_row, query_vector, tokens, asked)
    best = max((i for i in range(len(units)) if allowed[i]), key=lambda i: scores[i])
    voice = units[best][2]
    lo, hi = _widen(text, units, scores, best, max_sentences)
    start, end = spans[lo][0], spans[hi][1]
    end = len(text[:end].rstrip())
    return Excerpt(start, end, float(np.mean(scores[lo : hi + 1])), tuple(scores), voice)


def _widen(
    text: str, units: list[tuple[int, int, Segment | None]], scores: list[float], best: int, max_sentences: int
) -> tuple[int, int]:
    """The first and last sentence of the excerpt around `best`, all of one voice."""
    voice = units[best][2]
    same = [u[2] is voice for u in units]
    spans = [(s, e) for s, e, _ in units]
    lo = hi = best

    def fits() -> bool:
        return hi - lo + 1 < max_sentences

    # A sentence that leans on the previous one ("这些合作…") needs it to make sense.
    if (
        lo > 0
        and same[lo - 1]
        and to_simplified(text[spans[lo][0] : spans[lo][0] + 4]).startswith(BACK_REFERENCE)
        and fits()
    ):
        lo -= 1
    # A sentence introducing what follows ("要做好以下三点：") or asking what the next one answers
    # ("如何更好地……？我建议……") needs the next one.
    if (
        hi + 1 < len(spans)
        and same[hi + 1]
        and text[spans[hi][0] : spans[hi][1]].rstrip().endswith(LEADS_ON)
        and fits()
    ):
        hi += 1
    while fits():
        left = scores[lo - 1] if lo > 0 and same[lo - 1] else -np.inf
        right = scores[hi + 1] if hi + 1 < len(spans) and same[hi + 1] else -np.inf
        short = spans[hi][1] - spans[lo][0] < SHORT_SENTENCE
        if right >= left and (right >= scores[best] - EXTEND_MARGIN or (short and np.isfinite(right))):
            hi += 1
        elif left > right and (left >= scores[best] - EXTEND_MARGIN or (short and np.isfinite(left))):
            lo -= 1
        else:
            break
    start, end = spans[lo][0], spans[hi][1]
    while not quotes_balanced(text[start:end]) and (
        (lo > 0 and same[lo - 1]) or (hi + 1 < len(spans) and same[hi + 1])
    ):
        if hi + 1 < len(spans) and same[hi + 1]:
            hi += 1
        else:
            lo -= 1
        start, end = spans[lo][0], spans[hi][1]
    return lo, hi
