"""The HTTP API (ask, speakers, speeches, health, feedback) and the two pages (the chat and the API docs)."""

from __future__ import annotations

import hashlib
import logging
import time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool

from app.ask_ids import AskIds
from app.deps import AskIdsDep, FeedbackDep, IndexDep, QuestionLogDep, ServiceDep, SettingsDep
from app.i18n import EXAMPLES, STRINGS, pick_language
from app.pages import operations, served_answer, speech_page, templates, wants_html
from app.schemas import (
    AskRequest,
    AskResponse,
    ErrorResponse,
    FeedbackRequest,
    FeedbackResponse,
    Glosses,
    Health,
    Readiness,
)
from rag import Index, Settings, reading, records
from rag.feedback import Feedback, QuestionLog, QuestionRecord
from rag.records import MAX_HISTORY_TURNS, MAX_QUESTION_CHARS
from rag.service import Served, Service
from rag.views import DocumentRef, SpeakerSummary, SpeechView, speaker_summaries, speech_in_context

log = logging.getLogger("app.ask")
APP_DIR = Path(__file__).resolve().parent
STATIC_DIR = APP_DIR / "static"


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Malformed JSON."},
    413: {"model": ErrorResponse, "description": "Body over the size limit (64 KB by default)."},
    422: {
        "model": ErrorResponse,
        "description": "Invalid field, a filter naming an unknown speaker/document, or an ask_id this server "
        "never issued.",
    },
    429: {"model": ErrorResponse, "description": "A per-client limit (requests, answer time, in progress)."},
    503: {"model": ErrorResponse, "description": "Index not loaded yet, or the server is busy (see Retry-After)."},
}

api = APIRouter()
pages = APIRouter(include_in_schema=False)


# ---------------------------------------------------------------- API


@api.post(
    "/ask",
    response_model=AskResponse,
    responses=ERRORS,
    tags=["answers"],
    summary="Answer a question with verbatim, attributed quotes",
)
async def ask(
    body: AskRequest,
    service: ServiceDep,
    qlog: QuestionLogDep,
    settings: SettingsDep,
    ask_ids: AskIdsDep,
) -> Response:
    """The answer object: `found`, `answer` (plain text), `quotes` (best first), `closest` when not found,
    and `timings_ms`. Send earlier turns in `history` so follow-ups ("他还说了什么？") resolve."""
    # One hand-off to a worker thread for everything that blocks: taking the index, answering, and checking
    # and serialising the answer as `response_model` would (FastAPI would do each in a thread of its own).
    return await run_in_threadpool(_ask_response, body, service, qlog, settings, ask_ids)


ASK_RESPONSE: TypeAdapter[AskResponse] = TypeAdapter(AskResponse)


def _ask_response(
    body: AskRequest, service: Service, qlog: QuestionLog | None, settings: Settings, ask_ids: AskIds
) -> Response:
    """POST /ask's answer as JSON: validated against AskResponse and serialised by it, as FastAPI does."""
    index = service.index()  # taken once for the request (NotReady → 503 until one is loaded)
    data = _answered(body, index, service, qlog, settings, ask_ids)
    checked = ASK_RESPONSE.validate_python(data, from_attributes=True)
    return Response(ASK_RESPONSE.dump_json(checked, by_alias=True), media_type="application/json")


def _answered(
    body: AskRequest, index: Index, service: Service, qlog: QuestionLog | None, settings: Settings, ask_ids: AskIds
) -> dict[str, Any]:
    """POST /ask's work, shared with the chat page's server-rendered answer (GET /?question=…)."""
    started = time.perf_counter()
    request = body.to_request().with_defaults(settings.top_k, settings.mode)
    served = service.ask(request, index=index)
    ask_id = ask_ids.issue()
    latency_ms = round((time.perf_counter() - started) * 1000, 3)
    _log_answer(served, ask_id, latency_ms, settings)
    if qlog is not None:
        qlog.submit(_question_record(request, served, ask_id, latency_ms))
    return _response(served, ask_id, index)


def _response(served: Served, ask_id: str, index: Index) -> dict[str, Any]:
    """The answer object plus the request's id, the cache flag and the documents its quotes cite."""
    answer = served.answer
    data = answer.to_json()
    cited = dict.fromkeys(q.document for q in (*answer.quotes, *answer.closest))  # in order of citation
    data["ask_id"] = ask_id
    data["cached"] = served.cached
    data["documents"] = {
        slug: DocumentRef.of(doc).to_json() for slug in cited if (doc := index.document(slug)) is not None
    }
    return data


