"""News reports (消息/通讯): the writer's narrative, with the words it quotes or reports attributed to speakers.

    标题                         (a 副题 line or `——…` subtitle may follow)
    本报某地3月5日讯（记者 …）…     (a dateline opens the first paragraph: the date is the document's)
    …某某局局长王某表示，…          (introduction: registers 王某 with title and organisation)
    “…。”王局长说。                (later references: full name, surname + title, 他/她/其)
    小标题                        (short heading: starts a section)
    责任编辑：…  来源：…           (footers and fields: not content; `来源` is the document's source)

Every paragraph is narrative, attributed to the article; inside it, quotations and reported sentences tied to
a resolved speaker are segments (rules in `attribution.py`). Nothing else is anyone's.
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.errors import CorpusError
from rag.parsers.lines import blocks, dateline_date, fields, is_furniture, without_page_header
from rag.parsers.narrative import attribute_paragraphs, register, speakers, unresolved_note
from rag.parsers.people import People
from rag.parsers.records import ParsedDocument, ParsedSection, SourceLine
from rag.parsers.zhaideng import SUBTITLE, source_lines
from rag.script import to_simplified
from rag.textutil import ends_sentence

EXPECTED = "quotations or reported speech tied to a named person (`某某局局长王某说，…`, `“…。”王某表示`)"
MAX_SUBTITLE_CHARS = 40
DATELINE_ONLY = re.compile(r"^[^，。！？：]{0,24}?\d{1,2}日(?:讯|电)\s*(?:[（(][^（）()]{0,40}[）)])?\s*$")


def parse_news(path: Path, text: str) -> ParsedDocument:
    """Parse a news report into narrative sections whose quoted and reported words are attributed."""
    lines = without_page_header(source_lines(text))
    if not lines:
        raise CorpusError(path, "the file has no text")
    title, subtitle, first = _head(lines)
    found: dict[str, str] = {}
    for line in lines[1:]:
        for key, value in fields(line.text).items() if is_furniture(line.text) else ():
            found.setdefault(key, value)
    body = [line for line in lines[first:] if not is_furniture(line.text)]
    # A dateline on a line of its own (`本报青岚4月12日讯（记者 …）`) dates the report and is no paragraph.
    dated = dateline_date(body[0].text) if body and DATELINE_ONLY.match(to_simplified(body[0].text)) else ""
    body = body[1:] if dated else body
    people = People()
    register([(title, lines[0].number), (subtitle, lines[0].number)], people)
    sections, unresolved = narrative_sections(body, people)
    if not any(p.segments for s in sections for p in s.paragraphs):
        raise CorpusError(path, f"news expected {EXPECTED}", lines[0].number)
    first_paragraph = sections[0].paragraphs[0].text if sections else ""
    return ParsedDocument(
        title=title,
        subtitle=subtitle,
        sections=tuple(sections),
        people=speakers(sections, people),
        format="news",
        date=dated or dateline_date(first_paragraph) or found.get("date", ""),
        source=found.get("source", ""),
        notes=unresolved_note(unresolved),
    )


def narrative_sections(body: list[SourceLine], people: People) -> tuple[list[ParsedSection], int]:
    """Narrative sections (one per heading) with attributed segments, and the count left unattributed."""
    grouped = blocks(body)
    paragraphs = [p for b in grouped for p in b.paragraphs]
    attributed, unresolved = attribute_paragraphs(paragraphs, people)
    sections, at = [], 0
    for block in grouped:
        n = len(block.paragraphs)
        sections.append(
            ParsedSection("narrative", tuple(attributed[at : at + n]), headline=block.headline, line=block.line)
        )
        at += n
    return sections, unresolved


def _head(lines: list[SourceLine]) -> tuple[str, str, int]:
    """(title, subtitle, index of the first body line): the subtitle is `——…` or a short 副题 line."""
    title, subtitle = lines[0].text, ""
    i = 1
    while i < len(lines) and i < 5:
        text = lines[i].text
        if is_furniture(text):
            i += 1
            continue
        dash = SUBTITLE.match(text)
        if DATELINE_ONLY.match(to_simplified(text)):
            break  # the dateline starts the body
        if subtitle or ends_sentence(text) or len(text) > MAX_SUBTITLE_CHARS:
            break
        subtitle = dash.group("text") if dash else text
        i += 1
    return title, subtitle, i
