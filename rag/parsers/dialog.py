"""Question-and-answer transcripts (interviews, press conferences): turns introduced by a label at a line's start.

Labels take a full- or half-width colon and may be bold (`**记者：**`, `**记者**：`), bracketed (`【记者】…`,
`[某某]…`), numbered (`1、`, `（2）`, `问题三：`) or marked (`▲`); a label may stand alone on its line.

- questions: `记者`, `本报记者`, `问`, `提问`, an outlet's reporter (`新华社记者`), a web user (`网友“…”`), an
  outlet (`湘江周刊`, `本报`), `问（记者 某某，下同）`; in an interview also `主持人` and the host's name;
- answers: a name (`陈静`, `陈静（馆长）`), title + name (`云溪市博物馆馆长陈静`), surname + title
  (`陈馆长`, `刘总`), `答` (the one person interviewed), `答（某某，下同）`, a follow-up `陈静补充`;
- the host (press only): `主持人`, `新闻发言人` or the host's name; named by `由某某主持`, `主持人：某某` or
  `主持人（某某）`, the host's statements are his speech; unnamed, they stay the document's text.

Lines before the first turn are the front: subtitle, byline, header fields (`嘉宾：…`, `主持人：某某`,
`时间：…`), the editor's note, and an introduction (narrative, attributed like a report). A short heading line
right before a label (or a `【…】` line) heads the turns after it, up to the next heading. Every turn is one section; an answer points at the
last question before it. An answer label nobody can be identified by (`答` with several answerers) stays the
document's text and is counted in the notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

from rag.parsers.lexicon import REFERENCE_TITLES, TITLE_WORDS, is_name_shaped, surname_of
from rag.parsers.lines import HEADING_BRACKETS, fields, heading, is_furniture
from rag.parsers.narrative import attribute_paragraphs, register
from rag.parsers.people import People, find_introductions, jieba_name_length
from rag.parsers.records import ParsedParagraph, ParsedSection, SourceLine
from rag.parsers.titles import split_organization
from rag.parsers.zhaideng import EDITOR_NOTE, SUBTITLE, paragraphs_from_lines
from rag.script import to_simplified
from rag.textutil import ends_sentence

TurnKind = Literal["question", "answer", "host"]

LABEL = re.compile(
    r"^[▲■●◆△\s]*(?:(?:\d{1,2}|[一二三四五六七八九十]{1,3})[、.．]\s*|[（(]\d{1,2}[)）]\s*|问题[一二三四五六七八九十\d]{1,3}[：:、]?\s*)?"
    r"(?:\*\*|【|\[)?\s*(?P<label>[^：:【】\[\]*\s][^：:【】\[\]*]{0,39}?)\s*(?:\*\*|】|\])?\s*[：:]\s*(?:\*\*)?\s*(?P<rest>.*)$"
)
BRACKETED = re.compile(r"^(?:【(?P<a>[^】]{1,20})】|\[(?P<b>[^\]]{1,10})\])\s*(?P<rest>\S.*)$")
PAREN = re.compile(r"^(?P<base>.+?)\s*[（(](?P<inner>[^（）()]{1,40})[)）]$")
QUESTION_LABELS = ("记者", "本报记者", "本刊记者", "问", "提问", "Q", "问题", "记者问", "本报", "本刊")
HOST_LABELS = ("主持人", "主持", "新闻发言人", "发言人", "发布人")
ANSWER_LABELS = ("答", "A", "回答")
OUTLET = re.compile(r"(?:周刊|日报|晚报|早报|报|刊|网|社|台|频道|杂志|新闻|客户端|卫视|之声|文化|传媒|观察)$")
FOLLOW_UP = re.compile(r"(?:补充道|补充说|补充|追答)$")
SAME_BELOW = re.compile(r"[，,\s]*下同$")
HOSTED_BY = re.compile(r"由(?P<who>[^，。；]{2,40}?)主持")
MAX_HEADER_CHARS = 12


@dataclass(frozen=True)
class Label:
    """A turn's label: who speaks (asker as printed, or a person key; "" when unresolved)."""

    kind: TurnKind
    speaker: str
    rest: str  # the text after the label on its line ("" when the label stands alone)


@dataclass
class Turn:
    """One labelled turn: its label, its content lines and the heading printed before it."""

    label: Label
    lines: list[SourceLine]
    headline: str
    line: int


