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
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.errors import CorpusError
from rag.parsers.records import ParsedDocument, ParsedParagraph, ParsedSpeech, SourceLine
from rag.textutil import ends_sentence, join_layout_lines

SPEAKER_LINE = re.compile(r"^(?P<name>[\u3400-\u9fff·]{2,6})\s*[(（](?P<title>[^()（）]{2,80})[)）]$")
NAME_ONLY = re.compile(r"^[\u3400-\u9fff·]{2,6}$")
PHOTO_CREDIT = re.compile(r"(照片|图片|摄影|供图|图/|图：).*|.*\s摄$|.*摄$")
EDITOR_NOTE = re.compile(r"^(编者按|编者的话|编后)[:：]\s*(?P<rest>.*)$")
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
    return text.removeprefix("\ufeff")


def source_lines(text: str) -> list[SourceLine]:
    """Non-blank lines with their 1-based line numbers, stripped of surrounding whitespace."""
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped:
            out.append(SourceLine(number, stripped))
    return out


def _paragraphs(lines: list[SourceLine]) -> list[ParsedParagraph]:
    """Group lines into paragraphs, joining lines the print layout broke mid-sentence."""
    paragraphs: list[ParsedParagraph] = []
    pending: list[SourceLine] = []
    for line in lines:
        pending.append(line)
        if ends_sentence(line.text):
            paragraphs.append(_make_paragraph(pending))
            pending = []
    if pending:
        paragraphs.append(_make_paragraph(pending))
    return paragraphs


def _make_paragraph(lines: list[SourceLine]) -> ParsedParagraph:
    return ParsedParagraph(
        text=join_layout_lines([line.text for line in lines]),
        lines=tuple(line.number for line in lines),
    )


def _is_photo_credit(text: str) -> bool:
    return len(text) <= 60 and not ends_sentence(text) and bool(PHOTO_CREDIT.fullmatch(text))


def parse_zhaideng(path: Path, text: str) -> ParsedDocument:
    """Parse a "发言摘登" page into title, editor's note and per-speaker paragraphs."""
    lines = source_lines(text)
    if not lines:
        raise CorpusError(path, "the file has no text")
    speaker_at = [i for i, line in enumerate(lines) if SPEAKER_LINE.match(line.text)]
    if not speaker_at:
        raise CorpusError(
            path,
            "no speaker line found (expected a line like `姓名(职务)` or `姓名（职务）` before each speech)",
            lines[0].number,
        )
    speaker_names = {SPEAKER_LINE.match(lines[i].text).group("name") for i in speaker_at}  # type: ignore[union-attr]

    # A headline is the short line right before a speaker line that does not end a sentence.
    headline_at: dict[int, int] = {}
    for i in speaker_at:
        j = i - 1
        if j >= 0 and j not in speaker_at and _looks_like_headline(lines[j].text, speaker_names):
            headline_at[i] = j
    first_section = min(headline_at.get(i, i) for i in speaker_at[:1])

    title, subtitle, note = _front_matter(lines[:first_section], speaker_names)
    speeches: list[ParsedSpeech] = []
    for k, i in enumerate(speaker_at):
        match = SPEAKER_LINE.match(lines[i].text)
        assert match is not None
        end = len(lines)
        if k + 1 < len(speaker_at):
            nxt = speaker_at[k + 1]
            end = headline_at.get(nxt, nxt)
        body = lines[i + 1 : end]
        if not body:
            raise CorpusError(path, f"speaker {match.group('name')} has no paragraphs", lines[i].number)
        headline = lines[headline_at[i]].text if i in headline_at else ""
        speeches.append(
            ParsedSpeech(
                speaker=match.group("name"),
                raw_title=match.group("title").strip(),
                headline=headline,
                line=lines[i].number,
                paragraphs=tuple(_paragraphs(body)),
            )
        )
    return ParsedDocument(
        title=title, subtitle=subtitle, editor_note=tuple(note), speeches=tuple(speeches), format="zhaideng"
    )


def _looks_like_headline(text: str, speaker_names: set[str]) -> bool:
    return (
        len(text) <= MAX_HEADLINE_CHARS
        and not ends_sentence(text)
        and text not in speaker_names
        and not _is_photo_credit(text)
    )


def _front_matter(lines: list[SourceLine], speaker_names: set[str]) -> tuple[str, str, list[ParsedParagraph]]:
    """Title, subtitle and editor's note paragraphs from the lines before the first section."""
    title = ""
    subtitle = ""
    note_lines: list[SourceLine] = []
    in_note = False
    for line in lines:
        text = line.text
        if (NAME_ONLY.match(text) and text in speaker_names) or _is_photo_credit(text):
            in_note = False  # photo captions and credit end the note and are not content
            continue
        note = EDITOR_NOTE.match(text)
        if note:
            in_note = True
            if note.group("rest"):
                note_lines.append(SourceLine(line.number, note.group("rest")))
            continue
        if in_note:
            note_lines.append(line)
        elif not title:
            title = text
        elif not subtitle and SUBTITLE.match(text):
            subtitle = SUBTITLE.match(text).group("text")  # type: ignore[union-attr]
    return title, subtitle, _paragraphs(note_lines)
