"""Typed records of ingestion: what is given (Upload, Fields), what is checked (Prepared) and what is reported."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from rag.corpus import Document


@dataclass(frozen=True)
class Upload:
    """A document as given: the name it came with (only its suffix and stem are used), bytes, side metadata."""

    name: str
    data: bytes
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fields:
    """Document fields given on the command line or in the upload form; they win over any metadata."""

    title: str | None = None
    date: str | None = None
    source: str | None = None
    slug: str | None = None
    format: str | None = None  # a text format (speech, news, interview, press, zhaideng) instead of detecting one
    year: str | None = None  # the year of publication, for citations (a date like 9月30日 has none)
    page: str | None = None  # the newspaper page (版次) or page range the document was printed on
    url: str | None = None  # where the document is published online (http or https)


NO_FIELDS = Fields()


@dataclass(frozen=True)
class DocumentSummary:
    """What `rag documents` lists for one document."""

    slug: str
    title: str
    date: str
    source: str
    format: str
    file: str
    speakers: tuple[str, ...]
    paragraphs: int  # paragraphs holding a speaker's words (speeches, answers, reports quoting someone)
    editor_note: int  # editor's-note paragraphs
    narrative: int = 0  # the document's own paragraphs that quote nobody (a report's narrative, an introduction)
    questions: int = 0  # interview and press-conference questions
    notes: tuple[str, ...] = ()  # what the parser could not attribute, and why
    file_type: str = "text"  # text | markdown | jsonl | html | docx | pdf
    encoding: str = "utf-8"  # how a text file was decoded ("" for Word and PDF files)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "speakers": list(self.speakers), "notes": list(self.notes)}

    def counts(self) -> str:
        """`12 paragraphs: 9 attributed, 3 narrative` (and questions and editor's notes where there are any)."""
        total = self.paragraphs + self.editor_note + self.narrative + self.questions
        parts = [f"{self.paragraphs} attributed"]
        parts += [
            f"{n} {what}"
            for n, what in (
                (self.narrative, "narrative"),
                (self.questions, "questions"),
                (self.editor_note, "editor's note"),
            )
            if n
        ]
        return f"{total} paragraphs: {', '.join(parts)}"


@dataclass(frozen=True)
class Added:
    """One given document's outcome: `added`, or `duplicate` of a stored one (nothing written)."""

    status: str
    name: str
    document: DocumentSummary

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "name": self.name, "document": self.document.to_json()}


@dataclass(frozen=True)
class AddReport:
    """What `add_documents` did; `generation` is None when nothing new was stored."""

    results: tuple[Added, ...]
    generation: str | None = None
    embedded: int = 0  # distinct texts embedded for the new generation
    reused: int = 0  # distinct texts whose vectors came from the previous generation

    def to_json(self) -> dict[str, Any]:
        return {
            "results": [r.to_json() for r in self.results],
            "generation": self.generation,
            "embedded": self.embedded,
            "reused": self.reused,
        }


@dataclass(frozen=True)
class RemoveReport:
    """The removed document and the generation that no longer has it."""

    document: DocumentSummary
    generation: str

    def to_json(self) -> dict[str, Any]:
        return {"status": "removed", "document": self.document.to_json(), "generation": self.generation}


@dataclass(frozen=True)
class Prepared:
    """A validated document ready to store (or a duplicate of a stored one)."""

    upload: Upload
    document: Document
    stored_name: str
    meta: dict[str, Any]
    duplicate_of: DocumentSummary | None
