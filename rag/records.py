"""The records of a question and its answer: AskRequest (with its limits), HistoryTurn, Quote, Answer.

`ask`, the service, its answer cache and `POST /ask` all take an AskRequest; the limits below are the only
definition of them (the HTTP schema, the OpenAPI description and the chat page import them).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from rag.errors import QuestionError
from rag.speakers import SpeakerFields
from rag.vocabulary import Attribution, Intent, Language, ParagraphKind, SearchMode

# What multilingual-e5-small reads in one pass: 512 tokens, and a Chinese character is at most about one token.
# A longer question cost time linear in its length (the engine windows it) for nothing a reader asks.
MAX_QUESTION_CHARS = 500
MAX_HISTORY_TURNS = 20
MIN_TOP_K = 1
MAX_TOP_K = 20
MAX_HISTORY_ANSWER_CHARS = 20_000
MAX_NAME_CHARS = 200  # a speaker or document filter, a speaker named in a history turn
MAX_HISTORY_SPEAKERS = 20
MAX_HISTORY_QUOTES = 50


@dataclass(frozen=True)
class HistoryTurn:
    """An earlier turn of the conversation (most recent last in a history list)."""

    question: str
    answer: str | None = None
    speakers: tuple[str, ...] = ()
    quotes: tuple[str, ...] = ()  # ids of the quotes it showed (Quote.id): a follow-up never shows them again


@dataclass(frozen=True)
class AskRequest:
    """A question and how to answer it; None options mean the settings' defaults (RAG_TOP_K, RAG_MODE)."""

    question: str
    top_k: int | None = None
    mode: SearchMode | None = None
    speaker: str | None = None  # name, English name or organisation; blank means no filter
    document: str | None = None  # document slug; blank means no filter
    history: tuple[HistoryTurn, ...] = ()  # earlier turns, most recent last

    def checked(self) -> AskRequest:
        """The request with its question trimmed and blank filters as None; QuestionError says what is wrong."""
        text = _checked_question(self.question)
        if self.top_k is not None and not MIN_TOP_K <= self.top_k <= MAX_TOP_K:
            raise QuestionError(f"top_k must be between {MIN_TOP_K} and {MAX_TOP_K}")
        if len(self.history) > MAX_HISTORY_TURNS:
            raise QuestionError(f"history has {len(self.history)} turns; the limit is {MAX_HISTORY_TURNS}")
        for turn in self.history:
            if not all(_encodable(t) for t in (turn.question, turn.answer or "", *turn.speakers)):
                raise QuestionError("history is not valid Unicode text (it contains a lone surrogate)")
        return replace(
            self,
            question=text,
            speaker=(self.speaker or "").strip() or None,
            document=(self.document or "").strip() or None,
            history=tuple(self.history),
        )

    def with_defaults(self, top_k: int, mode: SearchMode) -> AskRequest:
        return replace(
            self, top_k=top_k if self.top_k is None else self.top_k, mode=mode if self.mode is None else self.mode
        )

    def cache_key(self, generation: str) -> tuple[Any, ...]:
        """Everything an answer depends on; the generation first, so a new index never sees old answers."""
        turns = tuple((t.question, t.answer, tuple(t.speakers), tuple(t.quotes)) for t in self.history)
        return (
            generation,
            self.question.strip(),
            self.top_k,
            self.mode,
            (self.speaker or "").strip(),
            (self.document or "").strip(),
            turns,
        )


def _checked_question(question: object) -> str:
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


