"""Source-format parsers: a document file's decoded text (rag.files) read as speeches, reports, interviews.

`read_source` decodes any file type the project reads (plain text in any common Chinese encoding, Markdown,
JSONL, saved web pages, Word and PDF files) and parses it: Markdown and JSONL by their own formats, every
other file as whichever text format explains it best (`format` names one instead). Each raises CorpusError
with the file and the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import CorpusError
from rag.files import SUFFIXES, DecodedFile, FileLimits, read_file
from rag.parsers.detect import FORMAT_NAMES, TEXT_FORMATS, parse_text
from rag.parsers.jsonl import parse_jsonl
from rag.parsers.markdown import parse_markdown
from rag.parsers.records import ParsedDocument, ParsedParagraph, ParsedPerson, ParsedSection, ParsedSegment, SourceLine

Parser = Callable[[Path, str], ParsedDocument]

# File types with a format of their own; every other type is read as one of TEXT_FORMATS.
OWN_FORMATS: dict[str, Parser] = {"markdown": parse_markdown, "jsonl": parse_jsonl}

__all__ = [
    "FORMAT_NAMES",
    "OWN_FORMATS",
    "TEXT_FORMATS",
    "ParsedDocument",
    "ParsedParagraph",
    "ParsedPerson",
    "ParsedSection",
    "ParsedSegment",
    "Source",
    "SourceLine",
    "parse_source",
    "parse_text",
    "read_source",
    "source_suffixes",
]


@dataclass(frozen=True)
class Source:
    """A source file read: the text its paragraphs' line numbers refer to, the parsed document, the decoding."""

    text: str
    parsed: ParsedDocument
    file: DecodedFile


def source_suffixes() -> tuple[str, ...]:
    """File suffixes a document may have."""
    return tuple(SUFFIXES)


def read_source(path: Path, data: bytes, format: str | None = None, limits: FileLimits | None = None) -> Source:
    """Decode a document file and parse it (see the module docstring)."""
    decoded = read_file(str(path), data, limits or FileLimits())
    own = OWN_FORMATS.get(decoded.file_type)
    if own is not None:
        if format is not None:
            raise CorpusError(
                path, f"`format={format}` applies to text, web, Word and PDF files; {path.suffix} files have one format"
            )
        parsed = own(path, decoded.text)
    else:
        parsed = parse_text(path, decoded.text, format)
    text = decoded.text if parsed.source_text is None else parsed.source_text
    return Source(text, parsed, decoded)


def parse_source(path: Path, data: bytes, format: str | None = None) -> tuple[str, ParsedDocument]:
    """(the text the paragraphs' line numbers refer to, the parsed document) of a document file."""
    source = read_source(path, data, format)
    return source.text, source.parsed
