"""The answer stage: question → plan → retrieval → abstention → excerpts → verified, attributed quotes."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rag import abstain, quantity
from rag.compose import Composer, ExtractiveComposer
from rag.crosslingual import pinyin_terms
from rag.errors import UnknownFilter
from rag.index.load import Index
from rag.question import QuestionPlan, analyze
from rag.records import Answer, AskRequest, HistoryTurn, Quote
from rag.retrieval import Hit, SearchResult, search
from rag.script import to_simplified
from rag.selection import Pick, candidates, picks, quote_of, topic_terms
from rag.settings import Settings
from rag.verify import answer_text_problem, verified
from rag.vocabulary import SearchMode

log = logging.getLogger("rag.answer")
CLOSEST = 3


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


def _candidate_similarities(index: Index, hits: Sequence[Hit], query_vector: np.ndarray) -> np.ndarray:
    """Similarities of the question to a fixed sample of corpus sentences plus the candidates' sentences."""
    sims = [_sentence_sample_vectors(index) @ query_vector]
    for hit in hits[:20]:
        rows = index.sentence_rows[hit.row]
        sims.append(index.sentence_vectors[rows.start : rows.stop] @ query_vector)
    return np.concatenate(sims) if sims else np.zeros(0, dtype=np.float32)


def _sentence_sample_vectors(index: Index, size: int = 2048) -> np.ndarray:
    """A fixed sample of the corpus's sentence vectors, gathered once per index (they are read from disk by rows)."""

    def gather() -> np.ndarray:
        n = len(index.sentence_vectors)
        rows = np.arange(n) if n <= size else np.sort(np.random.default_rng(0).choice(n, size, replace=False))
        return np.ascontiguousarray(index.sentence_vectors[rows])

    return index.memo("sentence_sample_vectors", gather)


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
    speakers = options.speakers or plan.filter_speakers
    hits = candidates(index, plan, result.hits, speakers)
    found = decide(index, plan, hits, result.query_vector)
    topic = topic_terms(index, plan, result) if plan.intent == "multi" else None
    chosen = picks(index, plan, hits, result, topic, options.top_k, speakers) if found else []
    quotes = _quotes(index, chosen, result, settings, topic)
    closest = [] if quotes else _quotes(index, [Pick(h) for h in hits[:CLOSEST]], result, settings, None)
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
    vector = index.embedder.embed_query(to_simplified(plan.search_text))  # passages are embedded simplified too
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
    # A question for a number or date that the best passages do not state is not answered by them.
    best = [h.chunk.text for h in hits[: quantity.QUANTITY_DEPTH]]
    return not (plan.intent in ("single", "who") and quantity.unanswered_quantity(plan.question, best))


def _quotes(
    index: Index, chosen: list[Pick], result: SearchResult, settings: Settings, topic: list[str] | None
) -> list[Quote]:
    """The picks as verified quotes (a pick none of whose words may be quoted gives none)."""
    made = (quote_of(index, p, result, settings.max_excerpt_sentences, topic) for p in chosen)
    return verified(index, [q for q in made if q is not None])


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
        query_window=index.embedder.query_window(to_simplified(plan.search_text)) if has_words(plan.question) else None,
    )
