"""A single speech (讲话稿/致辞/演讲): one speaker's words from the salutation to the closing.

    标题
    ——在某某论坛上的讲话                     (optional; `——某某局局长王某在…上的讲话` names the speaker)
    职务　姓名 | 姓名（职务） | （姓名：职务） | 姓名   (byline, right under the title or the subtitle)
    本报记者 某某 整理                        (a credit: not the speaker, not content)
    尊敬的…，女士们、先生们：                  (salutation)
    大家上午好！                             (greeting)
    一、小标题                               (heading: starts a section)
    段落…                                   (the speaker's; a line that does not end a sentence continues)
    谢谢大家！                               (closing)
    （作者系某某大学校长）                      (the speaker's title, when the byline has only the name)

Decided: salutations, greetings, mid-speech re-salutations (`各位来宾！`) and the closing thanks are dropped, not
indexed. They are the speaker's, but they answer no question and would crowd out content in retrieval. A
reporter's lead before the speech (a paragraph ending `全文如下：`) or an `编者按` is the editor's note.
Without a byline, a text that has a salutation, greeting or closing takes its speaker from the one person that
lead or note introduces, else from a `姓名：…` title; a report under such a headline has none of those and is
never read as a speech. Everything else after the byline is the speaker's speech.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from rag.errors import CorpusError
from rag.parsers.lexicon import is_name_shaped
from rag.parsers.lines import blocks, is_furniture, without_page_header
from rag.parsers.people import Introduction, find_introductions, with_referenced_organization
from rag.parsers.records import ParsedDocument, ParsedPerson, ParsedSection, SourceLine
from rag.parsers.titles import split_organization
from rag.parsers.zhaideng import EDITOR_NOTE, SPEAKER_LINE, SUBTITLE, paragraphs_from_lines, source_lines
from rag.script import to_simplified
from rag.textutil import IDEOGRAPHS, ends_sentence

EXPECTED = (
    "a byline under the title (`职务　姓名`, `姓名（职务）`, `（姓名：职务）` or the name alone) "
    "or a subtitle naming the speaker (`——某某局局长王某在…上的讲话`)"
)
PAREN_BYLINE = re.compile(rf"^[（(]\s*(?P<name>[{IDEOGRAPHS}·]{{2,6}})\s*[：:，,]\s*(?P<title>[^（）()]{{2,60}})[）)]$")
AUTHOR_NOTE = re.compile(r"^[（(]\s*作者(?:系|为|是)(?P<title>[^（）()]{2,60})[）)]$")
SPEECH_SUBTITLE = re.compile(r"讲话|致辞|致词|演讲|发言|报告|讲座|寄语")
LEAD = re.compile(r"(?:全文如下|讲话全文|致辞全文|演讲全文|以下为.{0,12}(?:全文|讲话|致辞|演讲)|刊登如下)[：:。]?$")
GREETING = re.compile(r"^(?:大家|各位|诸位|同学们|朋友们)?(?:早上|上午|中午|下午|晚上)?(?:好|午安|晚安)$")
CLOSING = re.compile(r"^(?:谢谢|感谢|多谢)(?:大家|各位|您|你们)?(?:的聆听|的倾听|的关注)?[！!。.]?$")
ADDRESS = re.compile(r"^(?:(?:尊敬|亲爱|敬爱)的.{1,24}|(?:各位|诸位).{0,12}|.{1,10}们|大家)$")
TITLE_SPEAKER = re.compile(r"^(?P<who>[^：:，。]{2,30})[：:]")
DIALOG_LABEL = re.compile(r"^(?:\*\*)?(?:记者|本报记者|主持人|问|答|提问)[：:]")
MAX_FRONT_LINES = 6


@dataclass(frozen=True)
class Byline:
    """Who gives the speech, as the page prints it."""

    name: str
    title: str
    organization: str
    line: int


def parse_speech(path: Path, text: str) -> ParsedDocument:
    """Parse a single speech: title, subtitle, byline, then the speaker's paragraphs."""
    lines = without_page_header(source_lines(text))
    if not lines:
        raise CorpusError(path, "the file has no text")
    _refuse_other_layouts(path, lines)
    subtitle, byline, first = _front(lines)
    body = [line for line in lines[first:] if not is_furniture(line.text)]
    note_lines, body = _split_note(body)
    body, after = _split_after_closing(body)
    ceremony = [line for line in body if _is_ceremony(line.text)]
    content = [line for line in body if line not in ceremony and not AUTHOR_NOTE.match(to_simplified(line.text))]
    byline = _author_note(lines, byline or _named_elsewhere(lines[0], note_lines, bool(ceremony)))
    if byline is None:
        raise CorpusError(path, f"speech expected {EXPECTED}", lines[0].number)
    byline = _with_organization(byline, [*lines[:first], *note_lines])
    grouped = blocks(content)
    if not grouped:
        raise CorpusError(path, f"the speech of {byline.name} has no paragraphs", byline.line)
    note = paragraphs_from_lines(note_lines)
    sections = [ParsedSection("editor_note", tuple(note), line=note[0].lines[0])] if note else []
    sections += [ParsedSection("speech", b.paragraphs, byline.name, b.headline, b.line) for b in grouped]
    kept = [line for line in after if not is_furniture(line.text) and not AUTHOR_NOTE.match(to_simplified(line.text))]
    tail = paragraphs_from_lines(kept)
    if tail:  # a caption or a report's note printed after the speech: the page's words, not the speaker's
        sections.append(ParsedSection("narrative", tuple(tail), line=tail[0].lines[0]))
    notes = (f"{len(ceremony)} salutation, greeting and closing lines are not indexed",) if ceremony else ()
    return ParsedDocument(
        title=lines[0].text,
        subtitle=subtitle,
        sections=tuple(sections),
        people=(ParsedPerson(byline.name, byline.title, byline.organization, byline.line),),
        format="speech",
        notes=notes,
    )


