"""Lines shared by the speech, news, interview and press parsers: page furniture, header fields and headings.

Furniture is never content: photo credits and captions ending in `摄`, reporter bylines (`本报记者 某某`,
`記者／某某`), credit lines (`（记者 某某 通讯员 某某）`, `（本报记者 某某 整理）`), `责任编辑：…` and other
editing footers in any bracket, `（原标题：…）`, `（完）`, `（…供稿）`, `（根据录音整理，有删节）`.
Header fields (`时间：…　来源：…`) give the document's date and source and are not content either.
Headings are `【…】` lines, enumerated lines (`一、…`, `（二）…`) and short lines without punctuation that follow
a finished sentence; they head the paragraphs after them. Patterns run on the simplified shadow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.parsers.records import ParsedParagraph, SourceLine
from rag.parsers.zhaideng import is_photo_credit, make_paragraph
from rag.script import to_simplified
from rag.textutil import IDEOGRAPHS, ends_sentence

_NAMES = rf"(?:[{IDEOGRAPHS}·]{{2,4}}[ \u3000、]*){{1,4}}"
_REPORTER = r"(?:全媒体)?(?:首席|特约|实习)?(?:记者|通讯员|实习生)"
_BY = rf"(?:{_REPORTER}[ \u3000/／:：]*|(?:文|图|文/图|摄影|撰文|编辑)[/／:：][ \u3000]*)"
BYLINE = re.compile(
    rf"^(?:本报|本刊|新华社|中新社|[\u4e00-\u9fff]{{2,8}}?(?:日报|晚报|网|社|台))?{_BY}{_NAMES}"
    rf"(?:{_BY}{_NAMES})*(?:整理|报道|采写|摄)?$"
)
CREDIT = re.compile(
    r"^[（(〔\[]\s*(?:本报|本刊|新华社|中新社)?(?:全媒体)?(?:记者|通讯员|实习生|特约记者|编辑)[^（）()]{0,40}[）)〕\]]$"
)
FOOTER = re.compile(
    r"^[\[【（(]?\s*(?:责任编辑|编辑|校对|审核|审校|终审|值班编辑|本文编辑|监制|策划|统筹|制图|设计)\s*[:：]"
)
NOTE = re.compile(
    r"^[（(](?:原标题[:：].*|完|.{0,30}(?:供稿|供图|提供)|(?:根据|据).{0,20}整理.{0,20}|.{0,20}有删节.{0,10})[）)]$"
)
FIELD = re.compile(r"(?P<key>来源|稿源|时间|日期|发布时间)\s*[:：]\s*(?P<value>[^\s\u3000]+)")
FIELDS_LINE = re.compile(r"^(?:(?:来源|稿源|时间|日期|发布时间|字号|作者)\s*[:：]\s*[^\s\u3000]*[\s\u3000]*)+$")
DATELINE_DATE = re.compile(r"(?:(?:\d{4}年)?\d{1,2}月)?\d{1,2}日(?=讯|电)")
HEADING_BRACKETS = re.compile(r"^【(?P<text>[^】]{1,30})】$")
ENUMERATED = re.compile(
    r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|第[一二三四五六七八九十]+部分)"
)
MAX_HEADING_CHARS = 20


@dataclass(frozen=True)
class Block:
    """Paragraphs under one heading (the heading is "" before the first one)."""

    headline: str
    paragraphs: tuple[ParsedParagraph, ...]
    line: int


def shadow(line: SourceLine) -> str:
    return to_simplified(line.text)


def is_furniture(text: str) -> bool:
    """A line that is page furniture, not anybody's words and not the writer's narrative."""
    s = to_simplified(text)
    return (
        is_photo_credit(text)
        or bool(BYLINE.match(s) or CREDIT.match(s) or FOOTER.match(s) or NOTE.match(s) or FIELDS_LINE.match(s))
        or _is_fields(s)
        or bool(DATE_ONLY.match(s) or PAGE_TOOLS.match(s))
    )


# What a saved web page or a newspaper page prints above an article's title: the site's name, a breadcrumb
# trail, the masthead with date and page, the page's tools and its publishing fields.
BREADCRUMB = re.compile(r"^(?:当前位置[:：]\s*)?[^>›»＞]{1,14}(?:\s*[>›»＞]\s*[^>›»＞]{1,20}){1,6}$")
MASTHEAD = re.compile(
    r"^\S{2,14}(?:日报|晚报|早报|报|周刊|时报)[\s\u3000]+.{0,40}?(?:\d{4}年\d{1,2}月\d{1,2}日|星期[一二三四五六日天]|第\s*\d+\s*版)"
)
PAGE_TOOLS = re.compile(
    r"^(?:[【\[]\s*(?:字体|字号|打印|关闭|分享|收藏|浏览|返回|推荐)[^】\]]{0,20}[】\]][\s\u3000]*)+$"
)
SITE_NAME = re.compile(r"^[\u3400-\u9fff]{2,14}(?:网|新闻网|官网|门户网站|客户端|新闻中心)$")
DATE_ONLY = re.compile(r"^[（(]?\s*\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*(?:星期.)?\s*[）)]?$")
FIELD_KEYS = r"来源|稿源|时间|日期|发布时间|发布日期|字号|作者|浏览次数|浏览|阅读|阅读量|点击|点击数|责编|编辑"
_FIELD_PIECE = re.compile(rf"^(?:{FIELD_KEYS})\s*[:：]\s*\S.*$")


def _is_fields(s: str) -> bool:
    """`发布时间:2024-06-21 10:32　　来源:党委宣传部　　浏览次数:12873`: publishing fields and nothing else."""
    pieces = [p for p in re.split(r"[\s\u3000]{2,}|\u3000", s) if p.strip()]
    return bool(pieces) and all(_FIELD_PIECE.match(p) for p in pieces) and not ends_sentence(s)


def is_page_header(text: str) -> bool:
    """A line printed above an article's title by the site or the newspaper, not part of the article."""
    s = to_simplified(text).strip()
    return bool(BREADCRUMB.match(s) or MASTHEAD.match(s) or SITE_NAME.match(s)) or (
        not ends_sentence(s) and (_is_fields(s) or bool(PAGE_TOOLS.match(s) or DATE_ONLY.match(s)))
    )


