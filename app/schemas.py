"""Every request and response body of the HTTP API (the OpenAPI schema at /openapi.json comes from these)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from rag import records
from rag.records import (
    MAX_HISTORY_ANSWER_CHARS,
    MAX_HISTORY_QUOTES,
    MAX_HISTORY_SPEAKERS,
    MAX_HISTORY_TURNS,
    MAX_NAME_CHARS,
    MAX_QUESTION_CHARS,
    MAX_TOP_K,
    MIN_TOP_K,
    HistoryTurn,
    Quote,
)
from rag.views import DocumentRef
from rag.vocabulary import Intent, Language, Rating, SearchMode, ServiceState

# A question must hold a character that is not white space as Python strips it (str.strip also removes
# \x1c-\x1f and \x85, which JSON Schema's \s does not): the schema then says exactly what the server accepts.
NOT_ONLY_SPACE = r"[^\s\x1c-\x1f\x85]"
Question = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUESTION_CHARS, pattern=NOT_ONLY_SPACE),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_NAME_CHARS)]
AskId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]


def _whole(value: object) -> object:
    """JSON Schema counts 5.0 as an integer: take it as 5 (strict mode still refuses "5", true and 5.5)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = Annotated[int, BeforeValidator(_whole)]


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so a typo (`topk`) is an error, not silently ignored, and take
    values of the schema's types only: `false` is not a number and `"5"` is not an integer (strict mode)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class HistoryTurnIn(Strict):
    """An earlier turn of the conversation: what was asked, the answer text, the speakers it quoted."""

    question: Question
    answer: Annotated[str, Field(max_length=MAX_HISTORY_ANSWER_CHARS)] | None = None
    speakers: Annotated[list[Name], Field(max_length=MAX_HISTORY_SPEAKERS)] = []
    quotes: Annotated[
        list[Annotated[str, Field(max_length=300, pattern=r"^.+:[0-9]{1,9}-[0-9]{1,9}$")]],
        Field(max_length=MAX_HISTORY_QUOTES, description="Ids of the quotes this turn showed (a quote's `id`)."),
    ] = []

    def to_turn(self) -> HistoryTurn:
        return HistoryTurn(self.question, self.answer, tuple(self.speakers), tuple(self.quotes))


class AskRequest(Strict):
    """A question, with optional filters and the conversation so far (most recent turn last)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"question": "中国移动目前全国客户规模有多少？"},
                {"question": "Who talked about talent?", "top_k": 3},
                {
                    "question": "他还说了什么？",
                    "history": [
                        {
                            "question": "张平安如何看待马栏山？",
                            "answer": "“…”\n—— 张平安，常务董事、华为云首席执行官，华为技术有限公司",
                            "speakers": ["张平安"],
                        }
                    ],
                },
            ]
        },
    )

    question: Question = Field(
        description=f"1–{MAX_QUESTION_CHARS} characters after trimming (what the embedding model reads in one pass)."
    )
    top_k: WholeNumber = Field(
        5, ge=MIN_TOP_K, le=MAX_TOP_K, description="Quotes to return (for multi-speaker questions: speakers)."
    )
    mode: SearchMode = Field("hybrid", description="Retrieval mode.")
    speaker: Name | None = Field(
        None, description="Only quote this speaker (name, English name or organisation); unknown names get a 422."
    )
    document: Name | None = Field(None, description="Only quote this document (slug, see GET /speakers).")
    history: Annotated[list[HistoryTurnIn], Field(max_length=MAX_HISTORY_TURNS)] = Field(
        default_factory=list,
        description=f"Earlier turns, most recent last (at most {MAX_HISTORY_TURNS}); follow-ups resolve against it.",
    )

    def to_request(self) -> records.AskRequest:
        """The library's request record (blank filters become None when it is checked)."""
        return records.AskRequest(
            self.question, self.top_k, self.mode, self.speaker, self.document, tuple(t.to_turn() for t in self.history)
        )


class Timings(BaseModel):
    """Milliseconds spent on this request (a cached answer shows only the lookup)."""

    embed: float
    search: float
    answer: float
    total: float


class SpeakerProfile(BaseModel):
    """Who a speaker is ("王杰是谁？"): the registry's fields and the page's own speaker line, verbatim."""

    speaker: str
    title: str
    organization: str
    speaker_en: str
    title_en: str
    organization_en: str
    document: str
    source: str
    source_en: str
    line: int = Field(description="1-based line of the document's source text that holds `source_line`.")
    source_line: str = Field(description="The page's words introducing the speaker (not the speaker's words).")


