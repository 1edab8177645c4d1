"""The answer stage: question → plan → retrieval → abstention → excerpts → verified, attributed quotes."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np

from rag import abstain
from rag.compose import Composer, ExtractiveComposer
from rag.crosslingual import is_background, pinyin_terms, shared_topic_words
from rag.errors import QuestionError
from rag.excerpt import choose_excerpt
from rag.index.load import Index
from rag.question import QuestionPlan, analyze
from rag.records import Answer, HistoryTurn, Quote
from rag.retrieval import Hit, SearchResult, search
from rag.settings import SearchMode, Settings
from rag.verify import answer_text_problem, verified

log = logging.getLogger("rag.answer")
MAX_QUESTION_CHARS = 1000
MAX_HISTORY_TURNS = 20
MULTI_KEYWORD_SHARE = 0.5  # a speaker "mentions" a topic when this share of its content words is in the paragraph
MULTI_DENSE_MARGIN = 0.035  # …or when the paragraph's best sentence is this close to the best speaker's
CLOSEST = 3
TOPIC_SCAN_LIMIT = 200_000  # sentences up to which the topic feedback scans them all (memory-mapped above)


def validate_question(question: object) -> str:
    """The trimmed question, or a QuestionError saying what is wrong with it."""
    if not isinstance(question, str):
        raise QuestionError("question must be a string")
    text = question.strip()
    if not text:
        raise QuestionError("question is empty")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"question is {len(text)} characters; the limit is {MAX_QUESTION_CHARS}")
    if not _encodable(text):
        raise QuestionError("question is not valid Unicode text (it contains a lone surrogate)")
    return text


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def has_words(text: str) -> bool:
    """True when the text has a letter, digit or ideograph (not only punctuation, spaces or format characters)."""
    return any(ch.isalnum() for ch in text)


def resolve_speaker(index: Index, speaker: str | None) -> tuple[str, ...]:
    """The speaker filter as registry names; unknown names are refused with the known list."""
    if not speaker or not speaker.strip():
        return ()
    found = index.registry.get(speaker)
    if not found:
        known = ", ".join(index.registry.names())
        raise QuestionError(f"unknown speaker `{speaker.strip()}`; known speakers: {known}")
    return tuple(s.name for s in found)


def _quote(index: Index, hit: Hit, result: SearchResult, settings: Settings, topic: list[str] | None = None) -> Quote:
    chunk = hit.chunk
    tokens = topic or result.tokens
    excerpt = choose_excerpt(index, hit.row, result.query_vector, tokens, settings.max_excerpt_sentences)
    return Quote(
        text=chunk.text[excerpt.start : excerpt.end],
        paragraph=chunk.text,
        start=excerpt.start,
        end=excerpt.end,
        speaker=chunk.speaker,
        title=chunk.title,
        organization=chunk.organization,
        speaker_en=chunk.speaker_en,
        organization_en=chunk.organization_en,
        title_en=chunk.title_en,
        headline=chunk.headline,
        paragraph_id=chunk.id,
        document=chunk.document,
        score=round(hit.score, 6),
        kind=chunk.kind,
    )


def _best_sentence_similarity(index: Index, row: int, query_vector: np.ndarray) -> float:
    rows = index.sentence_rows[row]
    if len(rows) == 0:
        return float(index.vectors[row] @ query_vector)
    return float((index.sentence_vectors[rows.start : rows.stop] @ query_vector).max())


def _candidate_similarities(index: Index, hits: Sequence[Hit], query_vector: np.ndarray) -> np.ndarray:
    """Similarities of the question to a fixed sample of corpus sentences plus the candidates' sentences."""
    sims = [_sentence_sample_vectors(index) @ query_vector]
    for hit in hits[:20]:
        rows = index.sentence_rows[hit.row]
        sims.append(index.sentence_vectors[rows.start : rows.stop] @ query_vector)
    return np.concatenate(sims) if sims else np.zeros(0, dtype=np.float32)


def _sentence_sample_vectors(index: Index, size: int = 2048) -> np.ndarray:
    """A fixed sample of the corpus's sentence vectors, gathered once per index (they are memory-mapped)."""

    def gather() -> np.ndarray:
        n = len(index.sentence_vectors)
        rows = np.arange(n) if n <= size else np.sort(np.random.default_rng(0).choice(n, size, replace=False))
        return np.ascontiguousarray(index.sentence_vectors[rows])

    return index.memo("sentence_sample_vectors", gather)


