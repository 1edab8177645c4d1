"""Source-format parsers. Each turns a file's bytes into a ParsedDocument or raises CorpusError."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag.errors import CorpusError
from rag.parsers.jsonl import parse_jsonl
from rag.parsers.markdown import parse_markdown
from rag.parsers.records import ParsedDocument, ParsedParagraph, ParsedPerson, ParsedSection, ParsedSegment, SourceLine
from rag.parsers.zhaideng import parse_zhaideng, read_source_text

Parser = Callable[[Path, str], ParsedDocument]

PARSERS: dict[str, Parser] = {
    ".txt": parse_zhaideng,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".jsonl": parse_jsonl,
}

__all__ = [
    "PARSERS",
    "ParsedDocument",
    "ParsedParagraph",
    "ParsedPerson",
    "ParsedSection",
    "ParsedSegment",
    "SourceLine",
    "parse_source",
    "read_source_text",
    "source_suffixes",
]


def source_suffixes() -> tuple[str, ...]:
    """File suffixes some parser accepts."""
    return tuple(PARSERS)


def parse_source(path: Path, data: bytes) -> tuple[str, ParsedDocument]:
    """Decode and parse a source file by its suffix.

    Returns (source text, parsed document): the text the paragraphs' line numbers refer to, which is the
    decoded file except for formats that say otherwise (JSONL).
    """
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        known = ", ".join(PARSERS)
        raise CorpusError(path, f"unknown format `{path.suffix or '(no suffix)'}` (known: {known})")
    text = read_source_text(path, data)
    parsed = parser(path, text)
    return (text if parsed.source_text is None else parsed.source_text), parsed
