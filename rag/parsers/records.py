"""What every source-format parser produces: sections of paragraphs, each paragraph with the source lines it
came from and, inside narrative paragraphs, the words attributed to a speaker (quoted or reported)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from rag.vocabulary import Attribution, ParagraphKind


@dataclass(frozen=True)
class SourceLine:
    """One non-blank line of a source file (1-based number, stripped text)."""

    number: int
    text: str


@dataclass(frozen=True)
class ParsedSegment:
    """Words of a paragraph attributed to one person: `paragraph.text[start:end]`.

    `direct`: the person's own words as printed inside quotation marks (the marks themselves excluded).
    `reported`: the writer's account of what the person said, the whole sentence including `某某表示，`.
    """

    start: int
    end: int
    speaker: str  # a ParsedPerson.name of the same document
    attribution: Attribution


@dataclass(frozen=True)
class ParsedParagraph:
    """A paragraph's text (layout breaks removed), the source lines it joins, and its attributed segments.

    Speech, answer and question paragraphs are wholly their section's voice from `body_start` on (a label
    printed at the paragraph's start, `记者：` or `陈静：`, is not part of anyone's words) and carry no segments;
    narrative paragraphs carry one segment per quoted or reported passage (text outside every segment is the
    writer's).
    """

    text: str
    lines: tuple[int, ...]
    segments: tuple[ParsedSegment, ...] = ()
    body_start: int = 0


@dataclass(frozen=True)
class ParsedPerson:
    """A person the document quotes, as the document introduces them (byline, speaker line, first mention)."""

    name: str
    title: str = ""
    organization: str = ""
    line: int = 0  # where the document introduces them


@dataclass(frozen=True)
class ParsedSection:
    """Consecutive paragraphs of one voice, in document order.

    kind `speech` / `answer`: the words of `speaker` (a ParsedPerson.name); an answer names the section of
    the question it answers (`question`, an index into ParsedDocument.sections).
    kind `question`: asked by `speaker` as printed (记者, 主持人, 新华社); never a ParsedPerson.
    kind `editor_note` / `narrative`: the document's own text; `speaker` is empty.
    """

    kind: ParagraphKind
    paragraphs: tuple[ParsedParagraph, ...]
    speaker: str = ""
    headline: str = ""
    line: int = 0
    question: int | None = None


@dataclass(frozen=True)
class ParsedDocument:
    """A parsed source document before metadata is merged in."""

    title: str
    subtitle: str
    sections: tuple[ParsedSection, ...]
    people: tuple[ParsedPerson, ...]
    format: str
    date: str = ""
    source: str = ""
    year: str = ""  # citation fields a format's header may give (Markdown front matter)
    page: str = ""
    url: str = ""
    # The text the paragraphs' line numbers refer to, when it is not the decoded file itself (JSONL keeps
    # each record's text on its record's line, so every paragraph can be rebuilt from its lines).
    source_text: str | None = None
    notes: tuple[str, ...] = ()  # facts for the ingestion report ("2 quotations whose speaker … kept as narrative")

    def person(self, name: str) -> ParsedPerson | None:
        return next((p for p in self.people if p.name == name), None)


def merge_people(people: Iterable[ParsedPerson]) -> tuple[ParsedPerson, ...]:
    """One entry per name, in order of first introduction; a later mention fills a title or organisation left empty."""
    merged: dict[str, ParsedPerson] = {}
    for p in people:
        known = merged.get(p.name)
        if known is None:
            merged[p.name] = p
        elif not (known.title and known.organization):
            merged[p.name] = replace(
                known, title=known.title or p.title, organization=known.organization or p.organization
            )
    return tuple(merged.values())
