"""The answer stage: question → plan → retrieval → abstention → excerpts → verified, attributed quotes."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rag import abstain
from rag.compose import Composer, ExtractiveComposer
from rag.crosslingual import is_background, pinyin_terms, shared_topic_words
from rag.errors import UnknownFilter
from rag.excerpt import choose_excerpt
from rag.index.load import Index
from rag.question import QuestionPlan, analyze
from rag.records import Answer, AskRequest, HistoryTurn, Quote
from rag.retrieval import Hit, SearchResult, search
from rag.settings import Settings
from rag.verify import answer_text_problem, verified
from rag.vocabulary import SearchMode

log = logging.getLogger("rag.answer")
MULTI_KEYWORD_SHARE = 0.5  # a speaker "mentions" a topic when this share of its content words is in the paragraph
MULTI_DENSE_MARGIN = 0.035  # …or when the paragraph's best sentence is this close to the best speaker's
CLOSEST = 3
TOPIC_SCAN_LIMIT = 200_000  # sentences up to which the topic feedback scans them all (memory-mapped above)


def has_words(text: str) -> bool:
    """True when the text has a letter, digit or ideograph (not only punctuation, spaces or format characters)."""
    return any(ch.isalnum() for ch in text)


def resolve_speaker(index: Index, speaker: str | None) -> tuple[str, ...]:
    """The speaker filter as registry names; unknown names are refused with the known list."""
    if not speaker:
        return ()
    found = index.registry.get(speaker)
    if not found:
        known = index.registry.names()
        raise UnknownFilter(
            f"unknown speaker `{speaker}`; known speakers: {', '.join(known)}", known_speakers=tuple(known)
        )
    return tuple(s.name for s in found)


def resolve_document(index: Index, document: str | None) -> str | None:
    """The document filter; an unknown slug is refused with the known ones."""
    if document and index.document(document) is None:
        known = sorted(d.slug for d in index.documents)
        raise UnknownFilter(
            f"unknown document `{document}`; known documents: {', '.join(known)}", known_documents=tuple(known)
        )
    return document


def _quote(index: Index, hit: Hit, result: SearchResult, settings: Settings, topic: list[str] | None = None) -> Quote:
    chunk = hit.chunk
    tokens = topic or result.tokens
    excerpt = choose_excerpt(index, hit.row, result.query_vector, tokens, settings.max_excerpt_sentences)
    return Quote(
        **chunk.speaker_fields(),
        text=chunk.text[excerpt.start : excerpt.end],
        paragraph=chunk.text,
        start=excerpt.start,
        end=excerpt.end,
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
    question: str | AskRequest,
    settings: Settings,
    *,
    top_k: int | None = None,
    mode: SearchMode | None = None,
    speaker: str | None = None,
    document: str | None = None,
    history: Sequence[HistoryTurn] = (),
    composer: Composer | None = None,
) -> Answer:
    """Answer a question with verified, attributed quotes (or say plainly that the speeches do not).

    `question` is an AskRequest, or the question text with the request's options as keywords.
    """
    request = (
        question
        if isinstance(question, AskRequest)
        else AskRequest(question, top_k, mode, speaker, document, tuple(history))
    )
    return answer_request(index, request, settings, composer or ExtractiveComposer())


@dataclass(frozen=True)
class _Options:
    """A checked request with the settings' defaults applied and its filters resolved against the index."""

    request: AskRequest
    top_k: int
    mode: SearchMode
    speakers: tuple[str, ...]  # the explicit speaker filter, as registry names
    document: str | None


@dataclass
class _Clock:
    started: float = field(default_factory=time.perf_counter)
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str) -> None:
        self.marks[name] = time.perf_counter()

    def timings(self, search_embed_ms: float = 0.0) -> dict[str, float]:
        now = time.perf_counter()
        embedded = self.marks.get("embedded", self.started)
        searched = self.marks.get("searched", embedded)
        return {
            "embed": (embedded - self.marks.get("planned", embedded)) * 1000,
            "search": (searched - embedded) * 1000 - search_embed_ms,
            "answer": (now - searched) * 1000 if "searched" in self.marks else 0.0,
            "total": (now - self.started) * 1000,
        }


