"""Speakers and the names users call them by: registry and mention detection in questions."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property, lru_cache
from typing import Any, TypedDict, cast

from rag.script import to_simplified
from rag.textutil import normalize_for_match, without_invisible
from rag.vocabulary import SpeakerKind

EDITOR = "编者按"
EDITOR_EN = "Editor's note"
NARRATOR = "报道"  # a report's own text: the writer's, never a speaker's
NARRATOR_EN = "Report"


def speaker_key(name: str) -> str:
    """What paragraphs are filed under for a speaker: the name in simplified characters (劉慶峰 = 刘庆峰), NFKC,
    without bidi controls or zero-width characters (a look-alike of a name is that name; it is shown as printed)."""
    return to_simplified(without_invisible(unicodedata.normalize("NFKC", name)).strip())


class SpeakerFieldValues(TypedDict):
    """SpeakerFields as keyword arguments, to build another record that names the same speaker."""

    speaker: str
    title: str
    organization: str
    speaker_en: str
    organization_en: str
    title_en: str
    headline: str


@dataclass(frozen=True, slots=True)
class SpeakerFields:
    """How a paragraph or a quote names who said it: the fields Chunk and Quote (and the API's quotes) share."""

    speaker: str
    title: str
    organization: str
    speaker_en: str
    organization_en: str
    title_en: str
    headline: str  # the section headline the words stand under ("" when none)

    def speaker_fields(self) -> SpeakerFieldValues:
        """These fields alone, to pass on to another record that names the same speaker."""
        return cast(SpeakerFieldValues, {name: getattr(self, name) for name in SpeakerFieldValues.__annotations__})


@lru_cache(maxsize=4)
def _title_suffixes(title_words: tuple[str, ...]) -> tuple[frozenset[str], int]:
    """The title words of two characters or more, and the longest one's length."""
    words = frozenset(w for w in title_words if len(w) >= 2)
    return words, max((len(w) for w in words), default=0)


@dataclass(frozen=True)
class Speaker:
    """A person who speaks in the corpus (or the editor), with every name users may use for them."""

    name: str
    title: str = ""
    organization: str = ""
    name_en: str = ""
    title_en: str = ""
    organization_en: str = ""
    org_aliases: tuple[str, ...] = ()
    org_aliases_en: tuple[str, ...] = ()
    roles_en: tuple[str, ...] = ()
    kind: SpeakerKind = "person"
    name_pinyin: str = ""  # Wu Xiulan for 吴秀兰 when no English name is given: English questions may use it
    org_pinyin: tuple[str, ...] = ()  # Nanling University for 南岭理工大学 when no English organisation is given

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Speaker:
        values = dict(data)
        for name in _TUPLE_FIELDS.intersection(values):  # JSON's lists back to the tuples of the record
            values[name] = tuple(values[name])
        return cls(**values)

    def fields_under(self, headline: str) -> SpeakerFieldValues:
        """The SpeakerFields of a record that names this speaker under `headline`."""
        return SpeakerFieldValues(
            speaker=self.name,
            title=self.title,
            organization=self.organization,
            speaker_en=self.name_en,
            organization_en=self.organization_en,
            title_en=self.title_en,
            headline=headline,
        )

    @cached_property
    def key(self) -> str:
        """Identity across documents and scripts: the same name at the same organisation is one person."""
        return f"{to_simplified(self.name)}|{to_simplified(self.organization)}"

    def person_aliases(self) -> tuple[str, ...]:
        """Names that denote this person (not the organisation)."""
        return self._person_aliases

    def org_names(self) -> tuple[str, ...]:
        """Names that denote the speaker's organisation."""
        return self._org_names

    # Worked out once per Speaker (a loaded archive's registry, keyword user words and abstention profile all
    # ask for every speaker's names: 3 × 27 000 speakers at 1 M paragraphs). The fields are frozen, so the
    # names are too; cached_property keeps them beside the fields, outside equality and JSON.
    @cached_property
    def _person_aliases(self) -> tuple[str, ...]:
        out = [self.name]
        for en in (self.name_en, self.name_pinyin):
            if not en:
                continue
            plain = en.replace("'", "").replace("’", "")
            parts = plain.split()
            out += [en, plain]
            if len(parts) == 2:
                out += [f"{parts[1]} {parts[0]}", "".join(parts)]
        out += self.surname_and_title()
        return tuple(dict.fromkeys(a for a in out if a))

    def surname_and_title(self) -> list[str]:
        """How a person is referred to after the first mention: 王局长, 陈馆长, 李教授 (a 副局长 is 局长 too)."""
        from rag.parsers.lexicon import TITLE_WORDS, surname_of

        surname = surname_of(to_simplified(self.name)) if self.kind == "person" else ""
        if not surname:
            return []
        title = to_simplified(self.title)
        # The longest title word the title ends with (suffixes looked up, not every word tried: 10 000 speakers).
        words, longest = _title_suffixes(TITLE_WORDS)
        word = next((title[-k:] for k in range(min(longest, len(title)), 1, -1) if title[-k:] in words), "")
        word = word.removeprefix("副")
        return [self.name[: len(surname)] + word] if len(word) >= 2 else []

    @cached_property
    def _org_names(self) -> tuple[str, ...]:
        names = [self.organization, self.organization_en, *self.org_aliases, *self.org_aliases_en, *self.org_pinyin]
        # A company is named without its legal form too: 潮汐工业互联网 for 潮汐工业互联网有限公司.
        short = COMPANY_FORM.sub("", self.organization)
        names += [short] if short != self.organization and len(short) >= MIN_SHORT_COMPANY else []
        return tuple(dict.fromkeys(a for a in names if a))


_TUPLE_FIELDS = frozenset(f.name for f in fields(Speaker) if f.type.startswith("tuple"))
COMPANY_FORM = re.compile(r"(?:集团)?(?:股份)?有限(?:责任)?公司$")
MIN_SHORT_COMPANY = 4  # 华为技术 for 华为技术有限公司; shorter names without the form are too common


@dataclass(frozen=True)
class Mention:
    """A speaker named in a question, and how (by person name or by organisation)."""

    speaker: Speaker
    alias: str
    by: str  # "person" | "organization"
    start: int
    end: int


@dataclass
class SpeakerRegistry:
    """All speakers, looked up by any alias; aliases shared by several speakers match all of them."""

    speakers: list[Speaker] = field(default_factory=list)
    _patterns: list[tuple[str, str, Speaker]] = field(default_factory=list, repr=False)  # (alias, by, speaker)
    _compiled: dict[int, re.Pattern[str]] = field(default_factory=dict, repr=False)  # made on first use
    _needles: list[tuple[str, ...]] = field(default_factory=list, repr=False)
    _by_prefix: dict[str, list[int]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_speakers(cls, speakers: Iterable[Speaker]) -> SpeakerRegistry:
        merged: dict[str, Speaker] = {}
        for s in speakers:
            merged.setdefault(s.key, s)
        reg = cls(speakers=list(merged.values()))
        reg._compile()
        return reg

    def _compile(self) -> None:
        pats = []
        for s in self.speakers:
            if s.kind != "person":
                continue
            for alias in s.person_aliases():
                pats.append((alias, "person", s))
            for alias in s.org_names():
                pats.append((alias, "organization", s))
        pats.sort(key=lambda p: -len(p[0]))  # longest alias first: 华为云 before 华为
        self._patterns = pats
        # Compiled when a question first contains an alias's pieces: 10 000 speakers' 20 000 patterns took
        # ~8 s to compile at load, and a question reaches a handful of them.
        self._compiled = {}
        # Each pattern contains its alias's space-separated pieces literally: without all of them in the
        # question it cannot match. Patterns are found by the first two characters of their first piece,
        # so a question is checked against the few aliases that can occur in it, not all of them
        # (20 000 aliases took 23 ms per question at 10 000 speakers).
        self._needles = [tuple(p for p in normalize_for_match(alias).split(" ") if p) for alias, _, _ in pats]
        self._by_prefix = {}
        for i, needles in enumerate(self._needles):
            self._by_prefix.setdefault(needles[0][:2] if needles else "", []).append(i)

    def get(self, name_or_alias: str) -> list[Speaker]:
        """Speakers whose name, English name or organisation alias equals the argument."""
        wanted = normalize_for_match(name_or_alias.strip())
        out = [
            s
            for s in self.speakers
            if any(normalize_for_match(a) == wanted for a in (*s.person_aliases(), *s.org_names()))
        ]
        return out

    def names(self) -> list[str]:
        return [s.name for s in self.speakers if s.kind == "person"]

    def mentions(self, question: str) -> list[Mention]:
        """Speakers named in the question, longest alias wins where aliases overlap."""
        text = normalize_for_match(question)
        taken: list[tuple[int, int]] = []
        found: list[Mention] = []
        prefixes = {""} | set(text) | {text[i : i + 2] for i in range(len(text) - 1)}
        candidates = sorted(i for p in prefixes for i in self._by_prefix.get(p, ()))  # in pattern order
        for i in candidates:
            alias, by, speaker = self._patterns[i]
            if not all(n in text for n in self._needles[i]):
                continue
            pattern = self._compiled.get(i)
            if pattern is None:
                pattern = self._compiled[i] = _alias_pattern(alias)  # two threads may both make it: the same
            for m in pattern.finditer(text):
                span = (m.start(), m.end())
                if any(span[0] < e and s < span[1] for s, e in taken if (s, e) != span):
                    continue
                taken.append(span)
                found.append(Mention(speaker, alias, by, span[0], span[1]))
        found.sort(key=lambda m: m.start)
        return found


def _alias_pattern(alias: str) -> re.Pattern[str]:
    norm = normalize_for_match(alias)
    body = re.escape(norm).replace(r"\ ", r"[\s\-]*")
    if re.match(r"[a-z0-9]", norm):
        # Latin aliases match whole words only (BYD in "BYD's", not in "abyd").
        return re.compile(rf"(?<![a-z0-9]){body}(?![a-z0-9])")
    return re.compile(body)
