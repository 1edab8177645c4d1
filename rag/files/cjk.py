"""Chinese-text facts the readers share: what an ideograph is, what plausible Chinese looks like, radicals."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path

RADICALS_FILE = Path(__file__).resolve().parent.parent / "data" / "cjk_radicals.tsv"

# Unified ideographs (URO, Extension A, Extensions B–I) and the compatibility blocks.
_IDEOGRAPH = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_KANGXI = re.compile(r"[\u2f00-\u2fd5]")
_SUPPLEMENT = re.compile(r"[\u2e80-\u2ef3]")
# Compatibility ideographs that are duplicates of a unified one (canonical decomposition; the twelve in the
# block without one are real unified ideographs and stay).
_COMPAT = re.compile(r"[\uf900-\ufaff\U0002f800-\U0002fa1f]")
# Punctuation and symbols Chinese text is made of, besides ideographs and ASCII.
_CJK_PUNCT = re.compile(r"[\u3000-\u303f\uff01-\uff65\u2010-\u2027\u2030-\u205e\u00b7\u00d7\u2160-\u217f\u2460-\u24ff]")
# What mojibake is made of: kana, box drawing, private use, unassigned, Hangul, control characters.
_JUNK_CATEGORIES = {"Co", "Cn", "Cc", "Cs"}
_JUNK_BLOCKS = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u2500-\u259f\uac00-\ud7af\u1100-\u11ff\uff66-\uff9f\ufffd]")


def is_ideograph(ch: str) -> bool:
    """True for a CJK unified or compatibility ideograph."""
    return bool(_IDEOGRAPH.fullmatch(ch))


@cache
def common_hanzi() -> frozenset[str]:
    """The characters everyday Chinese text is made of: GB2312 level 1 (simplified) and Big5's frequent set.

    Both come from Python's own codecs (3755 + 5401 characters), so no table ships with the program.
    """
    chars: set[str] = set()
    for lead in range(0xB0, 0xD8):  # GB2312 level 1: rows 16–55
        for trail in range(0xA1, 0xFF):
            try:
                chars.add(bytes((lead, trail)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    for code in range(0xA440, 0xC67F):  # Big5 frequently used characters
        if (code & 0xFF) in range(0x40, 0x7F) or (code & 0xFF) in range(0xA1, 0xFF):
            try:
                chars.add(code.to_bytes(2, "big").decode("big5"))
            except UnicodeDecodeError:
                continue
    return frozenset(chars)


def plausibility(text: str) -> tuple[float, int]:
    """How much the non-ASCII part of `text` looks like real Chinese: (score 0–1, non-ASCII characters seen).

    Common characters and CJK punctuation count for, rare ideographs half, kana, box drawing, private use,
    unassigned and control characters twice against: wrong-codec mojibake (Big5 read as GB18030 and the
    reverse) is full of exactly those, real text almost never.
    """
    common = common_hanzi()
    good = rare = junk = total = 0
    for ch in text:
        if ch < "\x80":
            continue
        total += 1
        if ch in common or _CJK_PUNCT.match(ch):
            good += 1
        elif _JUNK_BLOCKS.match(ch) or unicodedata.category(ch) in _JUNK_CATEGORIES:
            junk += 1
        elif _IDEOGRAPH.match(ch):
            rare += 1
        else:
            good += 1  # Latin letters with accents, Greek, symbols: not evidence either way
    if total == 0:
        return 1.0, 0
    return (good + rare / 2) / (total + junk), total


@cache
def radical_table() -> dict[int, str]:
    """CJK Radicals Supplement code point → ideograph, from rag/data/cjk_radicals.tsv."""
    table: dict[int, str] = {}
    for line in RADICALS_FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            radical, _, ideograph, *_ = line.split("\t")
            table[int(radical, 16)] = chr(int(ideograph, 16))
    return table


def replace_artefacts(text: str) -> tuple[str, Counter[str]]:
    """Radicals and duplicate compatibility ideographs → the ideograph they stand for; counts what changed.

    Text layers of Chinese PDFs (and text copied out of them) carry ⽂ (Kangxi, NFKC maps it) and ⻄ (the
    supplement, which NFKC leaves alone) where the page shows 文 and 西; nobody means a radical in a speech.
    """
    counts: Counter[str] = Counter()
    if not (_KANGXI.search(text) or _SUPPLEMENT.search(text) or _COMPAT.search(text)):
        return text, counts
    table = radical_table()

    def kangxi(m: re.Match[str]) -> str:
        counts["radical"] += 1
        return unicodedata.normalize("NFKC", m.group())

    def supplement(m: re.Match[str]) -> str:
        ch = m.group()
        if ord(ch) in table:
            counts["radical"] += 1
            return table[ord(ch)]
        return ch

    def compat(m: re.Match[str]) -> str:
        ch = m.group()
        unified = unicodedata.normalize("NFC", ch)
        if unified != ch:
            counts["compatibility ideograph"] += 1
        return unified

    text = _KANGXI.sub(kangxi, text)
    text = _SUPPLEMENT.sub(supplement, text)
    text = _COMPAT.sub(compat, text)
    return text, counts


def artefact_notes(counts: Counter[str]) -> tuple[str, ...]:
    """Report lines for `replace_artefacts` counts."""
    notes = []
    if counts["radical"]:
        notes.append(f"replaced {counts['radical']} radical character(s) with the ideographs they stand for (⻄→西)")
    if counts["compatibility ideograph"]:
        notes.append(f"replaced {counts['compatibility ideograph']} compatibility ideograph(s) with unified ones")
    return tuple(notes)