def _with_organization(byline: Byline, front: list[SourceLine]) -> Byline:
    """A byline without an organisation (`校长　林舒雅`) takes the one its front matter names (title, subtitle,
    editor's note: `南岭理工大学2024届毕业典礼…`), as a report's introductions do."""
    if byline.organization or not byline.title:
        return byline
    text = "\n".join(line.text for line in front)
    intro = Introduction(0, 0, byline.name, to_simplified(byline.name), byline.title, "")
    found = with_referenced_organization(intro, text, to_simplified(text))
    return replace(byline, title=found.title, organization=found.organization)


def _split_note(body: list[SourceLine]) -> tuple[list[SourceLine], list[SourceLine]]:
    """(editor's note lines, the rest): an `编者按`, or a reporter's lead ending `全文如下：`, before the speech."""
    ceremony = next((k for k, line in enumerate(body) if _is_ceremony(line.text)), None)
    lead = next((k for k, line in enumerate(body[:6]) if LEAD.search(to_simplified(line.text))), None)
    if lead is not None and (ceremony is None or lead < ceremony):
        return body[: lead + 1], body[lead + 1 :]
    if body and EDITOR_NOTE.match(to_simplified(body[0].text)):
        end = ceremony if ceremony else _paragraph_end(body)
        return body[:end], body[end:]
    return [], body


def _split_after_closing(body: list[SourceLine]) -> tuple[list[SourceLine], list[SourceLine]]:
    """(the speech, what the page prints after its closing `谢谢大家！`): the speech ends with its thanks."""
    closing = [k for k, line in enumerate(body) if CLOSING.match(to_simplified(line.text).strip())]
    if not closing:
        return body, []
    return body[: closing[-1] + 1], body[closing[-1] + 1 :]


def _paragraph_end(lines: list[SourceLine]) -> int:
    """Index after the first paragraph (a line that ends a sentence ends it)."""
    return next((k + 1 for k, line in enumerate(lines) if ends_sentence(line.text)), len(lines))


def _named_elsewhere(title: SourceLine, note: list[SourceLine], ceremonial: bool) -> Byline | None:
    """No byline: a title `某某在…上的讲话`, the one person the editor's note introduces, or `姓名：…` in the
    title, for a text that reads as a speech (it has a salutation, greeting or closing); never for a headline
    over a report, which has none of those."""
    if not ceremonial:
        return None
    titled = _subtitle_speaker(title.text, title.number)
    if titled:
        return titled
    intros = [i for line in note for i in find_introductions(line.text, to_simplified(line.text))]
    if len({i.key for i in intros}) == 1:
        intro = intros[0]
        return Byline(intro.name, intro.title, intro.organization, note[0].number)
    who = TITLE_SPEAKER.match(to_simplified(title.text))
    if who:
        return _byline(SourceLine(title.number, title.text[: who.end("who")]))
    return None