@dataclass
class Dialog:
    """The parsed transcript: front lines, turns, and what could not be tied to a person."""

    front: list[SourceLine]
    turns: list[Turn]
    unnamed_host: int = 0
    unresolved_answers: int = 0
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class _Context:
    people: People
    press: bool
    host: str | None = None  # person key
    asker: str = ""  # the asker a `问（…，下同）` label set
    line: int = 0  # the line being read, for the people its label introduces
    label_counts: dict[str, int] = field(default_factory=dict)  # how often each label starts a line


# ---------------------------------------------------------------- labels


def split_label(text: str) -> tuple[str, str, str] | None:
    """(label as printed, label shadow, rest of the line) when a line starts with a label."""
    s = to_simplified(text)
    match = BRACKETED.match(s) or LABEL.match(s)
    if not match:
        return None
    group = "label" if "label" in match.groupdict() else ("a" if match.group("a") else "b")
    printed = text[match.start(group) : match.end(group)].strip()
    return printed, to_simplified(printed), text[match.start("rest") :].strip()


def classify(printed: str, shadow: str, rest: str, ctx: _Context, register_new: bool = True) -> Label | None:
    """What a label is, or None when the line is ordinary text that happens to hold a colon."""
    base_s, inner_s, base_p, inner_p = _paren(shadow, printed)
    base_key = re.sub(r"[ \u3000]", "", base_s)
    if base_key in QUESTION_LABELS or (not ctx.press and base_key in HOST_LABELS):
        return Label("question", _asker(base_p, inner_s, inner_p, ctx), rest)
    if ctx.press and base_key in HOST_LABELS:
        named = _person(inner_p, inner_s, "", ctx) if inner_p and register_new else None
        ctx.host = ctx.host or named
        return Label("host", ctx.host or "", rest)
    if (
        base_key.endswith("记者")
        or base_key.startswith("网友")
        or (OUTLET.search(base_key) and not ctx.people.get(base_key))
    ):
        return Label("question", printed, rest)
    if base_key in ANSWER_LABELS:
        name_s = SAME_BELOW.sub("", inner_s) if inner_s else ""
        name_p = inner_p[: len(name_s)] if inner_p else ""
        key = _person(name_p, name_s, "", ctx) if name_s and register_new else None
        return Label("answer", key or _default_answerer(ctx), rest)
    follow = FOLLOW_UP.search(base_key)
    if follow:
        base_key = base_key[: follow.start()]
        base_p = re.sub(r"[ \u3000]", "", base_p)[: follow.start()]
    key = _person(base_p, base_key, inner_p, ctx) if register_new else _known_or_shaped(base_key, ctx)
    if not key:
        return None
    if key == ctx.host:
        return Label("host" if ctx.press else "question", key if ctx.press else printed, rest)
    return Label("answer", key, rest)


def is_question_label(label: str) -> bool:
    """A label that always asks (`记者`, `问`, `主持人`, `新华社记者`, `网友…`, an outlet), whatever the document."""
    ctx = _Context(People(), press=False)
    parsed = classify(label, to_simplified(label), "", ctx, register_new=False)
    return parsed is not None and parsed.kind == "question"


def _paren(shadow: str, printed: str) -> tuple[str, str, str, str]:
    """(base shadow, inner shadow, base printed, inner printed) of `陈静（馆长）`."""
    match = PAREN.match(shadow)
    if not match:
        return shadow, "", printed, ""
    return (
        match.group("base"),
        match.group("inner"),
        printed[match.start("base") : match.end("base")],
        printed[match.start("inner") : match.end("inner")],
    )


def _asker(base: str, inner_s: str, inner_p: str, ctx: _Context) -> str:
    """The asker as printed: `问（记者 某某，下同）` sets it for the questions that follow."""
    if inner_s:
        asker = inner_p[: len(SAME_BELOW.sub("", inner_s))].strip()
        if SAME_BELOW.search(inner_s):
            ctx.asker = asker
        return asker
    return ctx.asker if base in ("问", "提问") and ctx.asker else base