class EmbeddingWindow(BaseModel):
    """What the embedding model read of the question as searched: a prefix of it when `truncated`."""

    embedded_chars: int
    question_chars: int
    truncated: bool


class Diagnostics(BaseModel):
    """How the answer was made, beyond its timings."""

    embedding: EmbeddingWindow | None = Field(description="Null when nothing was embedded (no words to look for).")


class AskResponse(BaseModel):
    """The answer object (as `rag ask --json` prints it) plus the request's id, cache flag and cited documents."""

    question: str
    found: bool = Field(description="False when the speeches do not answer the question.")
    answer: str = Field(description="Plain text a person reads, framed in the question's language.")
    language: Language
    intent: Intent = Field(
        description="single (one quote), who (who said it), multi (one per speaker), more (more of a speaker), "
        "profile (who a speaker is: see `profile`)"
    )
    quotes: list[Quote] = Field(description="Best first; empty when not found.")
    closest: list[Quote] = Field(description="When not found: the nearest passages, explicitly NOT an answer.")
    speakers: list[str] = Field(description="Speakers quoted, in order (the next turn's history needs them).")
    resolved_question: str
    generation: str = Field(description="The index generation that answered.")
    timings_ms: Timings
    diagnostics: Diagnostics
    ask_id: str = Field(description="Id of this answer; send it with POST /feedback.")
    cached: bool = Field(description="True when served from the answer cache.")
    documents: dict[str, DocumentRef] = Field(description="The documents the quotes come from, by slug.")
    profile: SpeakerProfile | None = Field(None, description="For \"who is X\" questions: who the speaker is.")
    suggestions: list[str] = Field([], description="When nothing was found: known names the question nearly wrote.")
    notes: list[str] = Field([], description="How it was answered, e.g. a speaker filter the question contradicts.")


class FeedbackRequest(Strict):
    """👍/👎 on one answer; sending again with the same ask_id updates it (e.g. to add a comment).

    Its fields are rag.feedback.Feedback's, with the limits a request body must keep."""

    ask_id: AskId = Field(description="The ask_id POST /ask returned.")
    rating: Rating
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    question: Question
    resolved_question: Annotated[str, Field(max_length=2000)] = ""
    answer: Annotated[str, Field(max_length=MAX_HISTORY_ANSWER_CHARS)] = ""
    found: bool | None = None
    quote_ids: Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=20)] = []
    speaker: Name | None = None
    document: Name | None = None
    language: Annotated[str, Field(max_length=10)] = ""
    latency_ms: Annotated[float, Field(ge=0, le=3_600_000)] | None = Field(
        None, description="What the person waited, measured by the client."
    )
    server_ms: Annotated[float, Field(ge=0, le=3_600_000)] | None = Field(
        None, description="timings_ms.total of the answer."
    )
    generation: Annotated[str, Field(max_length=100)] = ""


class FeedbackResponse(BaseModel):
    id: int
    ask_id: str
    rating: Rating


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: ServiceState
    generation: str | None
    documents: int
    paragraphs: int
    reason: str | None = None  # why not ready (the search backend unreachable...), naming the fix
    rebuilding: bool = Field(False, description="A build of a newer generation is under way.")
    last_build_error: str | None = Field(None, description="Why the last background rebuild failed, if it did.")
    detail: str = Field("", description="One line, e.g. `serving generation X, rebuilding`.")


class ErrorItem(BaseModel):
    field: str
    message: str


class ErrorResponse(BaseModel):
    """Every error: a sentence a person can act on (never a stack trace or a file path)."""

    detail: str
    errors: list[ErrorItem] | None = None
    known_speakers: list[str] | None = None
    known_documents: list[str] | None = None


class Reading(BaseModel):
    pinyin: str = Field(description="With tone marks (yún jì suàn).")
    glosses: list[str]


class WordGloss(BaseModel):
    word: str
    start: int = Field(description="Offset of the word in the text, in code points.")
    readings: list[Reading]
    name_forms: list[str] = Field(description="A speaker's English name and pinyin, from the metadata.")


class Glosses(BaseModel):
    """Dictionary glosses of a text's words (CC-CEDICT): a reading aid, not a translation."""

    source: Literal["CC-CEDICT"]
    words: list[WordGloss]