def markers(text: str) -> int:
    """How many lines read like a speech's own furniture (salutation, greeting, closing, `——在…上的讲话`)."""
    count = 0
    for line in source_lines(text)[:200]:
        s = to_simplified(line.text)
        count += _is_ceremony(line.text) or bool(SUBTITLE.match(s) and SPEECH_SUBTITLE.search(s))
    return count


def _refuse_other_layouts(path: Path, lines: list[SourceLine]) -> None:
    speaker_lines = [line for line in lines if SPEAKER_LINE.match(line.text)]
    if len(speaker_lines) > 1:
        raise CorpusError(
            path, f"speech expected one speaker (found {len(speaker_lines)} `姓名（职务）` speaker lines)"
        )
    labels = [line for line in lines if DIALOG_LABEL.match(to_simplified(line.text))]
    if len(labels) > 1:
        raise CorpusError(
            path, "speech expected running paragraphs (found question and answer labels)", labels[0].number
        )


def _front(lines: list[SourceLine]) -> tuple[str, Byline | None, int]:
    """(subtitle, byline, index of the first body line) from the lines right under the title."""
    subtitle, byline = "", None
    i = 1
    while i < len(lines) and i <= MAX_FRONT_LINES:
        text = lines[i].text
        dash = SUBTITLE.match(text)
        found = _byline(lines[i]) if byline is None and not dash else None
        if dash and not subtitle:
            subtitle = dash.group("text")
            byline = byline or _subtitle_speaker(subtitle, lines[i].number)
        elif found:
            byline = found
        elif not is_furniture(text) or ends_sentence(text):
            break
        i += 1
    return subtitle, byline, i


def _byline(line: SourceLine) -> Byline | None:
    """A byline in any of its shapes, or None."""
    text, s = line.text, to_simplified(line.text)
    if ends_sentence(text) or EDITOR_NOTE.match(s):
        return None
    paren = PAREN_BYLINE.match(s)
    if paren:
        return _titled(
            text[paren.start("name") : paren.end("name")], text[paren.start("title") : paren.end("title")], line
        )
    speaker = SPEAKER_LINE.match(text)
    if speaker:
        return _titled(re.sub(r"[ \u3000]", "", speaker.group("name")), speaker.group("title"), line)
    intros = find_introductions(text, s)
    if len(intros) == 1 and intros[0].start == 0 and intros[0].end == len(text):
        intro = intros[0]
        return Byline(intro.name, intro.title, intro.organization, line.number)
    bare = re.sub(r"[ \u3000]", "", s)
    if is_name_shaped(bare) and not is_furniture(text):
        return Byline(re.sub(r"[ \u3000]", "", text), "", "", line.number)
    return None


def _titled(name: str, raw_title: str, line: SourceLine) -> Byline:
    organization, title = split_organization(to_simplified(raw_title.strip()))
    raw = raw_title.strip()
    if organization:
        return Byline(name, raw[len(raw) - len(title) :], raw[: len(organization)], line.number)
    return Byline(name, raw, "", line.number)


def _subtitle_speaker(subtitle: str, number: int) -> Byline | None:
    """`某某局局长王某在…上的讲话`: the speaker the subtitle names before `在`."""
    s = to_simplified(subtitle)
    if not SPEECH_SUBTITLE.search(s):
        return None
    for intro in find_introductions(subtitle, s):
        if s[intro.end : intro.end + 1] == "在":
            return Byline(intro.name, intro.title, intro.organization, number)
    at = s.find("在")
    if at in (2, 3, 4) and is_name_shaped(s[:at]):
        return Byline(subtitle[:at], "", "", number)
    return None


def _author_note(lines: list[SourceLine], byline: Byline | None) -> Byline | None:
    """`（作者系某某公司首席执行官）` at the end fills in the title of a name-only byline."""
    if byline is None or byline.title:
        return byline
    for line in reversed(lines):
        note = AUTHOR_NOTE.match(to_simplified(line.text))
        if note:
            titled = _titled(byline.name, line.text[note.start("title") : note.end("title")], line)
            return Byline(byline.name, titled.title, titled.organization, byline.line)
    return byline


def _is_ceremony(text: str) -> bool:
    """A salutation, greeting or closing line (`各位来宾：`, `大家上午好！`, `谢谢大家！`)."""
    s = to_simplified(text).strip()
    if CLOSING.match(s):
        return True
    if len(s) > 80 or s[-1:] not in "：:！!，,":
        return False
    parts = [p for p in re.split(r"[，,、！!：:]", s) if p]
    return bool(parts) and all(ADDRESS.match(p) or GREETING.match(p) for p in parts)
