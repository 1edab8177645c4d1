"""Markdown speeches: a `#` title, then per speaker a `##` heading and that speaker's paragraphs.

    ---                          optional front matter, one `key: value` a line: title, subtitle, date, source, year, page, url
    date: 9月30日
    ---
    # 标题
    ——副标题                      optional
    编者按：…                     optional: paragraphs before the first speaker are the editor's note
    ## 姓名（职务，机构）           also `## Name (Title, Organization)`, `## 姓名（机构职务）` or `## 姓名`
    ### 小标题                     optional section headline; another one starts a new section of the speaker
    段落…                          paragraphs are separated by blank lines; lines wrapped inside one are joined
    ## 记者                        a question heading (`## 记者`, `## 问`, `## 主持人`, `## 新华社记者`, `## 网友…`):
    问题…                          its paragraphs are a question; every speaker heading after it, up to the next
    ## 姓名（职务）                 question heading, holds answers to it (an interview or a press conference)

Images, HTML comments, horizontal rules and photo-credit lines are not content. Inline Markdown is kept as
written so every paragraph stays verbatim to its source lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import CorpusError
from rag.parsers.dialog import is_question_label
from rag.parsers.records import (
    ParsedDocument,
    ParsedParagraph,
    ParsedPerson,
    ParsedSection,
    SourceLine,
    merge_people,
)
from rag.parsers.titles import split_title_and_organization
from rag.parsers.zhaideng import EDITOR_NOTE, SUBTITLE, is_photo_credit, make_paragraph
from rag.vocabulary import ParagraphKind

TITLE = re.compile(r"^#\s+(?P<text>.+?)\s*#*$")
SPEAKER = re.compile(r"^##\s+(?P<name>[^()（）#]+?)\s*(?:[(（](?P<inner>.*)[)）])?\s*#*$")
HEADLINE = re.compile(r"^#{3,6}\s+(?P<text>.+?)\s*#*$")
NOT_CONTENT = re.compile(
    r"^!\[[^\]]*\]\([^)]*\)$"  # an image
    r"|^<!--.*-->$"  # an HTML comment on one line
    r"|^(?:[-*_]\s*){3,}$"  # a horizontal rule
)
FRONT_MATTER_KEYS = ("title", "subtitle", "date", "source", "year", "page", "url")
MAX_NAME_CHARS = 60


def parse_markdown(path: Path, text: str) -> ParsedDocument:
    """Parse a Markdown speech document into title, editor's note and per-speaker paragraphs."""
    raw_lines = text.splitlines()
    fields, first = _front_matter(path, raw_lines)
    title = fields.get("title", "")
    subtitle = fields.get("subtitle", "")
    intro = _Section(SourceLine(0, ""), "", "", "")
    sections: list[_Section] = []
    seen_title = False

    for number, raw in enumerate(raw_lines[first:], start=first + 1):
        line = raw.strip()
        section = sections[-1] if sections else intro
        if not line or NOT_CONTENT.match(line):
            section.end_paragraph()
            continue
        source = SourceLine(number, line)
        speaker = SPEAKER.match(line)
        if speaker:
            name = speaker.group("name").strip()
            if len(name) > MAX_NAME_CHARS:
                raise CorpusError(path, f"speaker name longer than {MAX_NAME_CHARS} characters", number)
            job, organization = split_title_and_organization(speaker.group("inner") or "")
            sections.append(_Section(source, name, job, organization))
            continue
        heading = HEADLINE.match(line)
        if heading:
            if not sections:
                raise CorpusError(
                    path, "a `###` headline before the first `## 姓名（职务，机构）` speaker heading", number
                )
            if section.has_text():  # a new headline starts a new section of the same speaker
                section = section.continued()
                sections.append(section)
            section.headline = heading.group("text")
            continue
        top = TITLE.match(line)
        if top:
            if seen_title or sections:
                raise CorpusError(path, "a second `#` title: one document per file", number)
            seen_title = True
            title = fields.get("title") or top.group("text")
            continue
        if not sections:
            note = EDITOR_NOTE.match(line)
            if is_photo_credit(line) or (note and not note.group("rest")):
                continue  # photo credits and a bare `编者按：` marker are not content
            if not subtitle and not intro.has_text() and SUBTITLE.match(line):
                subtitle = SUBTITLE.match(line).group("text")  # type: ignore[union-attr]
                continue
        section.add(source)

    if not sections:
        raise CorpusError(
            path,
            "no speaker heading found (expected `## 姓名（职务，机构）` or `## Name (Title, Organization)`)",
            first + 1,
        )
    parsed: list[ParsedSection] = []
    editor_note = intro.paragraphs()
    if editor_note:
        parsed.append(ParsedSection("editor_note", editor_note))
    asked: int | None = None  # the question the speaker headings after it answer
    for section in sections:
        paragraphs = section.paragraphs()
        if not paragraphs:
            raise CorpusError(path, f"speaker {section.name} has no paragraphs", section.heading.number)
        if is_question_label(section.name):
            asked = len(parsed)
            parsed.append(ParsedSection("question", paragraphs, section.name, section.headline, section.heading.number))
            continue
        kind: ParagraphKind = "speech" if asked is None else "answer"
        parsed.append(ParsedSection(kind, paragraphs, section.name, section.headline, section.heading.number, asked))
    people = [
        ParsedPerson(s.name, s.title, s.organization, s.heading.number)
        for s in sections
        if not is_question_label(s.name)
    ]
    if not people:
        raise CorpusError(path, "no speaker heading found, only question headings (`## 记者`, `## 问`)", first + 1)
    return ParsedDocument(
        title=title,
        subtitle=subtitle,
        sections=tuple(parsed),
        people=merge_people(people),
        format="markdown",
        date=fields.get("date", ""),
        source=fields.get("source", ""),
        year=fields.get("year", ""),
        page=fields.get("page", ""),
        url=fields.get("url", ""),
    )


@dataclass
class _Section:
    """One speaker heading's paragraphs (blocks of consecutive lines) while parsing."""

    heading: SourceLine
    name: str
    title: str
    organization: str
    headline: str = ""
    blocks: list[list[SourceLine]] = field(default_factory=lambda: [[]])

    def add(self, line: SourceLine) -> None:
        self.blocks[-1].append(line)

    def end_paragraph(self) -> None:
        if self.blocks[-1]:
            self.blocks.append([])

    def has_text(self) -> bool:
        return any(self.blocks)

    def continued(self) -> _Section:
        return _Section(self.heading, self.name, self.title, self.organization)

    def paragraphs(self) -> tuple[ParsedParagraph, ...]:
        return tuple(make_paragraph(block) for block in self.blocks if block)


def _front_matter(path: Path, lines: list[str]) -> tuple[dict[str, str], int]:
    """`---` … `---` at the very top: (fields, index of the first line after it)."""
    if not lines or lines[0].strip() != "---":
        return {}, 0
    fields: dict[str, str] = {}
    for i, raw in enumerate(lines[1:], start=1):
        line = raw.strip()
        if line == "---":
            return fields, i + 1
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise CorpusError(path, "front matter lines must read `key: value`", i + 1)
        key = key.strip().lower()
        if key in FRONT_MATTER_KEYS:
            fields[key] = value.strip().strip("\"'")
    raise CorpusError(path, "front matter opened with `---` is never closed", 1)