def answer_request(index: Index, request: AskRequest, settings: Settings, composer: Composer) -> Answer:
    """check options → plan → retrieve → decide → select → quote → compose."""
    clock = _Clock()
    options = check_options(index, request, settings)
    plan = analyze(options.request.question, index.registry, options.request.history)
    if not has_words(plan.question):
        # Only punctuation or invisible characters: nothing to look for, nothing to quote.
        return _answer(index, plan, composer.not_found(plan.language), clock.timings())
    clock.mark("planned")
    result = retrieve(index, plan, options, settings, clock)
    hits = candidates(plan, result.hits)
    found = decide(index, plan, hits, result.query_vector)
    topic = _topic_terms(index, plan, result) if plan.intent == "multi" else None
    chosen = select(index, plan, hits, result, topic, options.top_k) if found else []
    quotes = verified(index, [_quote(index, h, result, settings, topic) for h in chosen])
    closest = [] if quotes else verified(index, [_quote(index, h, result, settings) for h in hits[:CLOSEST]])
    text = compose(composer, quotes, plan)
    return _answer(index, plan, text, clock.timings(result.timings_ms.get("embed", 0.0)), quotes, closest)


def check_options(index: Index, request: AskRequest, settings: Settings) -> _Options:
    """The request checked, with defaults applied and its speaker and document filters resolved (or refused)."""
    checked = request.checked().with_defaults(settings.top_k, settings.mode)
    assert checked.top_k is not None and checked.mode is not None
    return _Options(
        request=checked,
        top_k=checked.top_k,
        mode=checked.mode,
        speakers=resolve_speaker(index, checked.speaker),
        document=resolve_document(index, checked.document),
    )


def retrieve(index: Index, plan: QuestionPlan, options: _Options, settings: Settings, clock: _Clock) -> SearchResult:
    """One query embedding, then the fused ranking under the filters the request and the question imply."""
    vector = index.embedder.embed_query(plan.search_text)
    clock.mark("embedded")
    speakers = options.speakers or plan.filter_speakers
    result = search(
        index,
        plan.search_text,
        settings,
        top_k=options.top_k,
        mode=options.mode,
        speakers=speakers or None,
        documents=[options.document] if options.document else None,
        query_vector=vector,
        boost_speakers=[m.speaker.name for m in plan.mentions] if plan.intent in ("who", "multi") else None,
        keyword_text=" ".join([plan.keyword_text, *pinyin_terms(index, plan.keyword_text)]),
    )
    clock.mark("searched")
    return result


def candidates(plan: QuestionPlan, hits: list[Hit]) -> list[Hit]:
    """The hits the answer may quote: for "more", what was not shown yet; for who/multi, speakers' words only."""
    if plan.intent == "more" and plan.exclude_text:
        hits = [h for h in hits if not _overlaps(h.chunk.text, plan.exclude_text)] or hits
    if plan.intent in ("who", "multi"):
        hits = [h for h in hits if h.chunk.kind == "speech"] or hits
    return hits


def decide(index: Index, plan: QuestionPlan, hits: list[Hit], query_vector: np.ndarray) -> bool:
    """Whether the speeches answer the question at all (abstention from evidence, rag.abstain)."""
    if not hits:
        return False
    evidence = abstain.decide(index, plan, _candidate_similarities(index, hits, query_vector), query_vector)
    log.debug("abstention evidence for %r: %s", plan.question, evidence)
    if plan.intent == "more":
        return True  # asks for more of a speaker already answering: never "not found"
    if evidence.abstain:
        return False
    # A question for a number or date that the best passage does not state is not answered by it.
    return not (plan.intent in ("single", "who") and abstain.lacks_asked_quantity(plan.question, hits[0].chunk.text))


def select(
    index: Index, plan: QuestionPlan, hits: list[Hit], result: SearchResult, topic: list[str] | None, top_k: int
) -> list[Hit]:
    """The paragraphs to quote: one per speaker who addresses the topic for "multi", else the best top_k."""
    if topic is not None:
        return _select_multi(index, hits, result, topic, top_k)
    return hits[:top_k]


def compose(composer: Composer, quotes: list[Quote], plan: QuestionPlan) -> str:
    """The readable answer; a composer's text that quotes anything but a verified excerpt is replaced."""
    if not quotes:
        return composer.not_found(plan.language)
    text = composer.compose(quotes, plan.language, plan.intent)
    problem = answer_text_problem(text, quotes)
    if problem:
        log.error("composer output rejected: %s", problem)
        text = ExtractiveComposer().compose(quotes, plan.language, plan.intent)
    return text


def _answer(
    index: Index,
    plan: QuestionPlan,
    text: str,
    timings: dict[str, float],
    quotes: Sequence[Quote] = (),
    closest: Sequence[Quote] = (),
) -> Answer:
    return Answer(
        question=plan.question,
        found=bool(quotes),
        answer=text,
        quotes=tuple(quotes),
        language=plan.language,
        intent=plan.intent,
        closest=tuple(closest),
        speakers=tuple(dict.fromkeys(q.speaker for q in quotes)),
        resolved_question=plan.search_text,
        generation=index.generation,
        timings_ms=timings,
    )