def _person(printed: str, shadow: str, title: str, ctx: _Context) -> str | None:
    """The key of the person a label names, registering a new name-shaped one (with a bracketed title)."""
    key = re.sub(r"[ \u3000]", "", shadow)
    name = re.sub(r"[ \u3000]", "", printed)
    known = _known_or_shaped(key, ctx)
    if not known:
        return None
    if ctx.people.get(known) and not title:
        return known
    intros = find_introductions(printed, shadow)
    if len(intros) == 1 and intros[0].start == 0 and intros[0].end == len(shadow):
        return ctx.people.introduce(intros[0], ctx.line).key
    organization, job = split_organization(to_simplified(title)) if title else ("", "")
    raw = title.strip()
    job_p = raw[len(raw) - len(job) :] if organization else raw
    return ctx.people.add(name, known, job_p, raw[: len(organization)], ctx.line).key


def _known_or_shaped(key: str, ctx: _Context) -> str | None:
    """A registered person, a surname + title reference to one, an introduction, or a name-shaped label."""
    if ctx.people.get(key):
        return key
    surname = surname_of(key)
    word = key[len(surname) :]
    if surname and (word in TITLE_WORDS or word in REFERENCE_TITLES):
        return ctx.people.by_title(surname, word)
    intros = find_introductions(key, key)
    if len(intros) == 1 and intros[0].start == 0 and intros[0].end == len(key):
        return intros[0].key
    return key if _new_name(key, ctx) else None


def _new_name(key: str, ctx: _Context) -> bool:
    """A label naming someone not introduced: name-shaped, and jieba's `nr` or used as a label twice (not `方法：`)."""
    return is_name_shaped(key) and (ctx.label_counts.get(key, 0) >= 2 or jieba_name_length(key) == len(key))


def _default_answerer(ctx: _Context) -> str:
    """`答：` is the one person interviewed (the host excluded), when there is exactly one."""
    candidates = [p.key for p in ctx.people.all() if p.key != ctx.host]
    return candidates[0] if len(candidates) == 1 else ""


# ---------------------------------------------------------------- the transcript


def read_dialog(lines: list[SourceLine], people: People, press: bool) -> Dialog:
    """Split a transcript's lines (title excluded) into front and turns, registering the people it names."""
    ctx = _Context(people, press, label_counts=_label_counts(lines))
    first = _first_turn(lines, ctx)
    headline = ""
    if first < len(lines) and first > 1 and _is_heading_line(lines, first - 1):
        headline, first = _heading_text(lines[first - 1].text), first - 1  # `【…】` right before the first turn
    front = lines[:first]
    dialog = Dialog(front, [])
    _read_front(front, ctx, dialog)
    start = first + (1 if headline else 0)
    for k in range(start, len(lines)):
        line = lines[k]
        label = _label(line, ctx)
        if label:
            # A heading heads every turn until the next one (the questions and answers under it).
            dialog.turns.append(Turn(label, [line] if label.rest else [], headline, line.number))
            _count_unresolved(label, dialog)
        elif not is_furniture(line.text):
            title = _heading_before_label(lines, k, ctx, dialog)
            if title is not None:
                headline = title
            elif dialog.turns:
                dialog.turns[-1].lines.append(line)
    return dialog


