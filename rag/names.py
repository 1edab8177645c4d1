"""Names the registry nearly knows: "华未云" → 华为云, "刘庆锋" → 刘庆峰, "Hua Wei" → Huawei.

Used when a question names no known speaker: instead of a bare "not found", the answer asks
"did you mean …?". Only near misses that cannot be chance are offered: a Chinese name of three or more
characters with one character different, or a Latin name of five or more letters written with other spaces
or hyphens, or (six or more letters) one letter off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.speakers import Mention, Speaker, SpeakerRegistry
from rag.textutil import normalize_for_match

MIN_CJK = 3
MIN_LATIN_SQUASHED = 5
MIN_LATIN_TYPO = 6
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_LATIN_WORD = re.compile(r"[a-z][a-z'\-]*")


@dataclass(frozen=True)
class NearName:
    """What the question wrote, and the known name it is probably meant to be."""

    written: str
    alias: str
    speaker: Speaker


def near_names(registry: SpeakerRegistry, question: str, mentions: list[Mention] | tuple[Mention, ...]) -> list[NearName]:
    """Known names the question nearly writes, outside the names it does write; best (longest) first."""
    text = normalize_for_match(question)
    taken = [(m.start, m.end) for m in mentions]
    found: dict[str, NearName] = {}
    for speaker in registry.speakers:
        if speaker.kind != "person":
            continue
        for alias in (*speaker.person_aliases(), *speaker.org_names()):
            norm = normalize_for_match(alias)
            near = _near_cjk(text, norm, taken) if _CJK_RUN.fullmatch(norm) else _near_latin(text, norm)
            if near and alias not in found:
                found[alias] = NearName(_as_written(question, near), alias, speaker)
    return sorted(found.values(), key=lambda n: -len(n.alias))


def _as_written(question: str, near: str) -> str:
    """The question's own spelling of a normalised near name ("Hua Wei" for "hua wei")."""
    pattern = r"[\s\-']*".join(re.escape(part) for part in near.split())
    m = re.search(pattern, question, re.I)
    return m.group(0) if m else near


def _near_cjk(text: str, alias: str, taken: list[tuple[int, int]]) -> str:
    if len(alias) < MIN_CJK:
        return ""
    n = len(alias)
    for i in range(len(text) - n + 1):
        window = text[i : i + n]
        if any(i < e and s < i + n for s, e in taken):
            continue
        if sum(a != b for a, b in zip(window, alias, strict=True)) == 1 and _CJK_RUN.fullmatch(window):
            return window
    return ""


def _near_latin(text: str, alias: str) -> str:
    squashed_alias = re.sub(r"[\s\-']", "", alias)
    if len(squashed_alias) < MIN_LATIN_SQUASHED or not squashed_alias.isalpha():
        return ""
    words = _LATIN_WORD.findall(text)
    for i in range(len(words)):
        for j in range(i + 1, min(len(words), i + 3) + 1):
            written = " ".join(words[i:j])
            squashed = re.sub(r"[\s\-']", "", written)
            if squashed == squashed_alias and written != alias:
                return written
            if len(squashed_alias) >= MIN_LATIN_TYPO and _one_edit(squashed, squashed_alias):
                return written
    return ""


def _one_edit(a: str, b: str) -> bool:
    """True when a and b differ by exactly one insertion, deletion or substitution."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:k] + long[k + 1 :] == short for k in range(len(long)))


def did_you_mean(near: list[NearName], language: str) -> str:
    """"没有找到“华未云”。您是不是想问华为云？" / "Nothing is known about “Hua Wei”. Did you mean Huawei?"."""
    first = near[0]
    if language == "en":
        return f"No speaker or organisation called “{first.written}” is in the speeches. Did you mean {first.alias}?"
    return f"收录的讲话和报道中没有“{first.written}”。您是不是想问{first.alias}？"
