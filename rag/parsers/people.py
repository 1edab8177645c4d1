"""People in a document: introductions that register them, and later references that point back to them.

An introduction names a person with evidence: a title right before the name (`云溪市博物馆馆长陈静`,
`馆长　陈静`), a title in brackets after it (`陈静（云溪市博物馆馆长）`), or a title after a comma
(`陈静，云溪市博物馆馆长，…`). Later references resolve only when they point at exactly one person: the full
name, a surname with a title word that matches one person's title (`陈馆长`, `刘总`); `他/她/其` are resolved by
the attribution stage from context. Everything else (`老王`, `游客张女士`) is a reference to nobody.

All matching runs on the simplified shadow; names, titles and organisations are sliced from the text as printed.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

from rag.parsers.lexicon import (
    AFTER_NAME,
    ANONYMOUS_VOICES,
    BEFORE_NAME,
    CJK,
    COMPOUND_SURNAMES,
    HONORIFICS,
    PUNCTUATION,
    REFERENCE_TITLES,
    SURNAMES,
    TITLE_RE,
    TITLE_WORDS,
    VERB_RE,
    alternation,
    is_name_shaped,
    surname_of,
)
from rag.parsers.titles import split_organization
from rag.script import to_simplified

MAX_PREFIX_CHARS = 30
SPACES = " \u3000"
# Words that open a clause but are not part of an organisation (`专访云溪市博物馆馆长…`, `——访…`).
LEADING_JUNK = re.compile(
    r"^(?:以及|和|与|及|专访了?|采访了?|访问了?|对话|访|会上|当天|其中|随后|同时|此外|另外|目前|近日|日前|会议)+"
)
BRACKETED_TITLE = re.compile(r"[（(](?P<inner>[^（）()]{2,40})[）)]")
COMMA_TITLE = re.compile(r"^[，,](?P<inner>[^，,。！？；：“”「」（）()]{2,30})[，,。]")
PRONOUN = re.compile(
    r"(?<![其吉利])(?:他|她)(?![们人乡国处日])|(?<=据)其|其(?=(?:表示|介绍|透露|指出|认为|强调|称|说))"
)
REFERENCE = re.compile(
    rf"(?P<surname>{alternation(tuple(COMPOUND_SURNAMES))}|[{''.join(sorted(SURNAMES))}])"
    rf"(?P<word>{alternation((*TITLE_WORDS, *REFERENCE_TITLES, *HONORIFICS))})"
)
FAMILIAR = re.compile(rf"老[{''.join(sorted(SURNAMES))}](?=[^\u3400-\u9fff]|[说表称告则也还在笑]|$)")

# A title that opens with a word standing for an organisation the text named before (`公司首席技术官宋佳琪`
# after `…是潮汐工业互联网有限公司。`): the word, and the endings of the names it can stand for.
_SCHOOLS = "大学|学院|学校|中学|小学"
ORG_REFERENCES: dict[str, str] = {
    "该公司": "公司",
    "公司": "公司",
    "该集团": "集团",
    "集团": "集团",
    "该校": _SCHOOLS,
    "学校": _SCHOOLS,
    "校方": _SCHOOLS,
    "该馆": "馆",
    "馆方": "馆",
    "该院": "院",
    "该局": "局",
    "该厅": "厅",
    "该协会": "协会",
    "协会": "协会",
}
# What can stand before an organisation's name in the sentence that names it (`走进…集团`, `由本地企业…公司提供`).
ORG_LEAD = re.compile(
    r"(?:走进|来到|位于|走访|探访|作为|入驻|落户|加入)?(?:本地|当地|国内|省内|市内|区内|县内|一家|这家|民营|国有|龙头)*"
    r"(?:企业|机构|单位)?"
)
# A title alone (`校长`, `馆长`) belongs to an organisation of this kind when the text names exactly one.
TITLE_ORGANIZATIONS: dict[str, str] = {
    "校长": _SCHOOLS,
    "院长": "院",
    "馆长": "馆",
    "局长": "局",
    "厅长": "厅",
    "董事长": "公司|集团",
    "总经理": "公司|集团",
    "总裁": "公司|集团",
}
ORG_REFERENCE = re.compile(f"^(?:{alternation(tuple(ORG_REFERENCES))})")

MentionKind = Literal["intro", "name", "title", "pronoun", "anonymous"]


@dataclass(frozen=True)
class Person:
    """A person the document introduces: name, title and organisation as printed, and a simplified key."""

    name: str
    title: str
    organization: str
    line: int
    key: str  # the simplified name, for matching references in either script

    @property
    def surname(self) -> str:
        return surname_of(self.key)


@dataclass(frozen=True)
class Introduction:
    """Where a text introduces a person: the span (title and name) and what it says about them."""

    start: int
    end: int
    name: str
    key: str
    title: str
    organization: str


@dataclass(frozen=True)
class Mention:
    """A span that refers to a person: `person` is the key of the one it resolves to, or None."""

    start: int
    end: int
    kind: MentionKind
    person: str | None


class People:
    """The document's registry: the first introduction of a name wins, later ones only fill in blanks."""

    def __init__(self) -> None:
        self._people: dict[str, Person] = {}

    def add(self, name: str, key: str, title: str, organization: str, line: int) -> Person:
        known = self._people.get(key)
        if known is None:
            known = Person(name, title.strip(), organization.strip(), line, key)
        elif (organization and not known.organization) or (title and not known.title):
            known = replace(known, title=known.title or title, organization=known.organization or organization)
        self._people[key] = known
        return known

    def introduce(self, intro: Introduction, line: int) -> Person:
        return self.add(intro.name, intro.key, intro.title, intro.organization, line)

    def get(self, key: str) -> Person | None:
        return self._people.get(key)

    def all(self) -> tuple[Person, ...]:
        return tuple(self._people.values())

    def keys_longest_first(self) -> list[str]:
        return sorted(self._people, key=len, reverse=True)

    def by_title(self, surname: str, word: str) -> str | None:
        """The one person with this surname whose title holds this word (`王`+`局长`), else None."""
        wanted = REFERENCE_TITLES.get(word, (word,))
        found = [
            p.key
            for p in self._people.values()
            if p.surname == surname and any(w in _simplified_title(p) for w in wanted)
        ]
        return found[0] if len(found) == 1 else None

    def only(self) -> Person | None:
        """The single registered person, when there is exactly one."""
        return next(iter(self._people.values())) if len(self._people) == 1 else None


