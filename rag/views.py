"""Read-only views of a loaded index that the CLI and the web app share (speakers, speeches)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np

from rag.corpus import Chunk, DocumentInfo
from rag.index.load import Index


def _rows(index: Index, rows_by: dict[str, np.ndarray], key: str) -> list[Chunk]:
    """The paragraphs filed under `key` (a speaker or document), in index order, without scanning them all."""
    return [index.chunks[int(row)] for row in rows_by.get(key, ())]


def speaker_summaries(index: Index) -> list[dict[str, Any]]:
    """Every speaker (not the editor) with title, organisation, English forms and paragraph count."""
    rows = []
    for s in index.registry.speakers:
        if s.kind != "person":
            continue
        chunks = [c for c in _rows(index, index.rows_by_speaker, s.name) if c.organization == s.organization]
        rows.append(
            {
                "name": s.name,
                "title": s.title,
                "organization": s.organization,
                "name_en": s.name_en,
                "title_en": s.title_en,
                "organization_en": s.organization_en,
                "aliases": list(s.org_names()),
                "documents": sorted({c.document for c in chunks}),
                "paragraphs": len(chunks),
            }
        )
    return rows


def speech(index: Index, key: str) -> dict[str, Any] | None:
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
    first = chunks[0]
    return {
        "key": key,
        "title": title,
        "speaker": first.speaker if doc is None else None,
        "speaker_en": first.speaker_en if doc is None else None,
        "organization": first.organization if doc is None else None,
        "organization_en": first.organization_en if doc is None else None,
        "speaker_title": first.title if doc is None else None,
        "documents": sorted({c.document for c in chunks}),
        "paragraphs": [
            {
                "id": c.id,
                "number": c.number,
                "document": c.document,
                "speaker": c.speaker,
                "title": c.title,
                "organization": c.organization,
                "headline": c.headline,
                "kind": c.kind,
                "text": c.text,
            }
            for c in chunks
        ],
    }


def document_ref(d: DocumentInfo) -> dict[str, Any]:
    """What a citation of a quote names: the document's title, source (and its English name) and date."""
    return {
        "slug": d.slug,
        "title": d.title,
        "subtitle": d.subtitle,
        "source": d.source,
        "source_en": d.source_en,
        "date": d.date,
    }


def document_summaries(index: Index, slugs: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Documents (all, or those in `slugs`) with their citation fields, event, speakers and paragraph count."""
    out = []
    for d in index.documents:
        if slugs is not None and d.slug not in slugs:
            continue
        chunks = _rows(index, index.rows_by_document, d.slug)
        speakers = list(dict.fromkeys(c.speaker for c in chunks if c.kind == "speech"))
        out.append({**document_ref(d), "event": dict(d.event), "speakers": speakers, "paragraphs": len(chunks)})
    return out


def speech_in_context(index: Index, key: str) -> dict[str, Any] | None:
    """`speech` plus the citation fields of each document it spans (for a reader's side panel)."""
    found = speech(index, key)
    if found is None:
        return None
    wanted = set(found["documents"])
    found["document_info"] = document_summaries(index, wanted)
    return found
