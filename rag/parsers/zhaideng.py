"""Parser for the newspaper "发言摘登" page format: title, editor's note, speakers' sections.

Layout of such a page (blank lines separate lines; a "line" here is one non-blank source line):

    标题
    ——副标题
    编者按：
    编者按段落…            (continues until the photo captions or the first section)
    姓名                    (one line per photo caption: not content)
    本版照片均为…摄          (photo credit: not content)
    小标题                  (section headline, optional)
    姓名(职务)              (speaker line, half- or full-width brackets)
    段落…                   (paragraphs; a line that does not end a sentence continues on the next)

Variations other pages show, all handled: full-width brackets and spaced names (`王  杰（…）`); pages with
or without headlines; no editor's note, or one that starts on the `编者按：` line itself; other photo-credit
lines (`（记者 李健 摄）`, `本版图片由主办方提供`, `图/…`, `受访者供图`); a speaker line broken across two
lines; `姓名（机构职务）`, split into organisation and title where the title names the organisation.
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.errors import CorpusError
from rag.parsers.records import (
    ParsedDocument,
    ParsedParagraph,
    ParsedPerson,
    ParsedSection,
    SourceLine,
    merge_people,
)
from rag.parsers.titles import split_organization
from rag.textutil import IDEOGRAPHS, ends_sentence, join_layout_lines

_NAME = rf"[{IDEOGRAPHS}·](?:[ \u3000]{{0,3}}[{IDEOGRAPHS}·]){{1,5}}"
SPEAKER_LINE = re.compile(rf"^(?P<name>{_NAME})\s*[(（](?P<title>[^()（）]{{2,80}})[)）]$")
SPEAKER_LINE_START = re.compile(rf"^{_NAME}\s*[(（][^()（）]{{1,79}}$")
NAME_ONLY = re.compile(rf"^{_NAME}$")
PHOTO_CREDIT = re.compile(
    r"(?:摄|供图|由.{1,30}提供)\s*[)）]?$"  # …记者 刘尚文 摄 / （记者 李健 摄） / 受访者供图 / 本版图片由主办方提供
    r"|^[(（]?(?:本版|本组|本期)?(?:照片|图片|摄影|图)\s*[/／：:\s]"  # 图/湖南日报记者 童迪 / 摄影：李健
    r"|^[(（]?(?:本版|本组|本期)?(?:照片|图片)(?:均|由|来源)"  # 本版照片均为… / 图片来源：…
)
EDITOR_NOTE = re.compile(r"^[【\[]?(编者按|编者的话|编后)[】\]]?[:：]?\s*(?P<rest>.*)$")
SUBTITLE = re.compile(r"^[—－-]{1,2}\s*(?P<text>.+)$")
MAX_HEADLINE_CHARS = 40


def read_source_text(path: Path, data: bytes) -> str:
    """Decode a source file, refusing empty, binary or non-UTF-8 input with the file and line named."""
    if not data.strip():
        raise CorpusError(path, "the file is empty")
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise CorpusError(path, "the file looks binary (it contains NUL bytes), not UTF-8 text", line)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CorpusError(path, f"the file is not valid UTF-8 (byte {exc.start})", line) from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise CorpusError(path, "the file is empty")
    return text


def source_lines(text: str) -> list[SourceLine]:
    """Non-blank lines with their 1-based line numbers, stripped of surrounding whitespace."""
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped:
            out.append(SourceLine(number, stripped))
    return out


def paragraphs_from_lines(lines: list[SourceLine]) -> list[ParsedParagraph]:
    """Group lines into paragraphs, joining lines the print layout broke mid-sentence."""
    paragraphs: list[ParsedParagraph] = []
    pending: list[SourceLine] = []
    for line in lines:
        pending.append(line)
        if ends_sentence(line.text):
            paragraphs.append(make_paragraph(pending))
            pending = []
    if pending:
        paragraphs.append(make_paragraph(pending))
    return paragraphs


def make_paragraph(lines: list[SourceLine]) -> ParsedParagraph:
    """One paragraph from its source lines (joined the way `paragraph_from_source` rebuilds it)."""
    return ParsedParagraph(
        text=join_layout_lines([line.text for line in lines]),
        lines=tuple(line.number for line in lines),
    )


def is_photo_credit(text: str) -> bool:
    """A photo-credit line (`本版照片均为…摄`, `图/…`, `受访者供图`…): never content."""
    return len(text) <= 60 and not ends_sentence(text) and bool(PHOTO_CREDIT.search(text))


def _plain_name(name: str) -> str:
    return re.sub(r"[ \u3000]", "", name)


def _join_broken_speaker_lines(lines: list[SourceLine]) -> list[SourceLine]:
    """Rejoin a speaker line the layout broke inside its brackets (`张冬(中国移动…` / `…副总经理)`)."""
    out: list[SourceLine] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and SPEAKER_LINE_START.match(line.text):
            joined = line.text + lines[i + 1].text
            if SPEAKER_LINE.match(joined):
                out.append(SourceLine(line.number, joined))
                i += 2
                continue
        out.append(line)
        i += 1
    return out


def parse_zhaideng(path: Path, text: str) -> ParsedDocument:
    """Parse a "发言摘登" page into title, editor's note and per-speaker paragraphs."""
    lines = _join_broken_speaker_lines(source_lines(text))
    if not lines:
        raise CorpusError(path, "the file has no text")
    speaker_at = [i for i, line in enumerate(lines) if SPEAKER_LINE.match(line.text)]
    if not speaker_at:
        raise CorpusError(
            path,
            "no speaker line found (expected a line like `姓名(职务)` or `姓名（职务）` before each speech)",
            lines[0].number,
        )
    speaker_names = {_plain_name(SPEAKER_LINE.match(lines[i].text).group("name")) for i in speaker_at}  # type: ignore[union-attr]

    # A headline is the short line right before a speaker line that does not end a sentence; the page
    # title, the subtitle, the editor's-note marker, a photo caption or credit never is.
    headline_at: dict[int, int] = {}
    for i in speaker_at:
        j = i - 1
        if j >= 1 and j not in speaker_at and _looks_like_headline(lines[j].text, speaker_names):
            headline_at[i] = j
    first_section = headline_at.get(speaker_at[0], speaker_at[0])

    title, subtitle, note = _front_matter(lines[:first_section], speaker_names)
    sections: list[ParsedSection] = [ParsedSection("editor_note", tuple(note))] if note else []
    people: list[ParsedPerson] = []
    for k, i in enumerate(speaker_at):
        match = SPEAKER_LINE.match(lines[i].text)
        assert match is not None
        end = len(lines)
        if k + 1 < len(speaker_at):
            nxt = speaker_at[k + 1]
            end = headline_at.get(nxt, nxt)
        body = lines[i + 1 : end]
        name = _plain_name(match.group("name"))
        if not body:
            raise CorpusError(path, f"speaker {name} has no paragraphs", lines[i].number)
        raw_title = match.group("title").strip()
        organization, title_only = split_organization(raw_title)
        people.append(ParsedPerson(name, title_only if organization else raw_title, organization, lines[i].number))
        sections.append(
            ParsedSection(
                "speech",
                tuple(paragraphs_from_lines(body)),
                speaker=name,
                headline=lines[headline_at[i]].text if i in headline_at else "",
                line=lines[i].number,
            )
        )
    return ParsedDocument(
        title=title, subtitle=subtitle, sections=tuple(sections), people=merge_people(people), format="zhaideng"
    )


