"""Choosing what to quote: which paragraphs, and whose words in each.

A paragraph may hold several voices: a speaker's speech or answer, or a report's narrative with the
quoted and reported words of the people in it. What a question may be answered with depends on it:
a question that names speakers (or a speaker filter) takes only their words; "who" and "multi"
questions take only people's words (never the reporter's own sentences); a question paragraph is never
an answer, its answer is. People's words rank above a report's own sentences that match about as well,
and a "how many / when" question goes first to the paragraphs that state what it asks (rag.quantity).
A `Pick` is a paragraph and the voices an excerpt of it may take.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

import numpy as np

from rag.corpus import Segment
from rag.crosslingual import is_background, pinyin_terms, shared_topic_words
from rag.excerpt import Voices, choose_excerpt
from rag.index.load import Index
from rag.quantity import QUANTITY_DEPTH, AskedList, AskedQuantity, asked_list, asked_quantity
from rag.question import QuestionPlan
from rag.records import Quote, parse_quote_id
from rag.retrieval import Hit, SearchResult
from rag.script import to_simplified
from rag.speakers import speaker_key
from rag.translation import translate

MULTI_KEYWORD_SHARE = 0.5  # a speaker "mentions" a topic when this share of its content words is in the paragraph
MULTI_DENSE_MARGIN = 0.035  # …or when the paragraph's best sentence is this close to the best speaker's
TOPIC_SCAN_LIMIT = 200_000  # sentences up to which the topic feedback scans them all (above: the candidates' only)
NARRATIVE_WEIGHT = (
    0.9  # a paragraph with nobody's words in it (a report's narrative, an editor's note) weighs this much
)


@dataclass(frozen=True)
class Pick:
    """A paragraph to quote, and whose words in it the excerpt may be: anyone's, people's only, or some people's."""

    hit: Hit
    speakers: frozenset[str] | None = None  # speaker keys; None: no restriction by name
    people_only: bool = False
    asked: AskedQuantity | AskedList | None = None  # what a "how many / how much / when" question asks for

    def voices(self) -> Voices:
        chunk = self.hit.chunk

        def allowed(voice: Segment | None) -> bool:
            if voice is None:
                if chunk.kind == "question":
                    return False  # a question is context for its answer, never an answer
                if not chunk.own_voice_is_a_person:
                    return not self.people_only and self.speakers is None
                name = chunk.speaker
            else:
                name = voice.speaker
            return self.speakers is None or speaker_key(name) in self.speakers

        return allowed


def candidates(index: Index, plan: QuestionPlan, hits: list[Hit], speakers: Collection[str] = ()) -> list[Hit]:
    """The hits the answer may quote: a question's answer in its place; for "more", what was not shown yet;
    for who/multi, paragraphs holding people's words."""
    hits = _answers_for_questions(index, hits, frozenset(speaker_key(s) for s in speakers))
    hits = _people_before_narrative(hits)
    if plan.intent == "more" and plan.exclude_text:
        hits = [h for h in hits if not _overlaps(h.chunk.text, plan.exclude_text)] or hits
    if plan.intent == "more" and plan.shown:
        shown = {quote_paragraph(q) for q in plan.shown}
        hits = [h for h in hits if h.chunk.id not in shown] or hits
    if plan.intent in ("who", "multi"):
        hits = [h for h in hits if h.chunk.persons()] or hits
    return hits


def quote_paragraph(quote_id: str) -> str:
    """The paragraph id of a quote id (`<paragraph id>:<start>-<end>`)."""
    parsed = parse_quote_id(quote_id)
    return parsed[0] if parsed else quote_id


def _people_before_narrative(hits: list[Hit]) -> list[Hit]:
    """People's words rank above a report's own sentences that match about as well.

    What the product quotes is what people said: a report's narrative (报道, 编者按) stays quotable and
    still answers when it clearly matches best, but a speaker's paragraph close behind it goes first.
    """
    if all(h.chunk.persons() for h in hits):
        return hits
    scores = [h.score * (1.0 if h.chunk.persons() else NARRATIVE_WEIGHT) for h in hits]
    order = sorted(range(len(hits)), key=lambda i: -scores[i])  # stable: ties keep the fused order
    return [replace(hits[i], score=scores[i], rank=rank) for rank, i in enumerate(order, start=1)]


