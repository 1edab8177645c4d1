"""Validation before anything is written: names, sizes, encodings, formats, metadata, slugs, duplicates.

`prepare` turns uploads into `Prepared` documents or refuses the whole batch with the reason.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.corpus import Document, DocumentInfo, build_document, corpus_files, corpus_state, load_corpus, slug_for
from rag.errors import Conflict, CorpusError, IngestError, RagError
from rag.files.sniff import check_name as check_file_name
from rag.ingest.records import NO_FIELDS, DocumentSummary, Fields, Prepared, Upload
from rag.ingest.uploads import refuse_dotdot, too_large
from rag.script import to_simplified
from rag.settings import Settings, file_limits
from rag.speakers import Speaker
from rag.textutil import has_cjk

if TYPE_CHECKING:
    from rag.index.segment import StoredDocument

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
FIELD_LIMITS = {"title": 200, "subtitle": 200, "date": 40, "source": 100, "format": 20}
CITATION_LIMITS = {"year": 4, "page": 20, "url": 2000}  # rag add --year/--page/--url, shown in citations
YEAR = re.compile(r"^\d{4}$")
URL = re.compile(r"^https?://[^\s<>\"]+$")
SPEAKER_FIELDS = ("name_en", "organization_en", "org_aliases", "org_aliases_en")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def content_hash(data: bytes) -> str:
    """Same text, same hash: BOM, line endings and trailing spaces do not count."""
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return hashlib.sha256(data).hexdigest()
    lines = [line.rstrip() for line in text.splitlines()]
    return hashlib.sha256("\n".join(lines).strip().encode("utf-8")).hexdigest()


def derive_slug(name: str, title: str) -> str:
    """A slug from the file name, or from the pinyin of a Chinese name or title."""
    stem = Path(name).name.split(".")[0]
    ascii_slug = slug_for(Path(name).with_name(stem))
    if re.search(r"[a-z]", ascii_slug) and not ascii_slug.startswith("doc-") and not has_cjk(stem):
        return _trim(ascii_slug)
    from pypinyin import lazy_pinyin

    basis = stem if has_cjk(stem) else title
    words = [re.sub(r"[^a-z0-9]+", "-", w.lower()).strip("-") for w in lazy_pinyin(basis)]
    slug = _trim("-".join(w for w in words if w))
    return slug if SLUG.match(slug) else "doc-" + hashlib.sha256(name.encode()).hexdigest()[:8]


def _trim(slug: str, limit: int = 48) -> str:
    slug = re.sub(r"-+", "-", slug).strip("-")
    if len(slug) <= limit:
        return slug
    cut = slug[:limit]
    return (cut.rsplit("-", 1)[0] if "-" in cut else cut).strip("-")


def _check_name(name: str) -> str:
    """The given name's base name; refuses `..` and control characters early."""
    base = Path(name).name
    refuse_dotdot(name)
    if not base or _CONTROL.search(name):
        raise CorpusError(name or "(no name)", "the file name is empty or has control characters")
    if base.startswith("."):
        # A hidden file has no name before its extension to make a slug of (`.hidden.md`): say so, never crash.
        raise CorpusError(name, "the file name starts with a dot (a hidden file); rename it, e.g. `hidden.md`")
    return base


def _clean_fields(name: str, meta: Mapping[str, Any], fields: Fields) -> dict[str, Any]:
    """Side metadata with the given fields on top, every document field checked."""
    if not isinstance(meta, Mapping):
        raise CorpusError(name, "metadata must be a JSON object")
    out = dict(meta)
    for key, value in (
        ("title", fields.title),
        ("date", fields.date),
        ("source", fields.source),
        ("format", fields.format),
        ("year", fields.year),
        ("page", fields.page),
        ("url", fields.url),
    ):
        if value is not None:
            out[key] = value
    for key, limit in {**FIELD_LIMITS, **CITATION_LIMITS}.items():
        value = out.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise CorpusError(name, f"`{key}` must be text")
        value = value.strip()
        if len(value) > limit or _CONTROL.search(value):
            raise CorpusError(name, f"`{key}` must be one line of at most {limit} characters")
        out[key] = value
    _check_citation_fields(name, out)
    speakers = out.get("speakers", [])
    if not isinstance(speakers, list) or not all(
        isinstance(s, dict) and isinstance(s.get("name"), str) for s in speakers
    ):
        raise CorpusError(name, "metadata `speakers` must be a list of objects with a `name`")
    slug = fields.slug if fields.slug is not None else out.get("slug")
    if slug is not None and (not isinstance(slug, str) or not SLUG.match(slug)):
        raise CorpusError(name, "the slug must be 1–64 lower-case ASCII letters, digits and inner dashes")
    out["slug"] = slug
    return out


