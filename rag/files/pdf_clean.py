"""PDF lines → text: spaces as Chinese is written, running headers, footers and page numbers left out.

What a PDF's text layer says about spaces is a guess from glyph positions (and some producers write spaces
around every Latin run in Chinese text), so between an ideograph and Latin letters or digits there is no
space, between two Latin words there is one, and between ideographs only a space the text layer itself has.
Full-width forms and CJK punctuation stay as printed (NFKC would turn `，：（）` and ｆｕｌｌ-width
digits into ASCII, which is not what the page shows); only ligatures (ﬁ → fi) are unfolded, and radicals
are replaced with their ideographs (cjk.py).
"""

from __future__ import annotations

import math
import re
import statistics
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from rag.files.pdf_layout import Char, Line

# A gap wider than this between two Latin characters with no space glyph is a word space.
SPACE_GAP = 0.2  # × font size
# Running headers and footers sit in the top or bottom band of a page…
MARGIN_BAND = 0.12  # × page height
# …at the same height on at least half of the pages (at least two).
SAME_PLACE = 15.0  # points

_CJK = r"\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f"
_IDEOGRAPH = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_SPACE_AFTER_CJK = re.compile(f"(?<=[{_CJK}]) +(?=[A-Za-z0-9])")
_SPACE_BEFORE_CJK = re.compile(f"(?<=[A-Za-z0-9]) +(?=[{_CJK}])")
_SPACED_CJK = re.compile(f"(?:[{_CJK}] ){{2,}}[{_CJK}]")
_LIGATURES = re.compile("[\ufb00-\ufb06]")
_TRAILING_NUMBER = re.compile(f"(?<=[{_CJK}])[0-9][0-9.,]*$")
PAGE_NUMBER = re.compile(
    r"^(?:[-–—－]\s*)?\d{1,4}(?:\s*[-–—－])?$"  # 3, - 3 -, — 3 —
    r"|^第\s*\d{1,4}\s*页(?:\s*[/，,]?\s*共\s*\d{1,4}\s*页)?$"  # 第3页, 第3页 共10页
    r"|^\d{1,4}\s*/\s*\d{1,4}$"  # 3/10
    r"|^(?:page|p\.)\s*\d{1,4}(?:\s*of\s*\d{1,4})?$",  # Page 3 of 10
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PageLine:
    """A line's text with where it sits: the page (1-based), its height on the page and the page's height."""

    text: str
    page: int
    top: float
    bottom: float
    page_height: float


def line_text(line: Line) -> str:
    """A layout line's text: fragments joined by a space, spaces between characters as Chinese is written."""
    return tidy_spaces(" ".join(_fragment_text(chars) for chars in line.chars))


def _fragment_text(chars: tuple[Char, ...]) -> str:
    out: list[str] = []
    prev: Char | None = None
    for c in chars:
        text = c["text"]
        if prev is not None and text.strip() and prev["text"].strip():
            gap = c["x0"] - prev["x1"]
            near_cjk = _CJK_CHAR.match(prev["text"][-1]) or _CJK_CHAR.match(text[0])
            if not near_cjk and gap > SPACE_GAP * max(c["size"], prev["size"]):
                out.append(" ")
        out.append(text)
        prev = c
    return "".join(out)


def tidy_spaces(text: str) -> str:
    """No space between an ideograph and Latin text, none in `单 时 汇 率` runs, ligatures unfolded."""
    text = re.sub(" {2,}", " ", text)
    text = _SPACE_AFTER_CJK.sub("", text)
    text = _SPACE_BEFORE_CJK.sub("", text)
    text = _SPACED_CJK.sub(lambda m: m.group().replace(" ", ""), text)
    text = _LIGATURES.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    return text.strip()


def drop_running(lines: list[PageLine], pages: int) -> tuple[list[PageLine], int, int]:
    """Leave out running headers/footers and page numbers; returns (kept, running dropped, numbers dropped)."""
    running = _running_keys(lines, pages)
    kept: list[PageLine] = []
    dropped_running = dropped_numbers = 0
    for line in lines:
        if _in_margin(line) and PAGE_NUMBER.match(line.text):
            dropped_numbers += 1
        elif _in_margin(line) and _key(line.text) in running:
            dropped_running += 1
        else:
            kept.append(line)
    return kept, dropped_running, dropped_numbers


def _running_keys(lines: list[PageLine], pages: int) -> set[str]:
    if pages < 2:
        return set()
    places: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for line in lines:
        if _in_margin(line):
            places[_key(line.text)].append((line.page, line.top))
    needed = max(2, math.ceil(pages / 2))
    running = set()
    for key, seen in places.items():
        on_pages = {page for page, _top in seen}
        middle = statistics.median(top for _page, top in seen)
        if len(on_pages) >= needed and all(abs(top - middle) <= SAME_PLACE for _page, top in seen):
            running.add(key)
    return running


def _in_margin(line: PageLine) -> bool:
    return line.top < MARGIN_BAND * line.page_height or line.bottom > (1 - MARGIN_BAND) * line.page_height


def _key(text: str) -> str:
    """Running heads differ only in their numbers (`第3版`, `2024年3月5日`)."""
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", text))


def keep_numbers_whole(lines: list[PageLine]) -> tuple[list[PageLine], int]:
    """A number the layout broke across two lines (`…达103` / `5亿元`) moves whole to the second line.

    The text stays the same; only the line break moves, so that joining the lines needs no space (a
    format parser joins Latin-ending and Latin-starting lines with one, as English needs).
    """
    out = list(lines)
    moved = 0
    for i in range(len(out) - 1):
        match = _TRAILING_NUMBER.search(out[i].text)
        if match and out[i + 1].text[:1].isdigit() and out[i + 1].text[:1].isascii():
            digits = match.group()
            out[i] = _with_text(out[i], out[i].text[: match.start()])
            out[i + 1] = _with_text(out[i + 1], digits + out[i + 1].text)
            moved += 1
    return [line for line in out if line.text], moved


def _with_text(line: PageLine, text: str) -> PageLine:
    return PageLine(text, line.page, line.top, line.bottom, line.page_height)
