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


@dataclass
class _NearIndex:
    """Every alias once, with its Chinese ones filed by each one-character wildcard ("华*云" → 华为云).

    Built once per registry: comparing every window of a question with every alias took ~5 s a question at
    10 000 speakers; a window is now looked up by its wildcards, a few hundred dictionary reads.
    """

    aliases: list[tuple[str, str, Speaker]]  # (alias, normalised, speaker) in registry order
    cjk: dict[str, list[int]]  # wildcard key → alias numbers
    cjk_lengths: list[int]
    latin: list[int]  # alias numbers of the Latin ones (compared one by one; they are few per question word)


def _near_index(registry: SpeakerRegistry) -> _NearIndex:
    found = registry.__dict__.get("_near_index")
    if isinstance(found, _NearIndex):
        return found
    aliases = [
        (alias, normalize_for_match(alias), speaker)
        for speaker in registry.speakers
        if speaker.kind == "person"
        for alias in (*speaker.person_aliases(), *speaker.org_names())
    ]
    cjk: dict[str, list[int]] = {}
    latin: list[int] = []
    for number, (_, norm, _) in enumerate(aliases):
        if _CJK_RUN.fullmatch(norm):
            if len(norm) >= MIN_CJK:
                for k in range(len(norm)):
                    cjk.setdefault(norm[:k] + "*" + norm[k + 1 :], []).append(number)
        else:
            latin.append(number)
    index = _NearIndex(aliases, cjk, sorted({len(k) for k in cjk}), latin)
    registry.__dict__["_near_index"] = index  # two threads may both build it: the same
    return index


def near_names(registry: SpeakerRegistry, question: str, mentions: list[Mention] | tuple[Mention, ...]) -> list[NearName]:
    """Known names the question nearly writes, outside the names it does write; best (longest) first."""
    text = normalize_for_match(question)
    taken = [(m.start, m.end) for m in mentions]
    index = _near_index(registry)
    first_window: dict[int, str] = {}  # alias number → the leftmost window one character off it
    for n in index.cjk_lengths:
        for i in range(len(text) - n + 1):
            window = text[i : i + n]
            if any(i < e and s < i + n for s, e in taken) or not _CJK_RUN.fullmatch(window):
                continue
            for k in range(n):
                for number in index.cjk.get(window[:k] + "*" + window[k + 1 :], ()):
                    if window[k] != index.aliases[number][1][k]:
                        first_window.setdefault(number, window)
    for number in index.latin:
        near = _near_latin(text, index.aliases[number][1])
        if near:
            first_window[number] = near
    found: dict[str, NearName] = {}
    for number in sorted(first_window):  # registry order, as every alias was once compared in turn
        alias, _, speaker = index.aliases[number]
        if alias not in found:
            found[alias] = NearName(_as_written(question, first_window[number]), alias, speaker)
    return sorted(found.values(), key=lambda n: -len(n.alias))


def _as_written(question: str, near: str) -> str:
    """The question's own spelling of a normalised near name ("Hua Wei" for "hua wei")."""
    pattern = r"[\s\-']*".join(re.escape(part) for part in near.split())
    m = re.search(pattern, question, re.I)
    return m.group(0) if m else near


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