def _check_citation_fields(name: str, out: Mapping[str, Any]) -> None:
    """`year` is four digits and `url` an http(s) address (it becomes a link on the speech page)."""
    if out.get("year") and not YEAR.match(out["year"]):
        raise CorpusError(name, "`year` must be four digits, e.g. 2024")
    if out.get("url") and not URL.match(out["url"]):
        raise CorpusError(name, "`url` must be an http:// or https:// address without spaces")


def _known_speakers(document: Document, meta: Mapping[str, Any], known: Sequence[Speaker]) -> list[dict[str, Any]]:
    """Metadata for this document's speakers that other documents already describe (same name and organisation).

    A speaker written `张冬（中国移动副总经理）` here and described as 张冬 of 中国移动通信集团有限公司 (alias
    中国移动) elsewhere is the same person: the entry carries the organisation's full name and English forms,
    so the registry merges the two. Names and organisations are compared in simplified characters, so
    劉慶峰 of 科大訊飛 is 刘庆峰 of 科大讯飞.
    """
    described = {to_simplified(str(s["name"])) for s in meta.get("speakers", [])}
    out: list[dict[str, Any]] = []
    for speaker in document.speakers:
        if speaker.kind != "person" or to_simplified(speaker.name) in described:
            continue
        matches: list[tuple[Speaker, str]] = []
        title_s, organization_s = to_simplified(speaker.title), to_simplified(speaker.organization)
        for other in known:
            if other.kind != "person" or to_simplified(other.name) != to_simplified(speaker.name):
                continue
            names = [to_simplified(n) for n in other.org_names()]
            if organization_s and organization_s in names:
                matches.append((other, speaker.title))
            elif not speaker.organization:
                prefix = next((n for n in sorted(names, key=len, reverse=True) if title_s.startswith(n)), None)
                if prefix:
                    matches.append((other, speaker.title[len(prefix) :].lstrip("，,、 ") or other.title))
        if len({m.key for m, _ in matches}) != 1:
            continue  # unknown, or ambiguous: leave the speaker as the document writes them
        other, title = matches[0]
        entry: dict[str, Any] = {"name": speaker.name, "title": title, "organization": other.organization}
        entry.update({k: list(v) if isinstance(v, tuple) else v for k in SPEAKER_FIELDS if (v := getattr(other, k))})
        if title == other.title:
            entry.update(
                {
                    k: list(v) if isinstance(v, tuple) else v
                    for k in ("title_en", "roles_en")
                    if (v := getattr(other, k))
                }
            )
        out.append(entry)
        described.add(to_simplified(speaker.name))
    return out


def check_paragraphs(name: str, document: Document, limit: int) -> None:
    """Refuse a paragraph over `limit` characters: its embedding would take the model for minutes."""
    for chunk in document.chunks:
        if len(chunk.text) > limit:
            raise CorpusError(
                name,
                f"paragraph {chunk.number} is {len(chunk.text)} characters; the limit is {limit} "
                "(RAG_MAX_PARAGRAPH_CHARS): separate its paragraphs with blank lines",
                chunk.lines[0] if chunk.lines else None,
            )


def summary(document: Document) -> DocumentSummary:
    info = document.info
    return DocumentSummary(
        slug=info.slug,
        title=info.title,
        date=info.date,
        source=info.source,
        format=info.format,
        file=info.file,
        file_type=info.file_type,
        encoding=info.encoding,
        speakers=tuple(s.name for s in document.speakers if s.kind == "person"),
        paragraphs=sum(1 for c in document.chunks if c.persons()),
        editor_note=sum(1 for c in document.chunks if c.kind == "editor_note"),
        narrative=sum(1 for c in document.chunks if c.kind == "narrative" and not c.persons()),
        questions=sum(1 for c in document.chunks if c.kind == "question"),
        notes=document.notes,
    )


@dataclass(frozen=True)
class KnownDocument:
    """A document in the store, as validation needs it: its fields, speakers and listing."""

    info: DocumentInfo
    speakers: tuple[Speaker, ...]
    summary: DocumentSummary


def summary_from_json(data: dict[str, Any]) -> DocumentSummary:
    return DocumentSummary(**{**data, "speakers": tuple(data["speakers"]), "notes": tuple(data["notes"])})


