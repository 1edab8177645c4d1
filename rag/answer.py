"""The answer stage: question → plan → retrieval → abstention → excerpts → verified, attributed quotes."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from rag import abstain, attribute, quantity
from rag.compose import Composer, ExtractiveComposer
from rag.crosslingual import pinyin_terms
from rag.errors import UnknownFilter
from rag.index.load import Index
from rag.names import did_you_mean, near_names
from rag.profile import asks_profile, profile_of, profile_text
from rag.question import QuestionPlan, analyze
from rag.records import Answer, AskRequest, HistoryTurn, Quote, parse_quote_id
from rag.retrieval import Hit, SearchResult, search
from rag.script import to_simplified
from rag.selection import Pick, candidates, picks, quote_of, topic_groups, topic_terms
from rag.settings import Settings
from rag.translation import english_terms
from rag.verify import answer_text_problem, profile_problem, verified
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

    return index.memo("sentence_sample_vectors", lambda: index.store.sentence_sample(size))


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
    person = asks_profile(plan) if not options.speakers else None
    profile = profile_of(index, person) if person is not None else None
    if profile is not None and profile_problem(index, profile) is None:
        return replace(
            _answer(index, plan, profile_text(profile, plan.language), clock.timings()),
            found=True, intent="profile", profile=profile, speakers=(profile.speaker,),
        )  # fmt: skip
    result = retrieve(index, plan, options, settings, clock)
    speakers = options.speakers or plan.filter_speakers
    asked = asked_attribute(index, plan, options.speakers) if plan.intent != "multi" else None
    # The event is described in the document's own voice: its questions look past the people-first filters.
    about_event = asked is not None and asked.about_event
    if about_event and plan.intent == "who":
        plan = replace(plan, intent="single")  # "Who took the floor?" is answered by the page's own account
    hits = result.hits if about_event else candidates(index, plan, result.hits, speakers)
    hits = attribute.answering_first(hits, asked, index)
    found = decide(index, plan, hits, result.query_vector)
    missing = asked is not None and attribute.unanswered(hits, asked, index)
    found = found and not missing
    if plan.intent == "who" and several_speakers_mention(index, plan, result, hits):
        plan = replace(plan, intent="multi")  # "谁提到了人才？" is answered by everyone who did
    topic = topic_terms(index, plan, result) if plan.intent == "multi" else None
    chosen = picks(index, plan, hits, result, topic, options.top_k, speakers) if found else []
    made = _quotes(index, chosen, result, settings, topic)
    quotes = not_shown_before(made, plan.shown)
    closest = [] if quotes else _quotes(index, [Pick(h) for h in hits[:CLOSEST]], result, settings, None)
    text = compose(composer, quotes, plan)
    near = near_names(index.registry, plan.question, plan.mentions) if not quotes and not plan.mentions else []
    if near:
        text = did_you_mean(near, plan.language)  # "华未云" is no known name: offer the one it nearly is
    elif missing and asked is not None and not quotes:
        text = missing_text(index, asked, hits, plan)
    elif made and not quotes:
        text = all_shown_text(made[0], plan)
    elif quotes and plan.chose_from:
        text = chosen_speaker_note(quotes[0], plan) + text
    answer = _answer(index, plan, text, clock.timings(result.timings_ms.get("embed", 0.0)), quotes, closest)
    notes = tuple(n for n in (filter_conflict(plan, options, index),) if n)
    if notes:  # said first: the reader must know the answer is not about whom the question names
        answer = replace(answer, answer="\n".join([*notes, answer.answer]), notes=notes)
    return replace(answer, suggestions=tuple(n.alias for n in near[:3])) if near else answer


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
        keyword_text=keyword_text(index, plan),
    )
    clock.mark("searched")
    return result


MENTION_QUESTION = re.compile(
    r"谁(?:都)?(?:提到|谈到|说到|讲到|提及|谈及|论及|关注|强调|重视|关心)(?:了|过)?|"
    r"\bwho (?:else )?(?:mentioned|talked about|spoke about|brought up|referred to|emphasi[sz]ed|stressed)\b",
    re.I,
)


def several_speakers_mention(index: Index, plan: QuestionPlan, result: SearchResult, hits: list[Hit]) -> bool:
    """A "谁提到了X / Who mentioned X" question whose topic several speakers' paragraphs (among the hits) state."""
    if not MENTION_QUESTION.search(to_simplified(plan.question)):
        return False
    groups = topic_groups(index, plan, topic_terms(index, plan, result))
    if not groups:
        return False
    speakers: set[str] = set()
    for hit in hits:
        text = to_simplified(hit.chunk.text).lower()
        if all(any(w.lower() in text for w in g) for g in groups):
            speakers.update(hit.chunk.persons())
    return len(speakers) >= 2


