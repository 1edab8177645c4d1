"""Errors the library raises with a message meant for the person who can fix the cause."""

from __future__ import annotations

from pathlib import Path


class RagError(Exception):
    """Base class: the message is one or two sentences a user can act on."""


class CorpusError(RagError):
    """A source document cannot be read or parsed; names the file and, where known, the line."""

    def __init__(self, path: Path | str, reason: str, line: int | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class IndexUnavailable(RagError):
    """The index on disk is missing, damaged or built for something else; the message names the fix."""


class IndexFormatError(IndexUnavailable):
    """The index was written in another format version (by an older or newer program)."""


class StoreUnreachable(IndexUnavailable):
    """The search backend (a Milvus server) does not answer; a server keeps trying and resumes by itself."""


class QuestionError(RagError):
    """A question or its options are invalid (empty, too long, unknown speaker…)."""


class UnknownFilter(QuestionError):
    """A speaker or document filter that names nothing in the index; carries the names that would do."""

    def __init__(self, message: str, known_speakers: tuple[str, ...] = (), known_documents: tuple[str, ...] = ()):
        super().__init__(message)
        self.known_speakers = known_speakers
        self.known_documents = known_documents


class IngestError(RagError):
    """A request the corpus cannot take as asked (the message says why and what to do)."""


class UnknownDocument(IngestError):
    """No document with that slug is in the corpus."""


class Conflict(IngestError):
    """The request conflicts with what is stored (slug in use, removing the only document)."""


class TooLarge(CorpusError):
    """A document over `RAG_MAX_DOCUMENT_BYTES`."""


class StoreBroken(IngestError):
    """A document already in the store cannot be indexed any more (edited by hand, limit lowered…)."""
