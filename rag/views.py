"""Read-only views of a loaded index that the CLI and the web app share: speakers, documents, whole speeches.

Each view is a record; the HTTP API's response schemas are these records themselves.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rag.corpus import Chunk, DocumentInfo
from rag.index.load import Index
from rag.vocabulary import ParagraphKind


@dataclass(frozen=True)
class SpeakerSummary:
    """A speaker (not the editor) with title, organisation, English forms, aliases, documents, paragraph count."""

    name: str
    title: str
    organization: str
    name_en: str
    title_en: str
    organization_en: str
    aliases: list[str]
    documents: list[str]
    paragraphs: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DocumentRef:
    """What a citation of a quote names: the document's title, source (and its English name) and date."""

    slug: str
    title: str
    subtitle: str
    source: str
    source_en: str  # the source's English name; empty when the metadata gives none
    date: str

    @classmethod
    def of(cls, d: DocumentInfo) -> DocumentRef:
        return cls(d.slug, d.title, d.subtitle, d.source, d.source_en, d.date)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DocumentView(DocumentRef):
    """A document's citation fields with its event, speakers and paragraph count."""

    event: dict[str, str] = field(default_factory=dict)
    speakers: list[str] = field(default_factory=list)
    paragraphs: int = 0


@dataclass(frozen=True)
class ParagraphView:
    """One paragraph of a speech or document, with the id a quote cites."""

    id: str
    number: int
    document: str
    speaker: str
    title: str
    organization: str
    headline: str
    kind: ParagraphKind
    text: str

    @classmethod
    def of(cls, c: Chunk) -> ParagraphView:
        return cls(c.id, c.number, c.document, c.speaker, c.title, c.organization, c.headline, c.kind, c.text)


@dataclass(frozen=True)
class SpeechView:
    """A speaker's whole speech (or a whole document), paragraphs in order with their ids."""

    key: str
    title: str
    speaker: str | None
    speaker_en: str | None
    organization: str | None
    organization_en: str | None
    speaker_title: str | None
    documents: list[str]
    paragraphs: list[ParagraphView]
    document_info: list[DocumentView] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _rows(index: Index, rows_by: dict[str, np.ndarray], key: str) -> list[Chunk]:
    """The paragraphs filed under `key` (a speaker or document), in index order, without scanning them all."""
    return [index.chunks[int(row)] for row in rows_by.get(key, ())]


def speaker_summaries(index: Index) -> list[SpeakerSummary]:
    """Every speaker (not the editor) with title, organisation, English forms and paragraph count."""
    rows = []
    for s in index.registry.speakers:
        if s.kind != "person":
            continue
        chunks = [c for c in _rows(index, index.rows_by_speaker, s.name) if c.organization == s.organization]
        rows.append(
            SpeakerSummary(
                name=s.name,
                title=s.title,
                organization=s.organization,
                name_en=s.name_en,
                title_en=s.title_en,
                organization_en=s.organization_en,
                aliases=list(s.org_names()),
                documents=sorted({c.document for c in chunks}),
                paragraphs=len(chunks),
            )
        )
    return rows


def speech(index: Index, key: str) -> SpeechView | None:
    """A full speech by speaker name/alias, or a whole document by slug; None when nothing matches."""
    key = key.strip()
    doc = index.document(key)
    if doc is not None:
        chunks = _rows(index, index.rows_by_document, doc.slug)
        title = doc.title
    else:
        speakers = index.registry.get(key)
        if not speakers:
            return None
        rows = sorted({int(r) for s in speakers for r in index.rows_by_speaker.get(s.name, ())})
        chunks = [c for c in (index.chunks[r] for r in rows) if c.kind == "speech"]
        title = chunks[0].headline if chunks else ""
    if not chunks:
        return None
    first = chunks[0] if doc is None else None
    return SpeechView(
        key=key,
        title=title,
        speaker=first.speaker if first else None,
        speaker_en=first.speaker_en if first else None,
        organization=first.organization if first else None,
        organization_en=first.organization_en if first else None,
        speaker_title=first.title if first else None,
        documents=sorted({c.document for c in chunks}),
        paragraphs=[ParagraphView.of(c) for c in chunks],
    )


def document_summaries(index: Index, slugs: Collection[str] | None = None) -> list[DocumentView]:
    """Documents (all, or those in `slugs`) with their citation fields, event, speakers and paragraph count."""
    out = []
    for d in index.documents:
        if slugs is not None and d.slug not in slugs:
            continue
        chunks = _rows(index, index.rows_by_document, d.slug)
        speakers = list(dict.fromkeys(c.speaker for c in chunks if c.kind == "speech"))
        out.append(
            DocumentView(**asdict(DocumentRef.of(d)), event=dict(d.event), speakers=speakers, paragraphs=len(chunks))
        )
    return out


def speech_in_context(index: Index, key: str) -> SpeechView | None:
    """`speech` plus the citation fields of each document it spans (for a reader's side panel)."""
    found = speech(index, key)
    if found is None:
        return None
    return SpeechView(**{**found.__dict__, "document_info": document_summaries(index, set(found.documents))})