def _log_answer(served: Served, ask_id: str, latency_ms: float, settings: Settings) -> None:
    answer = served.answer
    log.info(
        "answered (found=%s, %d quote(s), %.0f ms%s)",
        answer.found,
        len(answer.quotes),
        latency_ms,
        ", cached" if served.cached else "",
        extra={
            # The question is logged only where questions are logged at all (RAG_LOG_QUESTIONS).
            "question": answer.question if settings.log_questions else None,
            "ask_id": ask_id,
            "found": answer.found,
            "intent": answer.intent,
            "quotes": [q.paragraph_id for q in answer.quotes],
            "generation": answer.generation,
            "cached": served.cached,
            "latency_ms": latency_ms,
        },
    )


def _question_record(request: records.AskRequest, served: Served, ask_id: str, latency_ms: float) -> QuestionRecord:
    answer = served.answer
    return QuestionRecord(
        ask_id=ask_id,
        question=answer.question,
        resolved_question=answer.resolved_question,
        history_turns=len(request.history),
        speaker=request.speaker,
        document=request.document,
        top_k=request.top_k,
        mode=request.mode,
        found=answer.found,
        intent=answer.intent,
        language=answer.language,
        quote_ids=tuple(q.paragraph_id for q in answer.quotes),
        latency_ms=latency_ms,
        cached=served.cached,
        generation=answer.generation,
    )


def _speakers(index: Index) -> list[SpeakerSummary]:
    """speaker_summaries, made once per generation."""
    return index.memo("speaker_summaries", lambda: speaker_summaries(index))


@api.get("/speakers", response_model=list[SpeakerSummary], responses=ERRORS, tags=["corpus"], summary="Every speaker")
def speakers(index: IndexDep) -> list[SpeakerSummary]:
    """Name, title, organisation, their English forms, aliases, documents and paragraph count."""
    return _speakers(index)


SPEECH_PAGE = 500  # paragraphs per page of GET /speeches (a speech is far shorter; a large document is paged)
MAX_SPEECH_PAGE = 2000


@api.get(
    "/speeches/{key}",
    response_model=SpeechView,
    responses={**ERRORS, 404: {"model": ErrorResponse, "description": "No such speaker or document."}},
    tags=["corpus"],
    summary="A full speech, by speaker or document",
)
def speeches(
    key: str,
    index: IndexDep,
    request: Request,
    offset: Annotated[int, Query(ge=0, description="First paragraph of the page (0-based).")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_SPEECH_PAGE, description="Paragraphs per page.")] = SPEECH_PAGE,
) -> Any:
    """The speaker's whole speech (name, English name or organisation), or a whole document (slug),
    with every paragraph's id so a client can show a quote in context, a page of `limit` paragraphs from
    `offset` at a time (`next_offset` names the next page; `total_paragraphs` the whole). A browser (an
    `Accept` that names text/html) gets the speech as a page instead, so `/speeches/<doc>#<paragraph id>`
    links work without JS."""
    if wants_html(request):
        return speech_page(request, index, key)
    found = speech_in_context(index, key, offset, limit)
    if found is None:
        return JSONResponse(
            status_code=status.HTTP_404_NOT_FOUND,
            content={"detail": "No speaker or document by that name. GET /speakers lists them."},
        )
    return found


@api.get(
    "/glosses",
    response_model=Glosses,
    responses=ERRORS,
    tags=["corpus"],
    summary="Pinyin and dictionary glosses of a quote's words (a reading aid, not a translation)",
)
def glosses(
    index: IndexDep, text: Annotated[str, Query(min_length=1, max_length=reading.MAX_GLOSS_TEXT)]
) -> dict[str, Any]:
    """The Chinese words of `text` (jieba), each with CC-CEDICT's pinyin and glosses; a speaker's name also
    with the English and pinyin forms the metadata gives."""

    names = index.memo("reading_names", lambda: reading.name_forms(index.registry.speakers))
    return {"source": "CC-CEDICT", "words": [w.to_json() for w in reading.gloss_text(text, names)]}


@api.get("/healthz", response_model=Health, tags=["operations"], summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@api.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "No verified index loaded yet."}},
    tags=["operations"],
    summary="The index is loaded and verified",
)
def readyz(service: ServiceDep) -> Any:
    service.refresh()
    st = service.status()
    body = {"status": st.state, "generation": st.generation, "documents": st.documents, "paragraphs": st.chunks}
    body.update(reason=st.reason, rebuilding=st.rebuilding, last_build_error=st.last_build_error, detail=st.detail)
    if not st.ready:
        return JSONResponse(status_code=503, content=body, headers={"Retry-After": "2"})
    return body