def _label_counts(lines: list[SourceLine]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in lines:
        parts = split_label(line.text)
        if parts:
            key = re.sub(r"[ \u3000]", "", _paren(parts[1], parts[0])[0])
            counts[key] = counts.get(key, 0) + 1
    return counts


def _label(line: SourceLine, ctx: _Context, register_new: bool = True) -> Label | None:
    ctx.line = line.number
    parts = split_label(line.text)
    return classify(*parts, ctx, register_new) if parts else None


def _first_turn(lines: list[SourceLine], ctx: _Context) -> int:
    """Index of the first turn: a label line that is not a header field (`主持人：某某`)."""
    for k, line in enumerate(lines):
        label = _label(line, ctx, register_new=False)
        if label and not _is_header(label):
            return k
    return len(lines)


def _is_header(label: Label) -> bool:
    rest = label.rest
    return 0 < len(rest) <= MAX_HEADER_CHARS and not ends_sentence(rest) and not re.search(r"[，,。？?！!]", rest)


def _read_front(front: list[SourceLine], ctx: _Context, dialog: Dialog) -> None:
    """Register who the front introduces, its host and header fields."""
    register([(line.text, line.number) for line in front], ctx.people)
    for line in front:
        for key, value in fields(line.text).items() if is_furniture(line.text) else ():
            dialog.fields.setdefault(key, value)
        parts = split_label(line.text)
        if parts and re.sub(r"\s", "", parts[1]) in HOST_LABELS and is_name_shaped(to_simplified(parts[2])):
            ctx.line = line.number
            ctx.host = _person(parts[2], to_simplified(parts[2]), "主持人", ctx)
    for line in front:
        hosted = HOSTED_BY.search(to_simplified(line.text))
        if hosted and ctx.press:
            intros = find_introductions(line.text[hosted.start("who") : hosted.end("who")], hosted.group("who"))
            ctx.host = ctx.host or (intros[-1].key if intros else None)


def _is_heading_line(lines: list[SourceLine], k: int) -> bool:
    """A heading right before the first turn: `【…】`, or a short line after a finished sentence."""
    text = lines[k].text
    return bool(HEADING_BRACKETS.match(to_simplified(text))) or (
        heading(text) is not None and ends_sentence(lines[k - 1].text) and not is_furniture(text)
    )


def _heading_text(text: str) -> str:
    return text[1:-1] if HEADING_BRACKETS.match(to_simplified(text)) else text


def _heading_before_label(lines: list[SourceLine], k: int, ctx: _Context, dialog: Dialog) -> str | None:
    """A heading line: `【…】` alone, or a short line right before a label after a finished turn."""
    text = lines[k].text
    if HEADING_BRACKETS.match(to_simplified(text)):
        return text[1:-1]
    nxt = lines[k + 1] if k + 1 < len(lines) else None
    finished = not dialog.turns or not dialog.turns[-1].lines or ends_sentence(dialog.turns[-1].lines[-1].text)
    if nxt and finished and _label(nxt, ctx, register_new=False):
        return heading(text)
    return None


def _count_unresolved(label: Label, dialog: Dialog) -> None:
    if label.kind == "host" and not label.speaker:
        dialog.unnamed_host += 1
    elif label.kind == "answer" and not label.speaker:
        dialog.unresolved_answers += 1


def front_sections(front: list[SourceLine], people: People) -> tuple[list[ParsedSection], int]:
    """The front's editor's note and introduction (narrative, attributed); headers and furniture dropped."""
    content = [
        line
        for line in front
        if not is_furniture(line.text) and not SUBTITLE.match(line.text) and not _header_line(line.text)
    ]
    paragraphs = paragraphs_from_lines(content)
    notes = [p for p in paragraphs if EDITOR_NOTE.match(to_simplified(p.text))]
    others = [p for p in paragraphs if p not in notes]
    attributed, unresolved = attribute_paragraphs(others, people)
    sections = [ParsedSection("editor_note", tuple(notes), line=notes[0].lines[0])] if notes else []
    if attributed:
        sections.append(ParsedSection("narrative", tuple(attributed), line=attributed[0].lines[0]))
    return sections, unresolved


HEADER_LABELS = ("嘉宾", "主持人", "主持", "时间", "地点", "来源", "记者", "文")


def _header_line(text: str) -> bool:
    parts = split_label(text)
    return parts is not None and re.sub(r"\s", "", parts[1]) in HEADER_LABELS


def turn_sections(dialog: Dialog, people: People, first_index: int) -> list[ParsedSection]:
    """One section per turn; answers point at the last question (indices count from `first_index`)."""
    sections: list[ParsedSection] = []
    last_question: int | None = None
    for turn in dialog.turns:
        paragraphs = tuple(paragraphs_from_lines(turn.lines))
        if not paragraphs:
            continue
        if turn.label.rest and turn.lines:
            # The first line starts with the label: the turn's own words begin after it.
            label_end = len(turn.lines[0].text) - len(turn.label.rest)
            paragraphs = (replace(paragraphs[0], body_start=label_end), *paragraphs[1:])
        section = _section(turn, paragraphs, people, last_question)
        if section.kind == "question":
            last_question = first_index + len(sections)
        sections.append(section)
    return sections


def _section(
    turn: Turn, paragraphs: tuple[ParsedParagraph, ...], people: People, last_question: int | None
) -> ParsedSection:
    label = turn.label
    if label.kind == "question":
        return ParsedSection("question", paragraphs, label.speaker, turn.headline, turn.line)
    person = people.get(label.speaker) if label.speaker else None
    if person is None:
        return ParsedSection("narrative", paragraphs, "", turn.headline, turn.line)
    if label.kind == "host" or last_question is None:
        return ParsedSection("speech", paragraphs, person.name, turn.headline, turn.line)
    return ParsedSection("answer", paragraphs, person.name, turn.headline, turn.line, question=last_question)
