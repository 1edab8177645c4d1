"""Logs: one JSON object per line (UTC timestamps, the request id, secrets redacted), or, on a terminal, one
human-readable line per record (`RAG_LOG_FORMAT`: auto = text on a terminal, JSON otherwise; text; json).

Questions are data a visitor typed: a terminal never shows them (the `question` fields are left out of its
lines) unless `RAG_LOG_QUESTIONS_ON_TERMINAL` asks for them; JSON lines going to a file or a collector carry
them when `RAG_LOG_QUESTIONS` is on, as before.

`rag serve` calls `configure_logging(force=True)` before uvicorn starts; `create_app()` calls
`configure_logging()`, which sets logging up only where nothing else has (a worker process uvicorn spawned,
`uvicorn app.main:create_app --factory`), so a test runner's log capture or an embedding application keeps
its own handlers.

A line is always exactly one record: the JSON encoder escapes newlines and other control characters, and
`JsonFormatter` also escapes the characters some viewers treat as line breaks or that reorder what a terminal
shows (U+0085, U+2028/2029, bidi overrides, lone surrogates), so text a client sent cannot forge a line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any, Literal

LogFormat = Literal["auto", "text", "json"]

REQUEST_ID: ContextVar[str | None] = ContextVar("rag_request_id", default=None)
REDACTED = "[redacted]"
MAX_FIELD_CHARS = 2000  # a client cannot flood the log through one field

# Attributes every LogRecord has; anything else on a record came from `extra=` and becomes a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}
# Characters that are valid inside a JSON string but that viewers may show as a line break, that reorder
# what a terminal displays, or that cannot be written as UTF-8.
_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_MARK = "_rag_json_handler"
QUESTION_FIELDS = frozenset({"question", "resolved_question", "history"})

_secrets: set[str] = set()
_forms: tuple[str, ...] = ()  # every secret as written raw and JSON-escaped, longest first
_secrets_lock = threading.Lock()


def add_secret(value: str) -> None:
    """Never write `value` to a log: every occurrence becomes `[redacted]` (the admin token is one)."""
    global _forms
    if not value:
        return
    with _secrets_lock:
        _secrets.add(value)
        forms = {f for s in _secrets for f in (s, json.dumps(s)[1:-1], json.dumps(s, ensure_ascii=False)[1:-1])}
        _forms = tuple(sorted(forms, key=len, reverse=True))


def redact(text: str) -> str:
    """`text` with every registered secret (raw or JSON-escaped) replaced by `[redacted]`."""
    for form in _forms:
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def utc_timestamp(created: float) -> str:
    """ISO-8601 UTC with milliseconds, e.g. 2026-11-25T21:30:00.123Z."""
    return datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _field(value: Any) -> Any:
    if isinstance(value, str):
        value = redact(value)  # before cutting, so no prefix of a secret survives the cut
        return value[:MAX_FIELD_CHARS] + "…" if len(value) > MAX_FIELD_CHARS else value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_field(v) for v in value[:100]]
    if isinstance(value, dict):
        return {str(k): _field(v) for k, v in list(value.items())[:100]}
    return _field(str(value))


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON: time (UTC), level, logger, message, pid, request_id, extra fields, exc."""

    def __init__(self, *, questions: bool = True) -> None:
        super().__init__()
        self.questions = questions  # False: the question fields are left out (a terminal's lines)

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": utc_timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _field(record.getMessage()),
            "pid": record.process,
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            out["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in out and not key.startswith("_"):
                if key in QUESTION_FIELDS and not self.questions:
                    continue
                out[key] = _field(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        line = json.dumps(out, ensure_ascii=False, default=str)
        return redact(_UNSAFE.sub(_escape, line))


class TextFormatter(logging.Formatter):
    """A record as one line for a person at a terminal: `12:30:00 INFO  app.ask  answered (…)  [request id]`.

    The message is shown as written, with control and line-breaking characters escaped (one record, one
    line); extra fields are not shown, so neither is a question unless `questions` asks for it.
    """

    def __init__(self, *, questions: bool = False) -> None:
        super().__init__()
        self.questions = questions

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        parts = [when, f"{record.levelname:<7}", record.name, _field(record.getMessage())]
        question = getattr(record, "question", None)
        if self.questions and isinstance(question, str):
            parts.append(f"question={_field(question)!r}")
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            parts.append(f"[{request_id}]")
        line = "  ".join(parts)
        if record.exc_info:
            line += "  " + self.formatException(record.exc_info)
        return redact(_UNSAFE.sub(_escape, _LINE_BREAKS.sub(_escape, line)))


_LINE_BREAKS = re.compile("[\x00-\x1f]")


def is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or foreign stream
        return False


def formatter_for(
    stream: IO[str], log_format: LogFormat = "auto", questions_on_terminal: bool = False
) -> logging.Formatter:
    """Text on a terminal (auto) or when asked; JSON otherwise. A terminal shows questions only when asked."""
    terminal = is_terminal(stream)
    questions = questions_on_terminal or not terminal
    if log_format == "text" or (log_format == "auto" and terminal):
        return TextFormatter(questions=questions_on_terminal)
    return JsonFormatter(questions=questions)


def configure_logging(
    level: int | str = logging.INFO,
    stream: IO[str] | None = None,
    *,
    force: bool = False,
    log_format: LogFormat = "auto",
    questions_on_terminal: bool = False,
) -> bool:
    """Send every record to `stream` (stderr) as a JSON line or, on a terminal, a text line; whether it changed
    anything.

    Without `force`, does nothing where the root logger already has handlers (ours from an earlier call, a
    test runner's capture, an application that embeds this one).
    """
    stream = stream or sys.stderr
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, _MARK, False)]
    if not force and root.handlers:
        return False
    for handler in ours:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    setattr(handler, _MARK, True)
    handler.setFormatter(formatter_for(stream, log_format, questions_on_terminal))
    handler.setLevel(level)  # libraries that set their own logger's level (bm25s: DEBUG) stay below it too
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's own loggers go through the same handler; app.access writes one line per request with its id.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    return True
