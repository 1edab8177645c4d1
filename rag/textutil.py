"""Small text helpers shared by the parser, the answer stage and verification."""

from __future__ import annotations

import re
import unicodedata

from rag.script import to_simplified

SENTENCE_END = "。！？!?…"
# Ideographs: the BMP blocks, the compatibility ideographs and the astral extensions (𠮷 is U+20BB7).
IDEOGRAPHS = "\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
CLOSERS = "”’」』）)》】\"'"
_CJK = re.compile(rf"[{IDEOGRAPHS}]")
_LATIN = re.compile(r"[A-Za-z0-9]")


def has_cjk(text: str) -> bool:
    """True when the text contains at least one CJK ideograph."""
    return bool(_CJK.search(text))


def ends_sentence(line: str) -> bool:
    """True when a line ends a sentence (terminal punctuation, possibly followed by closing quotes)."""
    s = line.rstrip()
    while s and s[-1] in CLOSERS:
        s = s[:-1]
    return bool(s) and (s[-1] in SENTENCE_END or s.endswith("：") or s.endswith(":"))


def join_layout_lines(parts: list[str]) -> str:
    """Join lines broken by print layout: nothing between CJK text, one space where Latin text continues."""
    out = ""
    for part in parts:
        if out and (_LATIN.match(out[-1]) or out[-1] in ",.;:!?)") and _LATIN.match(part[:1]):
            out += " "
        out += part
    return out


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) covering the text; never cuts inside a quotation."""
    spans: list[tuple[int, int]] = []
    start = 0
    depth = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in "“「『《（(":
            depth += 1
        elif ch in "”」』》）)":
            depth = max(0, depth - 1)
        elif ch in SENTENCE_END or ch == "；" or (ch == "." and (i + 1 == n or text[i + 1] == " ")):
            j = i + 1
            while j < n and (text[j] in SENTENCE_END or text[j] in CLOSERS):
                if text[j] in "”」』》）)":
                    depth = max(0, depth - 1)
                j += 1
            if depth == 0:
                spans.append((start, j))
                while j < n and text[j].isspace():
                    j += 1
                start = j
            i = j
            continue
        i += 1
    if start < n and text[start:].strip():
        spans.append((start, n))
    elif spans:
        spans[-1] = (spans[-1][0], n) if not text[spans[-1][1] :].strip() else spans[-1]
    return spans


def quotes_balanced(text: str) -> bool:
    """True when Chinese and ASCII-paired quotation marks and brackets are balanced."""
    pairs = (("“", "”"), ("「", "」"), ("『", "』"), ("（", "）"), ("(", ")"), ("《", "》"))
    return all(text.count(a) == text.count(b) for a, b in pairs)


# Characters that change how a name looks or reads without being part of it: bidi controls (an RTL override
# makes 张平安 print as 安平张-looking spoof) and zero-width characters (张\u200b平安 looks like 张平安).
INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def without_invisible(text: str) -> str:
    """The text without bidi controls and zero-width characters."""
    return INVISIBLE.sub("", text)


def normalize_for_match(text: str) -> str:
    """NFKC, invisible characters removed, case-folding and simplified characters: width, compatibility forms,
    bidi and zero-width characters, case and script do not matter."""
    return to_simplified(without_invisible(unicodedata.normalize("NFKC", text)).casefold())