@api.post(
    "/feedback",
    response_model=FeedbackResponse,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
    tags=["feedback"],
    summary="Thumbs up or down on an answer, with an optional comment",
)
def feedback(body: FeedbackRequest, store: FeedbackDep, ask_ids: AskIdsDep, qlog: QuestionLogDep) -> dict[str, Any]:
    """Stored with the question, the answer's quote ids, latency and time — as the server logged them when it
    answered, whatever the client sends. Only an `ask_id` a POST /ask returned is accepted. Sending again with
    the same `ask_id` updates the row (change of mind, or a comment added after the click)."""
    if not ask_ids.issued(body.ask_id):
        raise HTTPException(status_code=422, detail=UNKNOWN_ASK_ID)
    if qlog is not None:
        qlog.flush()  # the answer was logged by a background thread: its row is written by now
    row_id = store.record_feedback(server_feedback(body, store.answered(body.ask_id)))
    return {"id": row_id, "ask_id": body.ask_id, "rating": body.rating}


UNKNOWN_ASK_ID = "Unknown ask_id: send the ask_id that POST /ask returned with the answer you rate."


def server_feedback(body: FeedbackRequest, logged: dict[str, Any] | None) -> Feedback:
    """The feedback row: the person's rating and comment; what was asked and answered from the server's log.

    Without a logged answer (RAG_LOG_QUESTIONS off, or the log gave way under a flood) the client's account
    is all there is; the id is still one this server issued."""
    given = {**body.model_dump(), "quote_ids": tuple(body.quote_ids)}
    if logged is not None:
        for key in ("question", "resolved_question", "found", "speaker", "document", "language", "generation"):
            given[key] = logged[key]
        given["quote_ids"] = tuple(logged["quote_ids"])
        given["server_ms"] = logged["latency_ms"]
    return Feedback(**given)


# ---------------------------------------------------------------- pages


@lru_cache(maxsize=1)
def asset_version() -> str:
    """A hash of the static files, appended to their URLs so a deploy is never served stale JS."""
    digest = hashlib.sha256()
    for p in sorted(STATIC_DIR.glob("*")):
        if p.is_file():
            digest.update(p.name.encode() + p.read_bytes())
    return digest.hexdigest()[:10]


@pages.get("/", response_class=HTMLResponse)
def chat_page(
    request: Request,
    service: ServiceDep,
    settings: SettingsDep,
    qlog: QuestionLogDep,
    ask_ids: AskIdsDep,
    question: str | None = None,
    speaker: str | None = None,
) -> HTMLResponse:
    """The chat. `?question=…` answers on the server (the form without JavaScript; the script takes the answer
    over as the first turn of a conversation); `?q=…` is a shared link the script asks."""
    lang = pick_language(request.headers.get("accept-language"))
    reading.warm()  # the reading aid's dictionary, parsed in the background before anyone hovers a word
    served = None
    if question is not None:
        served = served_answer(
            question, speaker, lang, lambda body: _answered(body, service.index(), service, qlog, settings, ask_ids)
        )
    speaker_rows: list[dict[str, Any]] = []
    if service.ready:
        speaker_rows = [s.to_json() for s in _speakers(service.index())]
    boot = {
        "lang": lang,
        "strings": STRINGS,
        "examples": EXAMPLES,
        "speakers": speaker_rows,
        "limits": {
            "question": MAX_QUESTION_CHARS,
            "history": MAX_HISTORY_TURNS,
            "body": settings.max_body_bytes,
        },
    }
    response = templates.TemplateResponse(
        request,
        "index.html",
        {
            "lang": lang,
            "t": STRINGS[lang],
            "examples": EXAMPLES[lang],
            "boot": boot,
            "v": asset_version(),
            "served": served,
            "log_questions": settings.log_questions,
        },
    )
    response.headers["Cache-Control"] = "no-cache"
    return response


@pages.get("/docs", response_class=HTMLResponse)
def docs_page(request: Request) -> HTMLResponse:
    """API reference rendered by our own script from /openapi.json (Swagger UI would need a CDN)."""
    lang = pick_language(request.headers.get("accept-language"))
    context = {"lang": lang, "t": STRINGS[lang], "v": asset_version(), "operations": operations(request.app.openapi())}
    return templates.TemplateResponse(request, "docs.html", context)