@dataclass(frozen=True)
class Quote(SpeakerFields):
    """A verbatim excerpt (`text` == `paragraph[start:end]`) of one paragraph, and whose words it is.

    `attribution`: `direct` when these are the speaker's own published words (a speech, an answer, words
    inside quotation marks), `reported` when they are the writer's account of what the speaker said (show
    them as reported, never as the speaker's words), null when they are the document's own text (an
    editor's note or a report's narrative; `speaker` then names that voice, 编者按 or 报道). `context` is the
    question an answer answers and `context_by` who asked it; `page` is a PDF's page.
    """

    text: str  # exact substring of `paragraph`
    paragraph: str  # the whole paragraph, for context
    start: int  # offsets of `text` in `paragraph`
    end: int
    paragraph_id: str
    document: str
    score: float
    kind: ParagraphKind = "speech"
    attribution: Attribution | None = "direct"
    context: str = ""
    context_by: str = ""
    page: int | None = None
    source: str = ""  # the document's source (湖南日报), which reports what `reported` words say
    source_en: str = ""

    @property
    def id(self) -> str:
        """`<paragraph id>:<start>-<end>`: names the excerpt (a history turn lists the ids it showed)."""
        return quote_id(self.paragraph_id, self.start, self.end)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, **plain_fields(self)}


def plain_fields(record: Any) -> dict[str, Any]:
    """A dataclass whose fields are all plain values (str, int, float, None) as a dict: `asdict` without its
    deep copy, which costs ~25 µs a quote (an answer over HTTP has up to ten)."""
    names = _FIELD_NAMES.get(type(record))
    if names is None:
        names = _FIELD_NAMES[type(record)] = tuple(f.name for f in fields(record))
    return {name: getattr(record, name) for name in names}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # a dataclass's field names, in order (fields() is not free)


def quote_id(paragraph_id: str, start: int, end: int) -> str:
    return f"{paragraph_id}:{start}-{end}"


def parse_quote_id(value: str) -> tuple[str, int, int] | None:
    """(paragraph id, start, end) of a quote id, or None when it is not one."""
    pid, _, span = value.rpartition(":")
    start, _, end = span.partition("-")
    if not pid or not start.isdigit() or not end.isdigit() or int(start) > int(end):
        return None
    return pid, int(start), int(end)


@dataclass(frozen=True)
class Profile:
    """Who a speaker is, from the registry, and the page's line that says so (verbatim, `line` 1-based)."""

    speaker: str
    title: str
    organization: str
    speaker_en: str
    title_en: str
    organization_en: str
    document: str
    source: str
    source_en: str
    line: int
    source_line: str

    def to_json(self) -> dict[str, Any]:
        return plain_fields(self)


@dataclass(frozen=True)
class QueryWindow:
    """What of a question the embedding model reads: `text`, a prefix of the question as searched (the whole of
    it unless `truncated`); its length against the question's."""

    text: str
    question_chars: int
    truncated: bool

    def to_json(self) -> dict[str, Any]:
        return {"embedded_chars": len(self.text), "question_chars": self.question_chars, "truncated": self.truncated}


@dataclass(frozen=True)
class Answer:
    """What a person reads (`answer`) and what a program uses (`quotes`), best first."""

    question: str
    found: bool
    answer: str
    quotes: tuple[Quote, ...]
    language: Language
    intent: Intent = "single"
    closest: tuple[Quote, ...] = ()  # when not found: nearest passages, explicitly not an answer
    speakers: tuple[str, ...] = ()  # speakers quoted, in order (feeds the next turn's history)
    resolved_question: str = ""  # the question after follow-up resolution (== question when none)
    generation: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    profile: Profile | None = None  # "王杰是谁？": who the speaker is, from the page's speaker line (no quotes)
    suggestions: tuple[str, ...] = ()  # names the question nearly wrote ("华未云" → 华为云), when nothing was found
    notes: tuple[str, ...] = ()  # what the reader should know about how it was answered (a filter the question contradicts)
    query_window: QueryWindow | None = None  # what the embedder read of the question (None: it was not embedded)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "found": self.found,
            "answer": self.answer,
            "language": self.language,
            "intent": self.intent,
            "quotes": [q.to_json() for q in self.quotes],
            "closest": [q.to_json() for q in self.closest],
            "speakers": list(self.speakers),
            "resolved_question": self.resolved_question,
            "generation": self.generation,
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
            "profile": self.profile.to_json() if self.profile is not None else None,
            "suggestions": list(self.suggestions),
            "notes": list(self.notes),
            "diagnostics": {"embedding": self.query_window.to_json() if self.query_window else None},
        }