def without_page_header(lines: list[SourceLine]) -> list[SourceLine]:
    """The lines from the article's title on: what a web page or a newspaper page prints above it goes."""
    start = 0
    while start < len(lines) - 1 and start < 8 and is_page_header(lines[start].text):
        start += 1
    return lines[start:]


def fields(text: str) -> dict[str, str]:
    """Header fields on a line (`时间：2025年4月2日　来源：云溪网`): {"date": …, "source": …} as printed."""
    out: dict[str, str] = {}
    for match in FIELD.finditer(to_simplified(text)):
        key = "source" if match.group("key") in ("来源", "稿源") else "date"
        out.setdefault(key, text[match.start("value") : match.end("value")])
    return out


def dateline_date(text: str) -> str:
    """The date of a dateline (`本报云溪3月5日讯`, `新华社长沙3月8日电`, `…嘉義15日電`) near a text's start."""
    match = DATELINE_DATE.search(to_simplified(text[:60]))
    return text[match.start() : match.end()] if match else ""


def heading(text: str) -> str | None:
    """The heading a line is (`【…】` without its brackets), or None when it is not one."""
    s = to_simplified(text)
    bracketed = HEADING_BRACKETS.match(s)
    if bracketed:
        return text[1:-1]
    if ends_sentence(text) or len(text) > 30:
        return None
    if ENUMERATED.match(s):
        return text
    if len(text) <= MAX_HEADING_CHARS and not any(c in "，。；！？：,;!?:" for c in s):
        return text
    return None


def blocks(lines: list[SourceLine]) -> list[Block]:
    """Paragraphs grouped under their headings; a heading is a line after a finished sentence, never the last."""
    out: list[tuple[str, int, list[ParsedParagraph]]] = [("", lines[0].number if lines else 0, [])]
    pending: list[SourceLine] = []
    for k, line in enumerate(lines):
        # A line the next one continues (`记者从会上获悉` / `，今年…`) is a layout break, not a heading.
        follows = k + 1 < len(lines) and lines[k + 1].text[:1] not in "，,。、；;：:”」）)"
        title = heading(line.text) if not pending and follows else None
        if title is not None:
            out.append((title, line.number, []))
            continue
        pending.append(line)
        if ends_sentence(line.text):
            out[-1][2].append(make_paragraph(pending))
            pending = []
    if pending:
        out[-1][2].append(make_paragraph(pending))
    return [Block(title, tuple(paragraphs), number) for title, number, paragraphs in out if paragraphs]
