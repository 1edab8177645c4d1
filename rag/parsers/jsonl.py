"""JSONL speeches: one JSON object a line, one record per paragraph.

    {"document": {"title": "…", "subtitle": "…", "date": "…", "source": "…"}}       optional, once
    {"kind": "editor_note", "text": "…"}                                               optional editor's note
    {"speaker": "张冬", "title": "副总经理", "organization": "中国移动通信集团有限公司",
     "headline": "…", "text": "…"}                                                     (on one line)

Consecutive records of the same speaker, title, organisation and headline form one section. Other keys are
ignored. A record's text may hold line breaks: its lines are joined like the layout breaks of a printed page.

The paragraphs' source lines are the records' line numbers in the file; the text they are verified against
(`ParsedDocument.source_text`) holds each record's text on its record's line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rag.errors import CorpusError
from rag.parsers.records import ParsedDocument, ParsedParagraph, ParsedPerson, ParsedSection, merge_people
from rag.parsers.titles import split_organization
from rag.textutil import join_layout_lines

EDITOR_KINDS = ("editor_note", "编者按")
DOCUMENT_KEYS = ("title", "subtitle", "date", "source")
SPEECH_KEYS = ("speaker", "title", "organization", "headline")


def parse_jsonl(path: Path, text: str) -> ParsedDocument:
    """Parse JSONL paragraph records into a document (line numbers name the records)."""
    lines = text.split("\n")
    rendered = [""] * len(lines)
    document: dict[str, str] = {}
    note: list[ParsedParagraph] = []
    speeches: list[ParsedSection] = []
    people: list[ParsedPerson] = []
    voice: list[tuple[str, str, str, str]] = []  # (speaker, title, organisation, headline) of each section
    records = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        record = _record(path, raw, number)
        records += 1
        if "document" in record:
            if document:
                raise CorpusError(path, "a second `document` record: one document per file", number)
            document = _document_fields(path, record["document"], number)
            continue
        body = _text(path, record, number)
        rendered[number - 1] = body
        paragraph = ParsedParagraph(text=body, lines=(number,))
        kind = record.get("kind", "speech")
        if kind in EDITOR_KINDS or record.get("speaker") == "编者按":
            note.append(paragraph)
            continue
        if kind != "speech":
            raise CorpusError(path, f"`kind` must be `speech` or `editor_note`, not `{kind}`", number)
        speaker, title, organization, headline = (_string(path, record, key, number) for key in SPEECH_KEYS)
        if not speaker:
            raise CorpusError(path, "the record has no `speaker`", number)
        if not organization:
            organization, title = split_organization(title) if title else ("", "")
        people.append(ParsedPerson(speaker, title, organization, number))
        if voice and voice[-1] == (speaker, title, organization, headline):
            last = speeches[-1]
            speeches[-1] = ParsedSection("speech", (*last.paragraphs, paragraph), speaker, headline, last.line)
        else:
            voice.append((speaker, title, organization, headline))
            speeches.append(ParsedSection("speech", (paragraph,), speaker, headline, number))
    if not records:
        raise CorpusError(path, "the file has no records")
    if not speeches:
        raise CorpusError(path, "no speaker paragraph found (records need `speaker` and `text`)", 1)
    return ParsedDocument(
        title=document.get("title", ""),
        subtitle=document.get("subtitle", ""),
        sections=((ParsedSection("editor_note", tuple(note)),) if note else ()) + tuple(speeches),
        people=merge_people(people),
        format="jsonl",
        date=document.get("date", ""),
        source=document.get("source", ""),
        source_text="\n".join(rendered),
    )


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
