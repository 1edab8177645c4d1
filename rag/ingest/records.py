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
    paragraphs: int  # speaker paragraphs
    editor_note: int  # editor's-note paragraphs

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "speakers": list(self.speakers)}


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