def _simplified_title(person: Person) -> str:
    return to_simplified(person.organization + person.title)


# ---------------------------------------------------------------- introductions


def find_introductions(text: str, shadow: str) -> list[Introduction]:
    """Every introduction in a paragraph, in order (title before the name, in brackets, after a comma)."""
    found: list[Introduction] = []
    floor = 0
    for match in TITLE_RE.finditer(shadow):
        if match.start() < floor:
            continue
        intro = _title_then_name(text, shadow, match, floor)
        if intro:
            found.append(intro)
            floor = intro.end
    found += [i for i in _bracketed(text, shadow) if not _overlaps(i, found)]
    found += [i for i in _comma_title(text, shadow) if not _overlaps(i, found)]
    return sorted(found, key=lambda i: i.start)


def named_subjects(text: str, shadow: str) -> list[Introduction]:
    """People a report names only as they speak (`杨帆回忆说，`, `吴秀兰坦言，`): a name jieba tags as a person's,
    with a known surname, right before a speech verb. Their title is unknown; an honorific (张女士) is no name."""
    if not VERB_RE.search(shadow):
        return []
    found, at = [], 0
    for word, flag in pos_words(shadow):
        end = at + len(word)
        given = word[len(surname_of(word)) :]
        if flag.startswith("nr") and is_name_shaped(word) and given not in HONORIFICS and VERB_RE.match(shadow, end):
            found.append(Introduction(at, end, text[at:end], word, "", ""))
        at = end
    return found


def with_referenced_organization(intro: Introduction, before: str, before_shadow: str) -> Introduction:
    """The organisation of an introduction that names none, from the text before it (as printed, and its shadow).

    `公司首席技术官宋佳琪` after a sentence naming `潮汐工业互联网有限公司`: that company, and the title
    `首席技术官` (the last such organisation named before). A bare title (`校长林舒雅`) takes an organisation of
    its kind only when the text before names exactly one (`南岭理工大学…`). Otherwise it stays as it is.
    """
    if intro.organization:
        return intro
    title = to_simplified(intro.title)
    word = ORG_REFERENCE.match(title)
    if word:
        named = organizations_named(before, before_shadow, ORG_REFERENCES[word.group(0)])
        rest = intro.title[word.end() :].strip()
        return replace(intro, organization=named[-1], title=rest) if named and rest else intro
    kind = next((endings for w, endings in TITLE_ORGANIZATIONS.items() if title == w or title == "副" + w), None)
    named = list(dict.fromkeys(organizations_named(before, before_shadow, kind))) if kind else []
    return replace(intro, organization=named[0]) if len(named) == 1 else intro


