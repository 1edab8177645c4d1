"""A transcript (interview or press conference) from its lines: front sections, then one section per turn."""

from __future__ import annotations

from pathlib import Path

from rag.parsers.dialog import Dialog, front_sections, read_dialog, turn_sections
from rag.parsers.lines import without_page_header
from rag.parsers.narrative import register, speakers, unresolved_note
from rag.parsers.people import People
from rag.parsers.records import ParsedDocument, ParsedSection, SourceLine
from rag.parsers.zhaideng import SUBTITLE, source_lines


def read_transcript(path: Path, text: str, press: bool) -> tuple[ParsedDocument, Dialog]:
    """The document (format `press` or `interview`) and the dialog it was read from, for the caller's checks."""
    lines = without_page_header(source_lines(text))
    people = People()
    register([(lines[0].text, lines[0].number)] if lines else [], people)
    dialog = read_dialog(lines[1:], people, press)
    front, unresolved = front_sections(dialog.front, people)
    sections = front + turn_sections(dialog, people, len(front))
    document = ParsedDocument(
        title=lines[0].text if lines else "",
        subtitle=_subtitle(dialog.front),
        sections=tuple(sections),
        people=speakers(sections, people),
        format="press" if press else "interview",
        date=dialog.fields.get("date", ""),
        source=dialog.fields.get("source", ""),
        notes=unresolved_note(unresolved, "the document's text") + _turn_notes(dialog),
    )
    return document, dialog


def has_turns(sections: tuple[ParsedSection, ...]) -> bool:
    """At least one question and one statement by an identified person."""
    return any(s.kind == "question" for s in sections) and any(s.kind in ("answer", "speech") for s in sections)


def _subtitle(front: list[SourceLine]) -> str:
    for line in front[:3]:
        dash = SUBTITLE.match(line.text)
        if dash:
            return dash.group("text")
    return ""


def _turn_notes(dialog: Dialog) -> tuple[str, ...]:
    notes = []
    if dialog.unnamed_host:
        notes.append(
            f"{_count(dialog.unnamed_host, 'statement')} by an unnamed host (主持人) kept as the document's text"
        )
    if dialog.unresolved_answers:
        notes.append(
            f"{_count(dialog.unresolved_answers, 'answer')} labelled 答 that could not be tied to one person "
            "kept as the document's text"
        )
    return tuple(notes)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
