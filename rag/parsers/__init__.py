"""Source-format parsers. Each turns a file's bytes into a ParsedDocument or raises CorpusError."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag.errors import CorpusError
from rag.parsers.records import ParsedDocument, ParsedParagraph, ParsedSpeech, SourceLine
from rag.parsers.zhaideng import parse_zhaideng, read_source_text

Parser = Callable[[Path, str], ParsedDocument]

PARSERS: dict[str, Parser] = {".txt": parse_zhaideng}

__all__ = [
    "PARSERS",
    "ParsedDocument",
    "ParsedParagraph",
    "ParsedSpeech",
    "SourceLine",
    "parse_source",
    "read_source_text",
    "source_suffixes",
]


def source_suffixes() -> tuple[str, ...]:
    """File suffixes some parser accepts."""
    return tuple(PARSERS)


def parse_source(path: Path, data: bytes) -> tuple[str, ParsedDocument]:
    """Decode and parse a source file by its suffix; returns (decoded text, parsed document)."""
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        known = ", ".join(PARSERS)
        raise CorpusError(path, f"unknown format `{path.suffix or '(no suffix)'}` (known: {known})")
    text = read_source_text(path, data)
    return text, parser(path, text)