def stored_documents(
    corpus_dir: Path, index_dir: Path | None = None
) -> tuple[list[KnownDocument], dict[str, DocumentSummary], set[str]]:
    """Documents in the store, a content hash → summary map, and every name stem in use.

    With `index_dir`: when the serving generation holds exactly the store's files (same fingerprints), they
    are taken from its segments instead of parsing the whole store (an archive's add costs the page, not the archive).
    """
    if not corpus_dir.is_dir():
        return [], {}, set()
    files = corpus_files(corpus_dir)
    stems = {p.name.split(".")[0] for p in corpus_dir.iterdir()}
    indexed = _indexed_documents(corpus_dir, index_dir) if index_dir is not None and files else None
    if indexed is not None:
        known = [KnownDocument(d.info, d.speakers, summary_from_json(d.summary)) for d in indexed]
        return known, {d.content_hash: k.summary for d, k in zip(indexed, known, strict=True)}, stems
    documents = load_corpus(corpus_dir) if files else []
    by_file = {d.info.file: d for d in documents}
    hashes = {content_hash(p.read_bytes()): summary(by_file[p.name]) for p in files if p.name in by_file}
    return [KnownDocument(d.info, tuple(d.speakers), summary(d)) for d in documents], hashes, stems


def _indexed_documents(corpus_dir: Path, index_dir: Path) -> list[StoredDocument] | None:
    """The serving generation's documents when they are the store's files exactly; else None."""
    from rag.index.generations import current_generation, read_manifest
    from rag.index.sync import read_live_segments

    name = current_generation(index_dir)
    if name is None:
        return None
    try:
        manifest = read_manifest(index_dir / name)
        if not manifest.segments:
            return None
        documents = [d for s in read_live_segments(index_dir, manifest) for d in s.live_documents]
    except (RagError, OSError, ValueError, KeyError, TypeError):
        return None
    _, fingerprints = corpus_state(corpus_dir)
    if {d.info.file: d.fingerprint for d in documents} != fingerprints:
        return None
    if any(not d.summary or not d.content_hash for d in documents):
        return None
    return documents


def prepare(settings: Settings, uploads: Sequence[Upload], fields: Fields = NO_FIELDS) -> list[Prepared]:
    """Validate every upload against the store; raises on the first refusal, writes nothing."""
    if len(uploads) > 1 and (fields.slug or fields.title):
        raise IngestError("--slug and --title name one document: give them with a single file")
    documents, hashes, stems = stored_documents(settings.corpus_dir, settings.index_dir)
    slugs = {d.info.slug for d in documents} | stems
    known = [s for d in documents for s in d.speakers]
    out: list[Prepared] = []
    for upload in uploads:
        name = _check_name(upload.name)
        if len(upload.data) > settings.max_document_bytes:
            raise too_large(upload.name, len(upload.data), settings.max_document_bytes)
        check_file_name(upload.name, upload.data)  # what the bytes are, and that the name says the same
        meta = _clean_fields(upload.name, upload.meta, fields)
        limits = file_limits(settings)
        parsed = build_document(Path(upload.name), upload.data, {k: v for k, v in meta.items() if k != "slug"}, limits)
        check_paragraphs(upload.name, parsed, settings.max_paragraph_chars)
        digest = content_hash(upload.data)
        if digest in hashes:
            out.append(Prepared(upload, parsed, "", meta, duplicate_of=hashes[digest]))
            continue
        slug = meta["slug"]
        if slug is not None and slug in slugs:
            raise Conflict(f"{upload.name}: the slug `{slug}` is already in use; choose another or remove that one")
        if slug is None:
            base = derive_slug(name, parsed.info.title)
            slug = next(s for s in (base, *(f"{base}-{i}" for i in range(2, 10_000))) if s not in slugs)
        suffix = Path(name).suffix.lower()
        stored_name = f"{slug}{'.md' if suffix == '.markdown' else suffix}"
        meta = {k: v for k, v in meta.items() if v not in (None, "", [])}
        meta.update(slug=slug, format=parsed.info.format, original_name=name)
        meta["added_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        extra = _known_speakers(parsed, meta, known)
        if extra:
            meta["speakers"] = [*meta.get("speakers", []), *extra]
        document = build_document(Path(stored_name), upload.data, meta, limits)
        out.append(Prepared(upload, document, stored_name, meta, duplicate_of=None))
        slugs.add(slug)
        hashes[digest] = summary(document)
        known.extend(document.speakers)
    return out