def filter_conflict(plan: QuestionPlan, options: _Options, index: Index) -> str:
    """The speaker filter names someone the question does not: say which filter was applied."""
    if not options.speakers or not plan.mentions:
        return ""
    named = [m for m in plan.mentions if m.speaker.name not in options.speakers]
    if not named or len(named) < len(plan.mentions):
        return ""
    chosen = "、".join(options.speakers)
    other = "、".join(dict.fromkeys(f"{m.alias}（{m.speaker.name}）" if m.alias != m.speaker.name else m.alias for m in named))
    if plan.language == "en":
        en = ", ".join(dict.fromkeys(m.speaker.name_en or m.speaker.name for m in named))
        return f"Answered with the speaker filter {chosen} applied; the question names {en}: clear the filter to ask about them."
    return f"已按发言人筛选“{chosen}”回答；问题里提到的是{other}，如要问他们，请取消筛选。"


def asked_attribute(index: Index, plan: QuestionPlan, filtered: tuple[str, ...] = ()) -> attribute.Asked | None:
    """What the question asks about its subject (the speaker the filter selects, else the first speaker or
    organisation it names, or the event)."""
    subject = filtered[0] if filtered else plan.mentions[0].alias if plan.mentions else ""
    return attribute.asked_attribute(plan.question, subject, index)


def missing_text(index: Index, asked: attribute.Asked, hits: list[Hit], plan: QuestionPlan) -> str:
    """"这篇报道没有提到华为云的员工人数。" — what is missing, in the question's language (never a speaker's words)."""
    one = len(index.documents) == 1
    if plan.language == "en":
        text = asked.missing("en", "The page" if one else "The speeches and reports")
        text = text if one else text.replace(" does not ", " do not ")
    else:
        text = asked.missing("zh", "这篇报道" if one else "收录的讲话和报道都")
    given = attribute.partial_time(index, hits, asked)
    if given:
        text += f" (it gives {given} only)" if plan.language == "en" else f"（只写了{given}）"
    return text


def not_shown_before(quotes: list[Quote], shown: Sequence[str]) -> list[Quote]:
    """The quotes without those overlapping an excerpt the conversation already showed."""
    spans = [s for s in (parse_quote_id(q) for q in shown) if s is not None]

    def seen(q: Quote) -> bool:
        return any(pid == q.paragraph_id and start < q.end and q.start < end for pid, start, end in spans)

    return [q for q in quotes if not seen(q)]


def all_shown_text(best: Quote, plan: QuestionPlan) -> str:
    """Every passage that answers was shown already: say so instead of showing it again."""
    if plan.language == "en":
        return f"Everything {best.speaker_en or best.speaker} said on this has been shown above."
    return f"{best.speaker}在这方面的发言上面已经全部列出。"


def chosen_speaker_note(first: Quote, plan: QuestionPlan) -> str:
    """After a multi-speaker answer, "他还说了什么？" names whom it chose among them."""
    others = [s for s in plan.chose_from if s != first.speaker]
    if plan.language == "en":
        return f"(Of the speakers just quoted, this is more from {first.speaker_en or first.speaker}; ask by name for {', '.join(others)}.)\n"
    return f"（上一轮有多位发言人，这里是{first.speaker}的其他发言；要看{'、'.join(others)}的，请点名提问。）\n"


def keyword_text(index: Index, plan: QuestionPlan) -> str:
    """What BM25 searches: the question without filtered names, plus its Latin words in the corpus's words
    (pinyin: Malanshan → 马栏山; CC-CEDICT: virtual reality → 虚拟现实)."""
    text = plan.keyword_text
    bridged = pinyin_terms(index, text)
    return " ".join([text, *bridged, *(w for w in english_terms(index, text) if w not in bridged)])


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
