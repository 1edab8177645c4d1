"""What reading a document file produces: its decoded text, where the text came from, and what was done to it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal, get_args

FileType = Literal["text", "markdown", "jsonl", "html", "docx", "pdf"]
Encoding = Literal["utf-8", "utf-8-sig", "utf-16", "gb18030", "big5", ""]

FILE_TYPES: tuple[FileType, ...] = get_args(FileType)
ENCODINGS: tuple[Encoding, ...] = get_args(Encoding)


@dataclass(frozen=True)
class DecodedFile:
    """A document file read into text: what the format parsers parse and what quotes are verified against."""

    text: str  # decoded, normalised text; "\n" line ends only; one paragraph (or layout line) per line
    file_type: FileType
    encoding: str  # "utf-8", "utf-8-sig", "utf-16", "gb18030", "big5"; "" for docx/pdf
    title: str = ""  # what the file itself states: HTML <title>/og:title, DOCX core title, PDF info title
    date: str = ""  # "2024-03-05" when the file states the publication date (HTML articles)
    source: str = ""  # the site or publisher an HTML article names (og:site_name)
    line_pages: tuple[int, ...] = ()  # PDF only: the 1-based page of every line of `text`
    notes: tuple[str, ...] = ()  # facts for the ingestion report: "read as GB18030", "2 columns on page 1"

    def to_plain(self) -> dict[str, object]:
        """Plain JSON-able data, how a sandboxed reader hands its result to the parent process."""
        return asdict(self)

    @classmethod
    def from_plain(cls, data: object) -> DecodedFile:
        """Rebuild from `to_plain` output, checking every field's type (the data crossed a process boundary)."""
        if not isinstance(data, dict):
            raise ValueError("not an object")
        strings = {k: data.get(k, "") for k in ("text", "file_type", "encoding", "title", "date", "source")}
        if not all(isinstance(v, str) for v in strings.values()):
            raise ValueError("a text field is not a string")
        pages = data.get("line_pages", [])
        notes = data.get("notes", [])
        if not isinstance(pages, list | tuple) or not all(type(p) is int for p in pages):
            raise ValueError("line_pages is not a list of integers")
        if not isinstance(notes, list | tuple) or not all(isinstance(n, str) for n in notes):
            raise ValueError("notes is not a list of strings")
        file_type = strings["file_type"]
        if file_type not in FILE_TYPES or strings["encoding"] not in ENCODINGS:
            raise ValueError("unknown file type or encoding")
        return cls(
            text=strings["text"],
            file_type=file_type,  # type: ignore[arg-type]
            encoding=strings["encoding"],
            title=strings["title"],
            date=strings["date"],
            source=strings["source"],
            line_pages=tuple(pages),
            notes=tuple(notes),
        )
