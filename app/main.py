"""The web app: `create_app()` builds the FastAPI application (the chat page and the HTTP API).

`rag serve` runs `uvicorn app.main:create_app --factory`, so `create_app()` reads Settings from the
environment; tests pass their own: `with TestClient(create_app(settings)) as client: ...`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import admin
from app.admission import AnswerAdmission, ClientAddress
from app.ask_ids import AskIds
from app.body_gate import AdminGate, BodyDeadline
from app.deps import FeedbackUnavailable
from app.middleware import BodyLimit, CatchAll, LoadShedding, RateLimit, RequestId, SecurityHeaders
from app.routes import STATIC_DIR, api, pages
from app.supervision import die_with_parent
from rag import QuestionError, RagError, Settings, __version__, get_settings
from rag.errors import UnknownFilter
from rag.feedback import FeedbackFull, FeedbackStore, QuestionLog
from rag.logs import add_secret, configure_logging
from rag.records import MAX_HISTORY_TURNS, MAX_QUESTION_CHARS
from rag.service import NotReady, Service

log = logging.getLogger("app")

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and form fields around an uploaded document

DESCRIPTION = f"""
Ask questions of the speeches; every answer is made of verbatim, attributed quotes.

```
curl -s http://127.0.0.1:8000/ask -H 'Content-Type: application/json' \\
     -d '{{"question": "中国移动目前全国客户规模有多少？"}}'
```

