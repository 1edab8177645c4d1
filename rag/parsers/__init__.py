"""Source-format parsers. Each turns a file's bytes into a ParsedDocument or raises CorpusError."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag.errors import CorpusError
from rag.parsers.detect import FORMAT_NAMES, TEXT_FORMATS, parse_text
from rag.parsers.jsonl import parse_jsonl
from rag.parsers.markdown import parse_markdown
from rag.parsers.records import ParsedDocument, ParsedParagraph, ParsedPerson, ParsedSection, ParsedSegment, SourceLine
from rag.parsers.zhaideng import read_source_text

Parser = Callable[[Path, str], ParsedDocument]

PARSERS: dict[str, Parser] = {
    ".txt": parse_text,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".jsonl": parse_jsonl,
}

__all__ = [
    "FORMAT_NAMES",
    "PARSERS",
    "TEXT_FORMATS",
    "ParsedDocument",
    "ParsedParagraph",
    "ParsedPerson",
    "ParsedSection",
    "ParsedSegment",
    "SourceLine",
    "parse_source",
    "parse_text",
    "read_source_text",
    "source_suffixes",
]


def source_suffixes() -> tuple[str, ...]:
    """File suffixes some parser accepts."""
    return tuple(PARSERS)


def parse_source(path: Path, data: bytes, format: str | None = None) -> tuple[str, ParsedDocument]:
    """Decode and parse a source file by its suffix; a `.txt` in the text format that fits it best.

    `format` names a text format (zhaideng, speech, news, interview, press) for a `.txt` instead of detecting
    one; Markdown and JSONL are chosen by suffix. Returns (source text, parsed document): the text the
    paragraphs' line numbers refer to, which is the decoded file except for formats that say otherwise (JSONL).
    """
    suffix = path.suffix.lower()
    parser = PARSERS.get(suffix)
    if parser is None:
        known = ", ".join(PARSERS)
        raise CorpusError(path, f"unknown format `{path.suffix or '(no suffix)'}` (known: {known})")
    if format is not None and suffix != ".txt":
        raise CorpusError(path, f"`format={format}` applies to .txt files; {suffix} files have one format")
    text = read_source_text(path, data)
    parsed = parse_text(path, text, format) if suffix == ".txt" else parser(path, text)
    return (text if parsed.source_text is None else parsed.source_text), parsed