def _topic_terms(index: Index, plan: QuestionPlan, result: SearchResult) -> list[str]:
    """The question's topic in the corpus's words: 马栏山 for 哪些企业家提到了马栏山, 人才 for "talent"."""
    alias_words = {m.alias.lower() for m in plan.mentions}
    content = [
        t
        for t in result.tokens
        if t not in alias_words and (len(t) >= 2 or t.isdigit()) and (not t.isascii() or index.keyword.doc_freq(t) > 0)
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


def _select_multi(index: Index, hits: list[Hit], result: SearchResult, content: list[str], top_k: int) -> list[Hit]:
    """One best paragraph per speaker who addresses the topic, best speaker first."""

    def share(hit: Hit) -> float:
        text = hit.chunk.text.lower()
        return sum(1 for t in content if t.lower() in text) / len(content) if content else 0.0

    by_speaker: dict[str, list[Hit]] = {}
    for hit in hits:
        if hit.chunk.kind == "speech":
            by_speaker.setdefault(hit.chunk.speaker, []).append(hit)
    if not by_speaker:
        return []
    # Per speaker: the best-ranked paragraph that contains the topic's words, else the best-ranked one.
    best = {s: max(hs, key=lambda h: (share(h) >= MULTI_KEYWORD_SHARE, -h.rank)) for s, hs in by_speaker.items()}
    sims = {s: _best_sentence_similarity(index, h.row, result.query_vector) for s, h in best.items()}
    top_sim = max(sims.values())
    with_words = [h for h in best.values() if share(h) >= MULTI_KEYWORD_SHARE]
    chosen = with_words or [h for s, h in best.items() if sims[s] >= top_sim - MULTI_DENSE_MARGIN]
    chosen.sort(key=lambda h: (-share(h), h.rank))
    return chosen[:top_k]


def _overlaps(text: str, shown: str) -> bool:
    """True when a paragraph was (partly) shown already: a 12-character run of it is in `shown`."""
    if not shown:
        return False
    step = 12
    return any(text[i : i + step] in shown for i in range(0, max(1, len(text) - step + 1), 6))


def ask(
    index: Index,
    question: str,
    settings: Settings,
    *,
    top_k: int | None = None,
    mode: SearchMode | None = None,
    speaker: str | None = None,
    document: str | None = None,
    history: Sequence[HistoryTurn] = (),
    composer: Composer | None = None,
) -> Answer:
    """Answer a question with verified, attributed quotes (or say plainly that the speeches do not)."""
    started = time.perf_counter()
    text = validate_question(question)
    if len(history) > MAX_HISTORY_TURNS:
        raise QuestionError(f"history has {len(history)} turns; the limit is {MAX_HISTORY_TURNS}")
    for turn in history:
        if not all(_encodable(t) for t in (turn.question, turn.answer or "", *turn.speakers)):
            raise QuestionError("history is not valid Unicode text (it contains a lone surrogate)")
    top_k = settings.top_k if top_k is None else top_k
    if not 1 <= top_k <= 20:
        raise QuestionError("top_k must be between 1 and 20")
    if document and document not in index.rows_by_document:
        known = ", ".join(sorted(index.rows_by_document))
        raise QuestionError(f"unknown document `{document}`; known documents: {known}")
    composer = composer or ExtractiveComposer()
    explicit = resolve_speaker(index, speaker)
    plan = analyze(text, index.registry, history)
    if not has_words(text):
        # Only punctuation or invisible characters: nothing to look for, nothing to quote.
        return Answer(
            question=text,
            found=False,
            answer=composer.not_found(plan.language),
            quotes=(),
            language=plan.language,
            intent=plan.intent,
            resolved_question=text,
            generation=index.generation,
            timings_ms={"embed": 0.0, "search": 0.0, "answer": 0.0, "total": (time.perf_counter() - started) * 1000},
        )
    speakers = explicit or plan.filter_speakers

    t0 = time.perf_counter()
    vector = index.embedder.embed_query(plan.search_text)
    t1 = time.perf_counter()
    result = search(
        index,
        plan.search_text,
        settings,
        top_k=top_k,
        mode=mode,
        speakers=speakers or None,
        documents=[document] if document else None,
        query_vector=vector,
        boost_speakers=[m.speaker.name for m in plan.mentions] if plan.intent in ("who", "multi") else None,
        keyword_text=" ".join([plan.keyword_text, *pinyin_terms(index, plan.keyword_text)]),
    )
    t2 = time.perf_counter()
    hits = result.hits
    if plan.intent == "more" and plan.exclude_text:
        hits = [h for h in hits if not _overlaps(h.chunk.text, plan.exclude_text)] or hits
    if plan.intent in ("who", "multi"):
        hits = [h for h in hits if h.chunk.kind == "speech"] or hits

    evidence = abstain.decide(index, plan, _candidate_similarities(index, hits, vector), vector)
    if plan.intent == "more":
        evidence = abstain.Evidence(**{**evidence.__dict__, "abstain": False, "reason": "asks for more"})
    found = bool(hits) and not evidence.abstain
    if found and plan.intent in ("single", "who") and abstain.lacks_asked_quantity(text, hits[0].chunk.text):
        found = False  # asked for a number or date the best passage does not state
    topic = _topic_terms(index, plan, result) if plan.intent == "multi" else None
    chosen = _select_multi(index, hits, result, topic or [], top_k) if topic is not None and found else hits[:top_k]
    quotes = verified(index, [_quote(index, h, result, settings, topic) for h in chosen]) if found else []
    closest: list[Quote] = []
    if not quotes:
        found = False
        closest = verified(index, [_quote(index, h, result, settings) for h in hits[:CLOSEST]])
    if found:
        answer_text = composer.compose(quotes, plan.language, plan.intent)
        problem = answer_text_problem(answer_text, quotes)
        if problem:
            log.error("composer output rejected: %s", problem)
            answer_text = ExtractiveComposer().compose(quotes, plan.language, plan.intent)
    else:
        answer_text = composer.not_found(plan.language)
    t3 = time.perf_counter()
    log.debug("abstention evidence for %r: %s", text, evidence)
    return Answer(
        question=text,
        found=found,
        answer=answer_text,
        quotes=tuple(quotes),
        language=plan.language,
        intent=plan.intent,
        closest=tuple(closest),
        speakers=tuple(dict.fromkeys(q.speaker for q in quotes)),
        resolved_question=plan.search_text,
        generation=index.generation,
        timings_ms={
            "embed": (t1 - t0) * 1000,
            "search": (t2 - t1) * 1000 - result.timings_ms.get("embed", 0.0),
            "answer": (t3 - t2) * 1000,
            "total": (t3 - started) * 1000,
        },
    )