def _stating_asked_quantity_first(hits: list[Hit], asked: AskedQuantity | None) -> list[Hit]:
    """For "how many / when": among the best QUANTITY_DEPTH, the paragraphs that state a count (in the unit
    asked) or a date go first, in their order; a paragraph without one cannot answer the question."""
    if asked is None:
        return hits
    head = hits[:QUANTITY_DEPTH]  # a paragraph further down is about something else
    stating = [h for h in head if asked.stated_in(h.chunk.text)]
    if not stating or len(stating) == len(head):
        return hits
    reordered = stating + [h for h in head if h not in stating] + hits[QUANTITY_DEPTH:]
    return [replace(h, rank=rank) for rank, h in enumerate(reordered, start=1)]


def _answers_for_questions(index: Index, hits: list[Hit], wanted: frozenset[str]) -> list[Hit]:
    """A question paragraph stands for its answer: of its answer paragraphs (by a wanted speaker when the
    question names some), the one that matches best on its own (else the first) takes the question's score
    on top of its own, and the hits are ranked again; an unanswered question drops out. A second answerer's
    `补充一点` that matches better than the first answer is lifted, not the first answer. Corpora without
    questions keep their ranking as it is."""
    if not any(h.chunk.kind == "question" for h in hits):
        return hits
    own = {h.row: h.score for h in hits if h.chunk.kind != "question"}
    scores: dict[int, float] = {}
    best: dict[int, Hit] = {}
    for hit in hits:
        if hit.chunk.kind == "question":
            rows = [
                r
                for r in index.answer_rows.get(hit.chunk.id, ())
                if not wanted or any(speaker_key(n) in wanted for n in index.chunks[r].persons())
            ]
            if not rows:
                continue
            row = max(rows, key=lambda r: own.get(r, 0.0))  # ties (none of them matched): the first
            hit = replace(hit, chunk=index.chunks[row], row=row)
        scores[hit.row] = scores.get(hit.row, 0.0) + hit.score
        best.setdefault(hit.row, hit)
    order = sorted(best, key=lambda row: -scores[row])  # stable: ties keep the fused order
    return [replace(best[row], score=scores[row], rank=rank) for rank, row in enumerate(order, start=1)]


def picks(
    index: Index,
    plan: QuestionPlan,
    hits: list[Hit],
    result: SearchResult,
    topic: list[str] | None,
    top_k: int,
    speakers: Collection[str],
) -> list[Pick]:
    """What to quote: one paragraph per speaker who addresses the topic for "multi", else the best top_k."""
    wanted = frozenset(speaker_key(s) for s in speakers) or None
    people_only = plan.intent in ("who", "multi")
    if topic is not None:
        return _multi(index, hits, result, topic_groups(index, plan, topic), top_k, wanted)
    asked = asked_quantity(plan.question)
    hits = _stating_asked_quantity_first(hits, asked)
    # A list question prefers the sentence that enumerates, within each paragraph (not across paragraphs:
    # most long paragraphs enumerate something).
    excerpt_asked = asked or asked_list(plan.question)
    return [Pick(h, wanted, people_only, excerpt_asked) for h in hits[:top_k]]


def quote_of(
    index: Index, pick: Pick, result: SearchResult, max_sentences: int, topic: list[str] | None
) -> Quote | None:
    """The verbatim excerpt of a pick with its attribution, or None when none of its words may be quoted."""
    hit = pick.hit
    chunk = hit.chunk
    excerpt = choose_excerpt(
        index, hit.row, result.query_vector, topic or result.tokens, max_sentences, pick.voices(), pick.asked
    )
    if excerpt is None:
        return None
    voice = excerpt.voice
    question = index.chunk_by_id(chunk.question) if chunk.question else None
    document = index.document(chunk.document)
    return Quote(
        **(voice.speaker_fields() if voice is not None else chunk.speaker_fields()),
        text=chunk.text[excerpt.start : excerpt.end],
        paragraph=chunk.text,
        start=excerpt.start,
        end=excerpt.end,
        paragraph_id=chunk.id,
        document=chunk.document,
        score=round(hit.score, 6),
        kind=chunk.kind,
        attribution=voice.attribution if voice is not None else chunk.attribution,
        context=question.text[question.body_start :] if question else "",
        context_by=question.speaker if question else "",
        page=chunk.pages[0] if chunk.pages else None,  # the page the paragraph starts on
        source=document.source if document else "",
        source_en=document.source_en if document else "",
    )


# ---------------------------------------------------------------- topics and multi-speaker answers


