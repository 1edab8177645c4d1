"""JSONL speeches: one JSON object a line, one record per paragraph.

    {"document": {"title": "…", "subtitle": "…", "date": "…", "source": "…"}}       optional, once
    {"kind": "editor_note", "text": "…"}                                               optional editor's note
    {"speaker": "张冬", "title": "副总经理", "organization": "中国移动通信集团有限公司",
     "headline": "…", "text": "…"}                                                     kind `speech` (the default)
    {"kind": "question", "id": "q1", "speaker": "记者", "text": "…？"}                  the asker as printed
    {"kind": "answer", "question": "q1", "speaker": "陈静", "title": "馆长", "text": "…"}
    {"kind": "narrative", "text": "…“…”王某说。", "segments": [
        {"speaker": "王某", "title": "局长", "organization": "…", "text": "…", "attribution": "direct"}]}

`kind` is speech, answer, question, editor_note or narrative. An answer names the `id` of the question it
answers in `question`; without one it answers the last question before it. A narrative record (the writer's
text) lists the words it attributes: each segment's `text` must occur in the record's text (searched after the
previous segment), `attribution` is `direct` (the words inside quotation marks, which must surround them) or
`reported` (the writer's sentence), default `direct`; its speaker becomes one of the document's people.

Consecutive records of the same kind, speaker, title, organisation, headline (and question) form one section;
a question with an `id` of its own starts a new one. Other keys are ignored. A record's text may hold line
breaks: its lines are joined like the layout breaks of a printed page.

The paragraphs' source lines are the records' line numbers in the file; the text they are verified against
(`ParsedDocument.source_text`) holds each record's text on its record's line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rag.errors import CorpusError
from rag.parsers.records import (
    ParsedDocument,
    ParsedParagraph,
    ParsedPerson,
    ParsedSection,
    ParsedSegment,
    merge_people,
)
from rag.parsers.titles import split_organization
from rag.textutil import join_layout_lines

KINDS = ("speech", "answer", "question", "editor_note", "narrative")
EDITOR_KINDS = ("editor_note", "编者按")
ATTRIBUTIONS = ("direct", "reported")
DOCUMENT_KEYS = ("title", "subtitle", "date", "source")
SPEECH_KEYS = ("speaker", "title", "organization", "headline")
OPENING, CLOSING = "“「", "”」"


@dataclass
class _Reader:
    """The document being read: sections so far, people, question ids, and the rendered source text."""

    path: Path
    rendered: list[str]
    document: dict[str, str] = field(default_factory=dict)
    sections: list[ParsedSection] = field(default_factory=list)
    voices: list[tuple[object, ...]] = field(default_factory=list)  # the grouping key of each section
    people: list[ParsedPerson] = field(default_factory=list)
    notes: list[ParsedParagraph] = field(default_factory=list)  # editor's-note records, one leading section
    questions: dict[str, int] = field(default_factory=dict)  # question id -> section index
    last_question: int | None = None
    records: int = 0


def parse_jsonl(path: Path, text: str) -> ParsedDocument:
    """Parse JSONL paragraph records into a document (line numbers name the records)."""
    lines = text.split("\n")
    reader = _Reader(path, [""] * len(lines))
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            _read(reader, _record(path, raw, number), number)
    if not reader.records:
        raise CorpusError(path, "the file has no records")
    if not reader.people:
        raise CorpusError(path, "no speaker paragraph found (records need `speaker` and `text`)", 1)
    document = reader.document
    return ParsedDocument(
        title=document.get("title", ""),
        subtitle=document.get("subtitle", ""),
        sections=_with_note(reader),
        people=merge_people(reader.people),
        format="jsonl",
        date=document.get("date", ""),
        source=document.get("source", ""),
        source_text="\n".join(reader.rendered),
    )


def _read(reader: _Reader, record: dict[str, Any], number: int) -> None:
    path = reader.path
    reader.records += 1
    if "document" in record:
        if reader.document:
            raise CorpusError(path, "a second `document` record: one document per file", number)
        reader.document = _document_fields(path, record["document"], number)
        return
    body = _text(path, record, number)
    reader.rendered[number - 1] = body
    paragraph = ParsedParagraph(text=body, lines=(number,))
    kind = (
        "editor_note"
        if record.get("kind") in EDITOR_KINDS or record.get("speaker") == "编者按"
        else record.get("kind", "speech")
    )
    if kind not in KINDS:
        raise CorpusError(path, f"`kind` must be {', '.join(KINDS[:-1])} or {KINDS[-1]}, not `{kind}`", number)
    if kind == "editor_note":
        reader.notes.append(paragraph)
    elif kind == "question":
        _question(reader, record, paragraph, number)
    elif kind == "narrative":
        _narrative(reader, record, paragraph, number)
    else:
        _speech(reader, record, paragraph, number, kind)


def _speech(reader: _Reader, record: dict[str, Any], paragraph: ParsedParagraph, number: int, kind: str) -> None:
    speaker, title, organization, headline = (_string(reader.path, record, key, number) for key in SPEECH_KEYS)
    if not speaker:
        raise CorpusError(reader.path, "the record has no `speaker`", number)
    _person(reader, speaker, title, organization, number)
    question = _answered(reader, record, number) if kind == "answer" else None
    if kind == "answer" and question is None:
        raise CorpusError(reader.path, "an `answer` record before any `question` record", number)
    key = (kind, speaker, title, organization, headline, question)
    _add(reader, key, ParsedSection(kind, (paragraph,), speaker, headline, number, question))  # type: ignore[arg-type]


def _question(reader: _Reader, record: dict[str, Any], paragraph: ParsedParagraph, number: int) -> None:
    asker = _string(reader.path, record, "speaker", number) or "记者"
    headline = _string(reader.path, record, "headline", number)
    qid = _string(reader.path, record, "id", number)
    if qid and qid in reader.questions and (not reader.voices or reader.voices[-1][:2] != ("question", qid)):
        raise CorpusError(reader.path, f"question id `{qid}` is used twice", number)
    _add(
        reader,
        ("question", qid or f"line {number}", asker, headline),
        ParsedSection("question", (paragraph,), asker, headline, number),
    )
    reader.last_question = len(reader.sections) - 1
    if qid:
        reader.questions[qid] = reader.last_question


def _answered(reader: _Reader, record: dict[str, Any], number: int) -> int | None:
    qid = _string(reader.path, record, "question", number)
    if not qid:
        return reader.last_question
    if qid not in reader.questions:
        raise CorpusError(reader.path, f"`question` names no question record with `id` `{qid}`", number)
    return reader.questions[qid]


def _narrative(reader: _Reader, record: dict[str, Any], paragraph: ParsedParagraph, number: int) -> None:
    raw = record.get("segments", [])
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        raise CorpusError(reader.path, "`segments` must be a list of objects", number)
    segments, at = [], 0
    for item in raw:
        segment = _segment(reader, item, paragraph.text, at, number)
        segments.append(segment)
        at = segment.end
    headline = _string(reader.path, record, "headline", number)
    section = ParsedSection("narrative", (replace(paragraph, segments=tuple(segments)),), "", headline, number)
    _add(reader, ("narrative", headline), section)


def _segment(reader: _Reader, item: dict[str, Any], text: str, at: int, number: int) -> ParsedSegment:
    speaker, title, organization = (
        _string(reader.path, item, key, number) for key in ("speaker", "title", "organization")
    )
    words = item.get("text")
    if not isinstance(words, str):
        raise CorpusError(reader.path, "each segment needs `speaker` and `text`", number)
    attribution = _string(reader.path, item, "attribution", number) or "direct"
    if not speaker or not words:
        raise CorpusError(reader.path, "each segment needs `speaker` and `text`", number)
    if attribution not in ATTRIBUTIONS:
        raise CorpusError(reader.path, f"`attribution` must be direct or reported, not `{attribution}`", number)
    start = text.find(words, at)
    if start < 0:
        raise CorpusError(reader.path, f"segment text `{words[:20]}` is not in the record's text", number)
    end = start + len(words)
    if attribution == "direct" and not (
        start and text[start - 1] in OPENING and (end == len(text) or text[end] in CLOSING)
    ):
        raise CorpusError(reader.path, "a `direct` segment must be the words inside quotation marks", number)
    _person(reader, speaker, title, organization, number)
    return ParsedSegment(start, end, speaker, attribution)  # type: ignore[arg-type]


def _person(reader: _Reader, speaker: str, title: str, organization: str, number: int) -> None:
    if not organization:
        organization, title = split_organization(title) if title else ("", "")
    reader.people.append(ParsedPerson(speaker, title, organization, number))


def _add(reader: _Reader, key: tuple[object, ...], section: ParsedSection) -> None:
    """Append a section, or extend the last one when the record continues its voice."""
    if reader.voices and reader.voices[-1] == key:
        last = reader.sections[-1]
        reader.sections[-1] = replace(last, paragraphs=(*last.paragraphs, *section.paragraphs))
        return
    reader.voices.append(key)
    reader.sections.append(section)


def _with_note(reader: _Reader) -> tuple[ParsedSection, ...]:
    """The editor's-note records as one leading section (as the format has always read them), then the rest."""
    if not reader.notes:
        return tuple(reader.sections)
    # Answers counted their question's index without the leading note section: shift them past it.
    shifted = [s if s.question is None else replace(s, question=s.question + 1) for s in reader.sections]
    return (ParsedSection("editor_note", tuple(reader.notes)), *shifted)


def _record(path: Path, raw: str, number: int) -> dict[str, Any]:
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CorpusError(path, f"the line is not valid JSON ({exc.msg}, column {exc.colno})", number) from None
    if not isinstance(record, dict):
        raise CorpusError(path, f"each line must be a JSON object, not {type(record).__name__}", number)
    return record


def _document_fields(path: Path, value: object, number: int) -> dict[str, str]:
    if not isinstance(value, dict):
        raise CorpusError(path, "`document` must be an object with title, subtitle, date, source", number)
    return {key: _string(path, value, key, number) for key in DOCUMENT_KEYS if key in value}


def _string(path: Path, record: dict[str, Any], key: str, number: int) -> str:
    value = record.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CorpusError(path, f"`{key}` must be a string", number)
    return " ".join(value.split())


def _text(path: Path, record: dict[str, Any], number: int) -> str:
    value = record.get("text")
    if not isinstance(value, str):
        raise CorpusError(path, "the record has no `text` string", number)
    body = join_layout_lines([part.strip() for part in value.splitlines() if part.strip()])
    if not body:
        raise CorpusError(path, "the record's `text` is empty", number)
    return body
