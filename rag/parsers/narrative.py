"""Narrative paragraphs (a report, an interview's introduction): register who they introduce, attribute their words.

The glue between the records and the string-level stages: `people.py` finds introductions and references,
`attribution.py` finds whose words are whose; this module turns both into ParsedPerson and ParsedSegment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from rag.parsers.attribution import attribute
from rag.parsers.people import (
    Introduction,
    People,
    Person,
    find_introductions,
    named_subjects,
    with_referenced_organization,
)
from rag.parsers.records import ParsedParagraph, ParsedPerson, ParsedSection, ParsedSegment
from rag.script import to_simplified

LOOKBACK_CHARS = 2000  # how far back a `公司…`/`校长…` title looks for its organisation (a few paragraphs)


def register(texts: Iterable[tuple[str, int]], people: People) -> None:
    """Register everyone introduced in these (text, line) pairs."""
    for text, line in texts:
        for intro in find_introductions(text, to_simplified(text)):
            people.introduce(intro, line)


def introductions(paragraphs: Sequence[ParsedParagraph], people: People) -> list[list[Introduction]]:
    """Each paragraph's introductions, registering the people they introduce."""
    found = []
    before, before_shadow = "", ""  # the text just before, for `公司首席技术官` after the company was named
    for paragraph in paragraphs:
        shadow = to_simplified(paragraph.text)
        intros = [
            with_referenced_organization(i, before + paragraph.text[: i.start], before_shadow + shadow[: i.start])
            for i in find_introductions(paragraph.text, shadow)
        ]
        before = (before + paragraph.text + "\n")[-LOOKBACK_CHARS:]
        before_shadow = (before_shadow + shadow + "\n")[-LOOKBACK_CHARS:]
        for intro in intros:
            people.introduce(intro, paragraph.lines[0])
        for named in named_subjects(paragraph.text, shadow):
            if people.get(named.key) is None and not any(i.start < named.end and named.start < i.end for i in intros):
                people.introduce(named, paragraph.lines[0])
        found.append(intros)
    return found


def attribute_paragraphs(paragraphs: Sequence[ParsedParagraph], people: People) -> tuple[list[ParsedParagraph], int]:
    """The paragraphs with their attributed segments, and how many quotations stayed unattributed."""
    intros = introductions(paragraphs, people)
    result = attribute([to_simplified(p.text) for p in paragraphs], people, intros)
    out = []
    for paragraph, segments in zip(paragraphs, result.segments, strict=True):
        parsed = tuple(
            ParsedSegment(s.start, s.end, _printed(people, s.speaker), s.attribution)
            for s in segments
            if s.end > s.start
        )
        out.append(replace(paragraph, segments=parsed))
    return out, result.unresolved


def _printed(people: People, key: str) -> str:
    person = people.get(key)
    return person.name if person else key


def parsed_person(person: Person) -> ParsedPerson:
    return ParsedPerson(person.name, person.title, person.organization, person.line)


def speakers(sections: Sequence[ParsedSection], people: People) -> tuple[ParsedPerson, ...]:
    """The people whose words the sections hold (as speaker or in a segment), in order of introduction."""
    names = {s.speaker for s in sections if s.kind in ("speech", "answer")}
    names |= {seg.speaker for s in sections for p in s.paragraphs for seg in p.segments}
    return tuple(parsed_person(p) for p in people.all() if p.name in names)


def unresolved_note(count: int, where: str = "the article's text") -> tuple[str, ...]:
    """The ingestion-report line for quotations left unattributed."""
    if not count:
        return ()
    if count == 1:
        return (f"1 quotation whose speaker could not be identified is kept as {where}",)
    return (f"{count} quotations whose speaker could not be identified are kept as {where}",)