def topic_terms(index: Index, plan: QuestionPlan, result: SearchResult) -> list[str]:
    """The question's topic in the corpus's words: 马栏山 for 哪些企业家提到了马栏山, 人才 for "talent"."""
    alias_words = {m.alias.lower() for m in plan.mentions}
    content = [
        t
        for t in result.tokens
        if t not in alias_words and (len(t) >= 2 or t.isdigit()) and (not t.isascii() or index.store.doc_freq(t) > 0)
    ]
    # Search-mode tokens overlap (人才, 培养, 人才培养): keep the atomic ones.
    content = [t for t in content if not any(o != t and o in t for o in content)]
    # Background words (文化, 湖南) do not make a topic when the question has a more specific one.
    content = [t for t in content if not is_background(index, t)] or content
    if not content:
        # A Latin-script question: name its topic in the corpus's words (pinyin, then shared best sentences).
        content = pinyin_terms(index, plan.search_text) or shared_topic_words(
            index, result.query_vector, rows=_topic_word_rows(index, result)
        )
    return content


def _topic_word_rows(index: Index, result: SearchResult) -> np.ndarray | None:
    """Every sentence (None) up to TOPIC_SCAN_LIMIT; above it only the candidates' sentences.

    Scanning every sentence vector reads them all: ~2 M sentences and 3 GB at 1 M paragraphs per query.
    """
    if len(index.sentences) <= TOPIC_SCAN_LIMIT or not result.hits:
        return None
    spans = [index.sentence_rows[hit.row] for hit in result.hits]
    return np.unique(np.concatenate([np.arange(s.start, s.stop) for s in spans]))


def best_sentence_similarity(index: Index, row: int, query_vector: np.ndarray) -> float:
    rows = index.sentence_rows[row]
    if len(rows) == 0:
        return float(index.vectors[row] @ query_vector)
    return float((index.sentence_vectors[rows.start : rows.stop] @ query_vector).max())


def topic_groups(index: Index, plan: QuestionPlan, topic: list[str]) -> list[frozenset[str]]:
    """The topic as concepts, each a set of alternative words: an English phrase's translations are one concept
    ("industry" → 工业 | 产业 | 行业), every other topic word its own."""
    groups: list[frozenset[str]] = []
    for t in translate(index, plan.keyword_text) if plan.language != "zh" else []:
        group = frozenset(t.words)
        if group not in groups and any(w in topic or any(p in w for p in topic) for w in group):
            groups.append(group)
    # A topic token inside a translation (虚拟 in 虚拟现实) is that concept, not one of its own.
    inside = {p for p in topic for g in groups for w in g if p in w}
    return groups + [frozenset({w}) for w in topic if w not in inside]


def _multi(
    index: Index,
    hits: list[Hit],
    result: SearchResult,
    content: list[frozenset[str]],
    top_k: int,
    wanted: frozenset[str] | None,
) -> list[Pick]:
    """One best paragraph per speaker who addresses the topic (its concepts), best speaker first."""

    def share(hit: Hit) -> float:
        text = to_simplified(hit.chunk.text).lower()
        return sum(1 for g in content if any(t.lower() in text for t in g)) / len(content) if content else 0.0

    by_speaker: dict[str, list[Hit]] = {}
    for hit in hits:
        for name in hit.chunk.persons():
            key = speaker_key(name)
            if wanted is None or key in wanted:
                by_speaker.setdefault(key, []).append(hit)
    if not by_speaker:
        return []
    # Per speaker: the best-ranked paragraph that contains the topic's words, else the best-ranked one.
    best = {s: max(hs, key=lambda h: (share(h) >= MULTI_KEYWORD_SHARE, -h.rank)) for s, hs in by_speaker.items()}
    sims = {s: best_sentence_similarity(index, h.row, result.query_vector) for s, h in best.items()}
    top_sim = max(sims.values())
    with_words = [s for s, h in best.items() if share(h) >= MULTI_KEYWORD_SHARE]
    chosen = with_words or [s for s in best if sims[s] >= top_sim - MULTI_DENSE_MARGIN]
    chosen.sort(key=lambda s: (-share(best[s]), best[s].rank))
    return [Pick(best[s], frozenset({s}), True) for s in chosen[:top_k]]


def _overlaps(text: str, shown: str) -> bool:
    """True when a paragraph was (partly) shown already: a 12-character run of it is in `shown`."""
    if not shown:
        return False
    step = 12
    return any(text[i : i + step] in shown for i in range(0, max(1, len(text) - step + 1), 6))
