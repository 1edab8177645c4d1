"""What the HTML pages render on the server: an answer for the form without JavaScript, and a speech page.

The templates share jinja2 macros (`_answer.html`) with nothing else, and the page's script draws the same
cards from the same answer object, so an answer looks alike with JavaScript on or off.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request, status
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from app.i18n import STRINGS, UiLanguage, pick_language
from app.schemas import AskRequest
from rag import Index
from rag.errors import QuestionError
from rag.service import NotReady
from rag.views import speech_in_context

APP_DIR = Path(__file__).resolve().parent

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(APP_DIR / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
)

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def english_date(date: str) -> str:
    """9月30日 → 30 September, 2024年9月30日 or 2024-09-30 → 30 September 2024 (as the page's script does)."""
    found = re.search(r"(?:(\d{4})\s*[-年./]\s*)?(\d{1,2})\s*[-月./]\s*(\d{1,2})", date or "")
    if not found or not 1 <= int(found.group(2)) <= 12:
        return date
    year, month, day = found.group(1), int(found.group(2)), int(found.group(3))
    return f"{day} {MONTHS[month - 1]}" + (f" {year}" if year else "")


def chinese_date(doc: dict[str, Any]) -> str:
    """9月30日 with year 2024 → 2024年9月30日; a date that has its year, or no year field, as printed."""
    date, year = str(doc.get("date") or ""), str(doc.get("year") or "")
    if year and not re.search(r"\d{4}", date):
        return f"{year}年{date}"
    return date


templates.env.filters["english_date"] = english_date
templates.env.filters["chinese_date"] = chinese_date
templates.env.globals["not_found_texts"] = {STRINGS[lang]["not_found_text"] for lang in STRINGS}


@dataclass(frozen=True)
class ServedAnswer:
    """A question answered on the server: the /ask response object, or the sentence saying what went wrong."""

    question: str
    speaker: str | None
    answer: dict[str, Any] | None
    error: str = ""


def served_answer(
    question: str, speaker: str | None, lang: UiLanguage, answer: Callable[[AskRequest], dict[str, Any]]
) -> ServedAnswer:
    """Check the question as POST /ask would, and answer it (errors become the message the page shows)."""
    t = STRINGS[lang]
    try:
        body = AskRequest.model_validate({"question": question, "speaker": speaker or None})
    except ValidationError as exc:
        detail = "; ".join(str(e["msg"]) for e in exc.errors())
        return ServedAnswer(question, speaker, None, f"{t['error_invalid']} {detail}")
    try:
        return ServedAnswer(body.question, speaker, answer(body))
    except NotReady:
        return ServedAnswer(body.question, speaker, None, t["error_loading"])
    except QuestionError as exc:
        return ServedAnswer(body.question, speaker, None, str(exc))


def wants_html(request: Request) -> bool:
    """A browser navigating to the URL (its Accept names text/html); API clients send application/json or */*."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def speech_page(request: Request, index: Index, key: str) -> HTMLResponse:
    """A whole speech or document as a page; the paragraph named by the URL's #fragment is highlighted (CSS
    :target), and every paragraph is a link to itself."""
    from app.routes import asset_version

    lang = pick_language(request.headers.get("accept-language"))
    found = speech_in_context(index, key)
    documents = {d.slug: d for d in found.document_info} if found else {}
    return templates.TemplateResponse(
        request,
        "speech.html",
        {"lang": lang, "t": STRINGS[lang], "v": asset_version(), "speech": found, "documents": documents},
        status_code=status.HTTP_200_OK if found else status.HTTP_404_NOT_FOUND,
    )


@dataclass(frozen=True)
class Operation:
    """One endpoint as the API docs page lists it without JavaScript (the script then shows every field)."""

    method: str
    path: str
    summary: str
    description: str


def operations(spec: dict[str, Any]) -> list[Operation]:
    """Every operation of the OpenAPI schema, in its order."""
    return [
        Operation(method.upper(), path, str(op.get("summary", "")), str(op.get("description", "")))
        for path, methods in spec.get("paths", {}).items()
        for method, op in methods.items()
        if isinstance(op, dict)
    ]