def organizations_named(text: str, shadow: str, endings: str) -> list[str]:
    """The organisations a text names that end in one of `endings` (`…有限公司`, `…大学`), as printed, in order;
    a name needs two ideographs of its own before the ending (`该公司`, `本公司`, `在学校` name nobody)."""
    found = []
    for ending in re.finditer(f"(?:{endings})", shadow):
        start = _prefix_start(shadow, ending.start(), max(0, ending.start() - MAX_PREFIX_CHARS))
        lead = ORG_LEAD.match(shadow, start, ending.start())
        start = lead.end() if lead and ending.start() - lead.end() >= 2 else start
        prefix = shadow[start : ending.start()]
        if len(prefix) >= 2 and prefix[0] not in "该本" and all(CJK.match(ch) for ch in prefix):
            found.append(text[start : ending.end()])
    return found


def _overlaps(intro: Introduction, others: list[Introduction]) -> bool:
    return any(intro.start < o.end and o.start < intro.end for o in others)


def _title_then_name(text: str, shadow: str, match: re.Match[str], floor: int) -> Introduction | None:
    at = match.end()
    while at < len(shadow) and shadow[at] in SPACES:
        at += 1
    length = name_length_at(shadow, at)
    if not length:
        return None
    start = _prefix_start(shadow, match.start(), floor)
    organization, title = _split_title(text[start : match.end()], shadow[start : match.end()])
    return Introduction(start, at + length, text[at : at + length], shadow[at : at + length], title, organization)


def name_length_at(shadow: str, at: int) -> int:
    """Length of the name starting at `at` (2–4 ideographs ending where a new word starts), or 0."""
    fits = []
    for length in (2, 3, 4):
        name = shadow[at : at + length]
        if len(name) < length or not is_name_shaped(name):
            continue
        if length == 4 and name[:2] not in COMPOUND_SURNAMES:
            continue
        if _ends_word(shadow, at + length):
            fits.append(length)
    if len(fits) == 1:
        return fits[0]
    if not surname_of(shadow[at : at + 2]):
        return 0
    hinted = jieba_name_length(shadow[at : at + 8])
    if not fits:
        # No word boundary we know follows (`王丽萍长期…`): jieba's `nr` tag may still see the name.
        return hinted if 2 <= hinted <= 4 and is_name_shaped(shadow[at : at + hinted]) else 0
    if hinted in fits:
        return hinted
    # `陈静说` fits as 2 and 3 (`陈静说` + `，`): a third character that starts a new word ends the name.
    return fits[0] if shadow[at + fits[0]] in AFTER_NAME else fits[1]


def _ends_word(shadow: str, at: int) -> bool:
    if at >= len(shadow):
        return True
    nxt = shadow[at]
    return nxt in PUNCTUATION or nxt in AFTER_NAME or not CJK.match(nxt)


@lru_cache(maxsize=4096)
def pos_words(text: str) -> list[tuple[str, str]]:
    """jieba's words with their part-of-speech flags (its default dictionary, loaded once and quietly)."""
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)  # its dictionary load would print to stderr
    return [(w, f) for w, f in jieba.posseg.lcut(text)]


def jieba_name_length(window: str) -> int:
    """jieba's part-of-speech hint: the length of a leading `nr` (person name) token, else 0."""
    for word, flag in pos_words(window):
        return len(word) if flag.startswith("nr") else 0
    return 0


def _prefix_start(shadow: str, title_start: int, floor: int) -> int:
    """Where the organisation and title before a title word start: back to punctuation or a function word."""
    start = title_start
    while start > floor and title_start - start < MAX_PREFIX_CHARS:
        ch = shadow[start - 1]
        if ch == "、" and _ends_with_title(shadow[floor : start - 1]):
            start -= 1  # `党组书记、局长`: several titles joined by 、
            continue
        if ch in PUNCTUATION or ch in "的由请是对向据被将从在把":
            break
        start -= 1
    junk = LEADING_JUNK.match(shadow[start:title_start])
    return start + (junk.end() if junk else 0)


