"""What every source-format parser produces: paragraphs with the source lines they came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceLine:
    """One non-blank line of a source file (1-based number, stripped text)."""

    number: int
    text: str


@dataclass(frozen=True)
class ParsedParagraph:
    """A paragraph's text (layout breaks removed) and the source lines it joins."""

    text: str
    lines: tuple[int, ...]


@dataclass(frozen=True)
class ParsedSpeech:
    """One speaker's section as written in the source."""

    speaker: str
    raw_title: str
    headline: str
    line: int
    paragraphs: tuple[ParsedParagraph, ...]
    organization: str = ""


@dataclass(frozen=True)
class ParsedDocument:
    """A parsed source document before metadata is merged in."""

    title: str
    subtitle: str
    editor_note: tuple[ParsedParagraph, ...]
    speeches: tuple[ParsedSpeech, ...]
    format: str
    date: str = ""
    source: str = ""
    # The text the paragraphs' line numbers refer to, when it is not the decoded file itself (JSONL keeps
    # each record's text on its record's line, so every paragraph can be rebuilt from its lines).
    source_text: str | None = None
