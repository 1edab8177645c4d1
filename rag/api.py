"""Read-only views of a loaded index that the CLI and the web app share (speakers, speeches)."""

from __future__ import annotations

from typing import Any

from rag.index import Index


def speaker_summaries(index: Index) -> list[dict[str, Any]]:
    """Every speaker (not the editor) with title, organisation, English forms and paragraph count."""
    rows = []
    for s in index.registry.speakers:
        if s.kind != "speaker":
            continue
        chunks = [c for c in index.chunks if c.speaker == s.name and c.organization == s.organization]
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
    doc = next((d for d in index.documents if d.slug == key), None)
    if doc is not None:
        chunks = [c for c in index.chunks if c.document == doc.slug]
        title = doc.title
    else:
        speakers = index.registry.get(key)
        if not speakers:
            return None
        names = {s.name for s in speakers}
        chunks = [c for c in index.chunks if c.speaker in names and c.kind == "speech"]
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


def document_summaries(index: Index) -> list[dict[str, Any]]:
    """Every document with title, source, date and event: what a citation of a quote names."""
    counts: dict[str, int] = {}
    speakers: dict[str, list[str]] = {}
    for c in index.chunks:
        counts[c.document] = counts.get(c.document, 0) + 1
        if c.kind == "speech" and c.speaker not in speakers.setdefault(c.document, []):
            speakers[c.document].append(c.speaker)
    return [
        {
            "slug": d.slug,
            "title": d.title,
            "subtitle": d.subtitle,
            "source": d.source,
            "source_en": d.source_en,
            "date": d.date,
            "event": dict(d.event),
            "speakers": speakers.get(d.slug, []),
            "paragraphs": counts.get(d.slug, 0),
        }
        for d in index.documents
    ]


def speech_in_context(index: Index, key: str) -> dict[str, Any] | None:
    """`speech` plus the citation fields of each document it spans (for a reader's side panel)."""
    found = speech(index, key)
    if found is None:
        return None
    wanted = set(found["documents"])
    found["document_info"] = [d for d in document_summaries(index) if d["slug"] in wanted]
    return found
