"""The reading aid: a quote's words with their pinyin (tone marks) and CC-CEDICT glosses, for readers of
English. A gloss is a dictionary definition of a word, never a translation of what the speaker said; the
quote itself stays the authority. Speakers' names get the English or pinyin forms their metadata gives.

The dictionary takes ~2 s and ~150 MB to parse: `warm()` starts that in a background thread (the chat page
calls it), so the first gloss request finds it loaded.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from rag.cedict import Dictionary, dictionary
from rag.speakers import Speaker
from rag.textutil import has_cjk

MAX_GLOSS_TEXT = 2000  # characters of quote text glossed per request (a long paragraph)
MAX_GLOSSES = 4  # glosses shown per dictionary entry
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_TONED = {
    "a": "āáǎà",
    "e": "ēéěè",
    "i": "īíǐì",
    "o": "ōóǒò",
    "u": "ūúǔù",
    "ü": "ǖǘǚǜ",
}


@dataclass(frozen=True)
class Reading:
    """One sense of a word: pinyin with tone marks and its dictionary glosses."""

    pinyin: str
    glosses: tuple[str, ...]


@dataclass(frozen=True)
class WordGloss:
    """A word of the text at `start` (code points), with its dictionary readings or a speaker's name forms."""

    word: str
    start: int
    readings: tuple[Reading, ...]
    name_forms: tuple[str, ...] = ()  # a speaker: English name and pinyin from the metadata

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def syllable_with_marks(syllable: str) -> str:
    """ni3 → nǐ, lu:4 → lǜ, xian1 → xiān; a syllable without a tone digit (or tone 5) keeps its letters."""
    body, tone = (syllable[:-1], int(syllable[-1])) if syllable[-1:].isdigit() else (syllable, 5)
    body = body.replace("u:", "ü").replace("v", "ü")
    if not 1 <= tone <= 4:
        return body
    lower = body.lower()
    at = next((lower.index(v) for v in "ae" if v in lower), -1)
    if at < 0 and "ou" in lower:
        at = lower.index("o")
    if at < 0:
        vowels = [i for i, ch in enumerate(lower) if ch in _TONED]
        at = vowels[-1] if vowels else -1
    if at < 0:
        return body
    marked = _TONED[lower[at]][tone - 1]
    return body[:at] + (marked.upper() if body[at].isupper() else marked) + body[at + 1 :]


def pinyin_with_marks(numbered: str) -> str:
    """CC-CEDICT's `yun2 ji4 suan4` → `yún jì suàn`."""
    return " ".join(syllable_with_marks(s) for s in numbered.split())


def _readings(dictionary: Dictionary, word: str) -> tuple[Reading, ...]:
    """The word's entries, common words before proper nouns (capitalised pinyin), measure-word notes left out."""
    entries = sorted(dictionary.lookup(word), key=lambda e: e.pinyin[:1].isupper())
    readings = []
    for e in entries:
        glosses = tuple(g for g in e.glosses if not g.startswith("CL:"))[:MAX_GLOSSES]
        if glosses:
            readings.append(Reading(pinyin_with_marks(e.pinyin), glosses))
    return tuple(readings)


def _dictionary_words(dictionary: Dictionary, token: str, longest: int = 4) -> list[str]:
    """A token the dictionary lacks (中国移动) as its longest dictionary words from the left (中国, 移动)."""
    out, at = [], 0
    while at < len(token):
        size = next(
            (n for n in range(min(longest, len(token) - at), 1, -1) if dictionary.lookup(token[at : at + n])), 1
        )
        out.append(token[at : at + size])
        at += size
    return out


def gloss_text(text: str, names: Mapping[str, tuple[str, ...]] | None = None) -> list[WordGloss]:
    """The Chinese words of `text` (jieba's segmentation) with their readings; a word the dictionary lacks is
    glossed as the dictionary words it is made of. A speaker's name in `names` (name → its English and pinyin
    forms) is kept whole and given those forms."""
    text = text[:MAX_GLOSS_TEXT]
    names = names or {}
    out: list[WordGloss] = []
    at = 0
    for piece in _split_on_names(text, names):
        if piece in names:
            out.append(WordGloss(piece, at, _readings(dictionary(), piece), names[piece]))
        else:
            out.extend(_words(piece, at))
        at += len(piece)
    return out


def _split_on_names(text: str, names: Mapping[str, tuple[str, ...]]) -> list[str]:
    if not names:
        return [text]
    pattern = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return [piece for piece in re.split(f"({pattern})", text) if piece]


def _words(text: str, at: int) -> list[WordGloss]:
    import jieba

    cedict = dictionary()
    out: list[WordGloss] = []
    for token in jieba.cut(text):
        start, at = at, at + len(token)
        if not _HAN.search(token):
            continue
        readings = _readings(cedict, token)
        if readings or len(token) == 1:
            out.append(WordGloss(token, start, readings))
            continue
        offset = start
        for word in _dictionary_words(cedict, token):
            out.append(WordGloss(word, offset, _readings(cedict, word)))
            offset += len(word)
    return out


def name_forms(speakers: Iterable[Speaker]) -> dict[str, tuple[str, ...]]:
    """Each person's name → the English name and pinyin their metadata gives (empty forms are left out)."""
    out: dict[str, list[str]] = {}
    for s in speakers:
        if s.kind == "person" and has_cjk(s.name):
            forms = out.setdefault(s.name, [])
            forms.extend(f for f in (s.name_en, s.name_pinyin) if f and f not in forms)
    return {name: tuple(forms) for name, forms in out.items()}


_warming: threading.Thread | None = None
_warm_lock = threading.Lock()


def warm() -> None:
    """Parse the dictionary (and load jieba) in a background thread, once per process."""
    global _warming
    with _warm_lock:
        if _warming is not None:
            return

        def load() -> None:
            import jieba

            dictionary()
            jieba.initialize()

        _warming = threading.Thread(target=load, name="reading-aid-warm-up", daemon=True)
        _warming.start()
