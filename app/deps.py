"""Request dependencies as `Annotated` aliases: the service, the one index a request is answered from, feedback.

Those that only read `app.state` are `async def`: FastAPI runs a plain `def` dependency in a worker thread,
a hand-off to a thread and back (~0.1 ms on a busy 2-core machine) for each one of each request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.ask_ids import AskIds
from rag import Index, Settings
from rag.feedback import FeedbackStore, QuestionLog
from rag.service import Service


class FeedbackUnavailable(Exception):
    """The feedback database could not be opened at start-up (the server log says why)."""


async def get_service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


ServiceDep = Annotated[Service, Depends(get_service)]


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_index(service: ServiceDep) -> Index:
    """The index for this request, taken once (raises NotReady → 503 until one is loaded)."""
    return service.index()


IndexDep = Annotated[Index, Depends(get_index)]


async def get_feedback(request: Request) -> FeedbackStore:
    store: FeedbackStore | None = request.app.state.feedback
    if store is None:
        raise FeedbackUnavailable()
    return store


FeedbackDep = Annotated[FeedbackStore, Depends(get_feedback)]


async def get_question_log(request: Request) -> QuestionLog | None:
    return request.app.state.question_log  # type: ignore[no-any-return]


QuestionLogDep = Annotated[QuestionLog | None, Depends(get_question_log)]


async def get_ask_ids(request: Request) -> AskIds:
    return request.app.state.ask_ids  # type: ignore[no-any-return]


AskIdsDep = Annotated[AskIds, Depends(get_ask_ids)]