Limits: bodies over 64 KB get 413; questions are 1–{MAX_QUESTION_CHARS} characters; history holds at most
{MAX_HISTORY_TURNS} turns.
Errors are JSON `{{"detail": "…"}}`; 422s also list the offending fields (`errors`) or the known
speakers (`known_speakers`).
"""


def create_app(settings: Settings | None = None, *, service: Service | None = None) -> FastAPI:
    """Build the app. `service` lets a caller share an already-loaded index (tests, benchmarks)."""
    die_with_parent()  # a worker of `rag serve --workers N` goes when its supervisor goes, even on SIGKILL
    settings = settings or get_settings()
    # Text on a terminal, JSON lines otherwise, unless a test runner or an embedding application set logging up.
    configure_logging(log_format=settings.log_format, questions_on_terminal=settings.log_questions_on_terminal)
    add_secret(settings.admin_token)
    add_secret(settings.feedback_secret)
    service = service or Service(settings)
    store, question_log = _open_feedback(settings)

    sessions: Any = None  # the MCP session manager, when /mcp is on

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()  # loads in the background: /healthz answers at once, /readyz says 503 until ready
        if question_log is not None:
            question_log.start()
        try:
            async with sessions.run() if sessions is not None else nullcontext():
                yield
        finally:
            service.stop()
            if question_log is not None:
                question_log.close()

    app = FastAPI(
        title="Speech quotes",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # our own /docs page: Swagger UI would load scripts from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.feedback = store
    app.state.question_log = question_log
    app.state.ask_ids = AskIds.for_settings(settings)

    app.include_router(api)
    app.include_router(pages)
    app.include_router(admin.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if settings.mcp_http:  # the MCP tools at /mcp, behind the middleware below like every route
        from rag.mcp import mount_http

        sessions = mount_http(app, service, settings.host)
    _add_error_handlers(app)

    # Middleware runs outermost-last-added: headers on everything, the request id, the 500 guard, the body limit, …
    app.add_middleware(
        AnswerAdmission,
        slots=settings.answer_slots,
        wait_seconds=settings.admission_wait_seconds,
        client_at_once=settings.client_asks_at_once,
        client_seconds_per_minute=settings.client_answer_seconds_per_minute,
    )
    if settings.rate_limit_per_minute > 0:
        app.add_middleware(RateLimit, per_minute=settings.rate_limit_per_minute, paths=("/ask", "/mcp"))
    if settings.feedback_per_minute > 0:
        app.add_middleware(RateLimit, per_minute=settings.feedback_per_minute, paths=("/feedback",))
    app.add_middleware(LoadShedding, limit=settings.max_concurrent_requests)
    upload_limit = max(settings.max_body_bytes, settings.max_document_bytes + MULTIPART_OVERHEAD)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, wide={"/documents": upload_limit})
    app.add_middleware(BodyDeadline, seconds=settings.body_timeout_seconds, max_buffered=settings.max_buffered_bytes)
    app.add_middleware(AdminGate, token=settings.admin_token)  # the token before a byte of an upload is read
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
            max_age=600,
        )
    app.add_middleware(CatchAll)
    app.add_middleware(RequestId)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ClientAddress, trusted=settings.trusted_proxies)  # first: every layer sees the real client
    return app


def _open_feedback(settings: Settings) -> tuple[FeedbackStore | None, QuestionLog | None]:
    try:
        store = FeedbackStore(settings.feedback_db, settings.max_feedback_rows, settings.max_logged_questions)
    except (sqlite3.Error, OSError):
        # The chat still answers; POST /feedback says 503 and the log says why.
        log.exception("feedback database %s cannot be opened; feedback is disabled", settings.feedback_db)
        return None, None
    qlog = QuestionLog(store, retention_days=settings.question_retention_days) if settings.log_questions else None
    return store, qlog


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


BODY_PARSE_ERROR = "There was an error parsing the body"  # FastAPI's words for a body json.loads could not take


async def _unreadable_body(request: Request) -> str:
    """Why a JSON body could not be read at all (FastAPI only says "There was an error parsing the body")."""
    try:
        body = await request.body()  # already read (and kept) by the request that failed
    except Exception:  # the stream is gone: say what the body must be
        body = b""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"The request body is not UTF-8 (an invalid byte at position {exc.start}): send JSON encoded in UTF-8."
    return "The request body could not be read as JSON (it nests too deeply?): send one JSON object, as documented."


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        broken = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if broken is not None:
            reason = (broken.get("ctx") or {}).get("error", "invalid JSON")
            where = broken["loc"][-1] if broken.get("loc") else "?"
            return JSONResponse(
                status_code=400,
                content={"detail": f"The request body is not valid JSON ({reason} at character {where})."},
            )
        items = []
        for e in errors:
            field = _field(e.get("loc", ()))
            message = str(e.get("msg", "invalid value"))
            if e.get("type") == "missing" and field == "body":
                message = "a JSON object body is required"
            elif e.get("type") == "extra_forbidden":
                message = "unknown field"
            elif e.get("type") in ("model_attributes_type", "dict_type") and field == "body":
                message = "the body must be a JSON object"
                if "json" not in request.headers.get("content-type", "").lower():
                    message += " sent with `Content-Type: application/json`"
            items.append({"field": field, "message": message})
        summary = "; ".join(f"{i['field']}: {i['message']}" for i in items)
        return JSONResponse(status_code=422, content={"detail": f"Invalid request: {summary}.", "errors": items})

    @app.exception_handler(UnknownFilter)
    async def unknown_filter(request: Request, exc: UnknownFilter) -> JSONResponse:
        content: dict[str, Any] = {"detail": str(exc)}
        if exc.known_speakers:
            content["known_speakers"] = list(exc.known_speakers)
        if exc.known_documents:
            content["known_documents"] = list(exc.known_documents)
        return JSONResponse(status_code=422, content=content)

    @app.exception_handler(QuestionError)
    async def bad_question(request: Request, exc: QuestionError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(NotReady)
    async def not_ready(request: Request, exc: NotReady) -> JSONResponse:
        return JSONResponse(
            status_code=503,
            content={"detail": "The index is not loaded yet; please retry shortly."},
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(FeedbackUnavailable)
    async def no_feedback(request: Request, exc: FeedbackUnavailable) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": "Feedback storage is unavailable right now."})

    @app.exception_handler(RagError)
    async def library_error(request: Request, exc: RagError) -> JSONResponse:
        # Index and corpus errors name files on the server: log them, tell the client only what it can act on.
        log.error("library error on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            status_code=503,
            content={"detail": "The index is unavailable right now; please retry shortly."},
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(FeedbackFull)
    async def feedback_full(request: Request, exc: FeedbackFull) -> JSONResponse:
        log.error("feedback refused: %s (RAG_MAX_FEEDBACK_ROWS)", exc)
        return JSONResponse(status_code=503, content={"detail": "Feedback storage is full; it is not kept."})

    @app.exception_handler(sqlite3.Error)
    async def database_error(request: Request, exc: sqlite3.Error) -> JSONResponse:
        log.error("feedback database error on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(status_code=503, content={"detail": "Feedback storage is unavailable right now."})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 400 and detail == BODY_PARSE_ERROR:
            detail = await _unreadable_body(request)
        return JSONResponse(status_code=exc.status_code, content={"detail": detail}, headers=exc.headers)