def _looks_like_headline(text: str, speaker_names: set[str]) -> bool:
    return (
        len(text) <= MAX_HEADLINE_CHARS
        and not ends_sentence(text)
        and not _is_caption(text, speaker_names)
        and not is_photo_credit(text)
        and not SUBTITLE.match(text)
        and not EDITOR_NOTE.match(text)
    )


def _is_caption(text: str, speaker_names: set[str]) -> bool:
    """A photo caption: one or more speakers' names and nothing else (`张冬` or `张冬  宋起柱`)."""
    if NAME_ONLY.match(text) and _plain_name(text) in speaker_names:
        return True
    names = [n for n in re.split(r"[\s\u3000、，,/]+", text) if n]
    return len(names) > 1 and all(n in speaker_names for n in names)


def _front_matter(lines: list[SourceLine], speaker_names: set[str]) -> tuple[str, str, list[ParsedParagraph]]:
    """Title, subtitle and editor's note paragraphs from the lines before the first section."""
    title = ""
    subtitle = ""
    note_lines: list[SourceLine] = []
    in_note = False
    for line in lines:
        text = line.text
        if _is_caption(text, speaker_names) or is_photo_credit(text):
            in_note = False  # photo captions and credit end the note and are not content
            continue
        note = EDITOR_NOTE.match(text)
        if note:
            in_note = True
            if note.group("rest"):
                # `编者按：正文…` on one line: the line is kept whole so the chunk stays verbatim.
                note_lines.append(line)
            continue
        if in_note:
            note_lines.append(line)
        elif not title:
            title = text
        elif not subtitle and SUBTITLE.match(text):
            subtitle = SUBTITLE.match(text).group("text")  # type: ignore[union-attr]
    return title, subtitle, paragraphs_from_lines(note_lines)
