"""Read-only views of a loaded index that the CLI and the web app share: speakers, documents, whole speeches.

Each view is a record; the HTTP API's response schemas are these records themselves.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rag.corpus import Chunk, DocumentInfo, Segment
from rag.index.load import Index
from rag.speakers import Speaker, SpeakerFields
from rag.vocabulary import Attribution, ParagraphKind


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
    year: str = ""  # year of publication, newspaper page (版次) and address, when the metadata gives them
    page: str = ""
    url: str = ""

    @classmethod
    def of(cls, d: DocumentInfo) -> DocumentRef:
        return cls(d.slug, d.title, d.subtitle, d.source, d.source_en, d.date, d.year, d.page, d.url)

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
    attribution: Attribution | None = "direct"  # how the paragraph's own voice is the speaker's (None: the document's)
    body_start: int = 0  # the words begin here (after a printed label such as `记者：`)
    segments: list[Segment] = field(default_factory=list)  # narrative paragraphs: the words that are a person's
    question: str = ""  # an answer: the id of the question it answers

    @classmethod
    def of(cls, c: Chunk) -> ParagraphView:
        return cls(
            c.id,
            c.number,
            c.document,
            c.speaker,
            c.title,
            c.organization,
            c.headline,
            c.kind,
            c.text,
            c.attribution,
            c.body_start,
            list(c.segments),
            c.question,
        )


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
    total_paragraphs: int = 0  # the whole speech's paragraphs; `paragraphs` is the page from `offset`
    offset: int = 0
    next_offset: int | None = None  # where the next page starts (None: this page is the last)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _rows(index: Index, rows: np.ndarray | tuple[int, ...]) -> list[Chunk]:
    """The paragraphs at `rows`, in index order (the rows filed under a speaker or document: no full scan)."""
    return [index.chunks[int(row)] for row in rows]


def speaks_in(chunk: Chunk, speaker: Speaker) -> bool:
    """True when the paragraph holds words of this person (its own voice, or one of its segments)."""

    def same(fields: SpeakerFields) -> bool:
        return Speaker(fields.speaker, organization=fields.organization).key == speaker.key

    # A document's own voice (编者按, a report's narrative) speaks in the paragraphs that are its own text.
    own = chunk.own_voice_is_a_person or speaker.kind == "document"
    return (own and same(chunk)) or any(same(s) for s in chunk.segments)


def paragraphs_of(index: Index, speaker: Speaker) -> list[Chunk]:
    return [c for c in _rows(index, index.speaker_rows(speaker.name)) if speaks_in(c, speaker)]


def speaker_summaries(index: Index) -> list[SpeakerSummary]:
    """Every speaker (not the editor) with title, organisation, English forms and paragraph count."""
    rows = []
    for s in index.registry.speakers:
        if s.kind != "person":
            continue
        chunks = paragraphs_of(index, s)
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


def speech(index: Index, key: str, offset: int = 0, limit: int | None = None) -> SpeechView | None:
    """A full speech by speaker name/alias, or a whole document by slug (its paragraphs from `offset`, at
    most `limit` of them); None when nothing matches."""
    key = key.strip()
    doc = index.document(key)
    if doc is not None:
        chunks = _rows(index, index.rows_by_document.get(doc.slug, ()))
        title = doc.title
    else:
        speakers = index.registry.get(key)
        if not speakers:
            return None
        rows = sorted({row for s in speakers for row, _ in _indexed(index, s)})
        chunks = [index.chunks[r] for r in rows]
        title = chunks[0].headline if chunks else ""
    if not chunks:
        return None
    person = speakers[0] if doc is None else None
    total = len(chunks)
    end = total if limit is None else min(total, offset + limit)
    return SpeechView(
        key=key,
        title=title,
        speaker=person.name if person else None,
        speaker_en=person.name_en if person else None,
        organization=person.organization if person else None,
        organization_en=person.organization_en if person else None,
        speaker_title=person.title if person else None,
        documents=sorted({c.document for c in chunks}),
        paragraphs=[ParagraphView.of(c) for c in chunks[offset:end]],
        total_paragraphs=total,
        offset=offset,
        next_offset=end if end < total else None,
    )


def _indexed(index: Index, speaker: Speaker) -> list[tuple[int, Chunk]]:
    rows = index.speaker_rows(speaker.name)
    return [(int(r), index.chunks[int(r)]) for r in rows if speaks_in(index.chunks[int(r)], speaker)]


def document_summaries(index: Index, slugs: Collection[str] | None = None) -> list[DocumentView]:
    """Documents (all, or those in `slugs`) with their citation fields, event, speakers and paragraph count."""
    out = []
    for d in index.documents:
        if slugs is not None and d.slug not in slugs:
            continue
        chunks = _rows(index, index.rows_by_document.get(d.slug, ()))
        speakers = list(dict.fromkeys(name for c in chunks for name in c.persons()))
        out.append(
            DocumentView(**asdict(DocumentRef.of(d)), event=dict(d.event), speakers=speakers, paragraphs=len(chunks))
        )
    return out


def speech_in_context(index: Index, key: str, offset: int = 0, limit: int | None = None) -> SpeechView | None:
    """`speech` plus the citation fields of each document it spans (for a reader's side panel)."""
    found = speech(index, key, offset, limit)
    if found is None:
        return None
    return SpeechView(**{**found.__dict__, "document_info": document_summaries(index, set(found.documents))})