def _ends_with_title(text: str) -> bool:
    return any(text.endswith(w) for w in TITLE_WORDS)


def _split_title(raw: str, shadow: str) -> tuple[str, str]:
    """(organisation, title) as printed, split on the shadow (`云溪市博物馆` + `馆长`)."""
    raw, shadow = raw.strip(), shadow.strip()
    organization, title = split_organization(shadow)
    # `党组书记、局长` is two titles, not an organisation `党组书记、局` and a title `长`.
    if not organization or "、" in organization or not _ends_with_title(title) or len(title) < 2:
        return "", raw
    return raw[: len(organization)], raw[len(raw) - len(title) :]


def _bracketed(text: str, shadow: str) -> list[Introduction]:
    """`陈静（云溪市博物馆馆长）`: a name right before brackets holding a title."""
    found = []
    for match in BRACKETED_TITLE.finditer(shadow):
        inner = match.group("inner").strip()
        if not _ends_with_title(inner):
            continue
        at = match.start()
        for length in (3, 2, 4):
            start = at - length
            name = shadow[start:at]
            if start >= 0 and is_name_shaped(name) and (start == 0 or shadow[start - 1] in BEFORE_NAME):
                organization, title = _split_title(
                    text[match.start("inner") : match.end("inner")], shadow[match.start("inner") : match.end("inner")]
                )
                found.append(Introduction(start, match.end(), text[start:at], name, title, organization))
                break
    return found


def _comma_title(text: str, shadow: str) -> list[Introduction]:
    """`陈静，云溪市博物馆馆长，…` at the start of a clause: the name needs jieba's `nr` hint as well."""
    found = []
    for length in (3, 2, 4):
        name = shadow[:length]
        tail = COMMA_TITLE.match(shadow[length:])
        if (
            is_name_shaped(name)
            and tail
            and _ends_with_title(tail.group("inner"))
            and jieba_name_length(name) == length
        ):
            inner = slice(length + tail.start("inner"), length + tail.end("inner"))
            organization, title = _split_title(text[inner], shadow[inner])
            found.append(Introduction(0, inner.stop, text[:length], name, title, organization))
            break
    return found


# ---------------------------------------------------------------- references


def find_mentions(shadow: str, people: People, intros: list[Introduction] | None = None) -> list[Mention]:
    """Every reference to a person in a paragraph, in order; pronouns are left for the caller to resolve."""
    mentions: list[Mention] = []

    def add(start: int, end: int, kind: MentionKind, person: str | None) -> None:
        if not any(start < m.end and m.start < end for m in mentions):
            mentions.append(Mention(start, end, kind, person))

    for intro in intros if intros is not None else find_introductions(shadow, shadow):
        add(intro.start, intro.end, "intro", intro.key if people.get(intro.key) else None)
    for key in people.keys_longest_first():
        for match in re.finditer(re.escape(key), shadow):
            add(match.start(), match.end(), "name", key)
    for match in REFERENCE.finditer(shadow):
        word = match.group("word")
        person = None if word in HONORIFICS else people.by_title(match.group("surname"), word)
        add(match.start(), match.end(), "title" if person or word not in HONORIFICS else "anonymous", person)
    for match in FAMILIAR.finditer(shadow):
        add(match.start(), match.end(), "anonymous", None)
    for match in ANONYMOUS_VOICES.finditer(shadow):
        add(match.start(), match.end(), "anonymous", None)
    for start, end in _unknown_names(shadow):
        # Someone the document never introduced (`创办人谢某是本地人。他说…`): a pronoun after them is theirs,
        # not the last introduced speaker's, so it stays unresolved instead of borrowing a wrong speaker.
        add(start, end, "anonymous", None)
    for match in PRONOUN.finditer(shadow):
        add(match.start(), match.end(), "pronoun", None)
    return sorted(mentions, key=lambda m: m.start)


def _unknown_names(shadow: str) -> list[tuple[int, int]]:
    """Spans jieba tags as person names (`nr`) that are name-shaped: people the text mentions."""
    if not PRONOUN.search(shadow):
        return []  # only a later pronoun could be misled by them
    out, at = [], 0
    for word, flag in pos_words(shadow):
        if flag.startswith("nr") and is_name_shaped(word):
            out.append((at, at + len(word)))
        at += len(word)
    return out
