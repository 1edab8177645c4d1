"""The corpus: documents of speeches, one chunk per speaker paragraph, with metadata merged in."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rag.errors import CorpusError
from rag.parsers import parse_source, source_suffixes
from rag.parsers.records import ParsedParagraph
from rag.speakers import EDITOR, EDITOR_EN, Speaker, SpeakerFields
from rag.textutil import join_layout_lines
from rag.vocabulary import ParagraphKind

META_SUFFIX = ".meta.json"
PARAGRAPH_SEPARATOR = "\n\n"
_ORG_SPLIT = re.compile(
    r"^(?P<org>.+?(?:集团)?(?:股份)?(?:有限)?(?:责任)?公司|.+?集团|.+?大学|.+?研究院)(?P<title>.+)$"
)


@dataclass(frozen=True, slots=True)
class Chunk(SpeakerFields):
    """One speaker paragraph: the unit of retrieval and the only source of quotes."""

    id: str
    document: str
    number: int
    kind: ParagraphKind
    text: str
    start: int  # offset of the paragraph in its speech's text
    end: int
    lines: tuple[int, ...]  # source line numbers the paragraph joins

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        return cls(**{**data, "lines": tuple(data["lines"])})


@dataclass(frozen=True)
class DocumentInfo:
    """A document's descriptive fields (no text)."""

    slug: str
    title: str
    subtitle: str
    source: str
    date: str
    event: dict[str, str]
    file: str
    sha256: str
    format: str
    source_en: str = ""  # the source's English name (from the .meta.json), for English citations

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Document:
    """A parsed, attributed document: its info, speakers, chunks and the decoded source text."""

    info: DocumentInfo
    speakers: tuple[Speaker, ...]
    chunks: tuple[Chunk, ...]
    source_text: str


def slug_for(path: Path) -> str:
    """A document slug from its file name: lower-case ASCII letters, digits and dashes."""
    stem = path.name.split(".")[0]
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    return slug or "doc-" + hashlib.sha256(path.name.encode()).hexdigest()[:8]


def split_title(raw_title: str) -> tuple[str, str]:
    """Split `机构职务` into (organisation, title) when metadata does not say; best effort."""
    m = _ORG_SPLIT.match(raw_title)
    if m and m.group("title"):
        return m.group("org"), m.group("title")
    return "", raw_title


def _speaker_from_meta(name: str, raw_title: str, organization: str, meta: dict[str, Any]) -> Speaker:
    known = {s["name"]: s for s in meta.get("speakers", [])}.get(name)
    if known:
        return Speaker(
            name=name,
            title=known.get("title", raw_title),
            organization=known.get("organization", organization),
            name_en=known.get("name_en", ""),
            title_en=known.get("title_en", ""),
            organization_en=known.get("organization_en", ""),
            org_aliases=tuple(known.get("org_aliases", ())),
            org_aliases_en=tuple(known.get("org_aliases_en", ())),
            roles_en=tuple(known.get("roles_en", ())),
        )
    if organization:
        return Speaker(name=name, title=raw_title, organization=organization)
    org, title = split_title(raw_title)
    return Speaker(name=name, title=title, organization=org)


def build_document(path: Path, data: bytes, meta: dict[str, Any] | None = None) -> Document:
    """Parse a source file and merge its metadata into attributed chunks."""
    meta = meta or {}
    text, parsed = parse_source(path, data)
    slug = str(meta.get("slug") or slug_for(path))
    source = str(meta.get("source") or parsed.source)
    info = DocumentInfo(
        slug=slug,
        title=str(meta.get("title") or parsed.title or slug),
        subtitle=str(meta.get("subtitle") or parsed.subtitle),
        source=source,
        date=str(meta.get("date") or parsed.date),
        event={k: str(v) for k, v in (meta.get("event") or {}).items()},
        file=path.name,
        sha256=hashlib.sha256(data).hexdigest(),
        format=parsed.format,
        source_en=str(meta.get("source_en") or ""),
    )
    editor = Speaker(name=EDITOR, name_en=EDITOR_EN, organization=source, kind="document")
    speakers: list[Speaker] = []
    chunks: list[Chunk] = []
    number = 0

    def add_speech(
        speaker: Speaker, kind: ParagraphKind, headline: str, paragraphs: tuple[ParsedParagraph, ...]
    ) -> None:
        nonlocal number
        offset = 0
        for para in paragraphs:
            number += 1
            chunks.append(
                Chunk(
                    id=f"{slug}-p{number}",
                    document=slug,
                    number=number,
                    kind=kind,
                    speaker=speaker.name,
                    title=speaker.title,
                    organization=speaker.organization,
                    speaker_en=speaker.name_en,
                    organization_en=speaker.organization_en,
                    title_en=speaker.title_en,
                    headline=headline,
                    text=para.text,
                    start=offset,
                    end=offset + len(para.text),
                    lines=para.lines,
                )
            )
            offset += len(para.text) + len(PARAGRAPH_SEPARATOR)

    for section in parsed.sections:
        if section.kind == "editor_note":
            speakers.append(editor)
            add_speech(editor, "editor_note", "", section.paragraphs)
            continue
        person = parsed.person(section.speaker)
        if person is None:
            raise CorpusError(path, f"section by {section.speaker} names nobody the document introduces", section.line)
        speaker = _speaker_from_meta(person.name, person.title, person.organization, meta)
        speakers.append(speaker)
        add_speech(speaker, "speech", section.headline, section.paragraphs)
    if not any(c.kind == "speech" for c in chunks):
        raise CorpusError(path, "no speaker paragraph found")
    return Document(info=info, speakers=tuple(dict.fromkeys(speakers)), chunks=tuple(chunks), source_text=text)


def paragraph_from_source(source_text: str, lines: tuple[int, ...]) -> str:
    """Rebuild a paragraph from the source lines it joins (used to verify chunks against the source)."""
    all_lines = source_text.splitlines()
    parts = [all_lines[n - 1].strip() for n in lines if 0 < n <= len(all_lines)]
    return join_layout_lines(parts)


def read_meta(path: Path) -> dict[str, Any]:
    """The metadata file beside a source file (`name.meta.json`), or {} when there is none."""
    meta_path = path.with_name(path.name.split(".")[0] + META_SUFFIX)
    if not meta_path.exists():
        return {}
    try:
        data = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusError(meta_path, f"metadata is not valid UTF-8 JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CorpusError(meta_path, "metadata must be a JSON object")
    return data


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Source files in the corpus folder, sorted by name (metadata files excluded)."""
    if not corpus_dir.is_dir():
        raise CorpusError(corpus_dir, "corpus folder not found (set RAG_CORPUS_DIR or create it)")
    suffixes = source_suffixes()
    return sorted(
        p
        for p in corpus_dir.iterdir()
        if p.is_file() and p.suffix.lower() in suffixes and not p.name.endswith(META_SUFFIX)
    )


def corpus_hash(corpus_dir: Path) -> str:
    """sha256 over every source and metadata file's name and bytes: changes when the corpus changes."""
    digest = hashlib.sha256()
    for p in corpus_files(corpus_dir):
        digest.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
        meta = p.with_name(p.name.split(".")[0] + META_SUFFIX)
        if meta.exists():
            digest.update(meta.name.encode() + b"\0" + meta.read_bytes() + b"\0")
    return digest.hexdigest()


def load_corpus(corpus_dir: Path, max_bytes: int | None = None) -> list[Document]:
    """Parse every document in the corpus folder; slugs must be unique."""
    docs: list[Document] = []
    seen: dict[str, str] = {}
    files = corpus_files(corpus_dir)
    if not files:
        raise CorpusError(corpus_dir, "the corpus folder has no source documents")
    for path in files:
        data = path.read_bytes()
        if max_bytes is not None and len(data) > max_bytes:
            raise CorpusError(
                path, f"the file is {len(data)} bytes, over the limit of {max_bytes} (RAG_MAX_DOCUMENT_BYTES)"
            )
        doc = build_document(path, data, read_meta(path))
        if doc.info.slug in seen:
            raise CorpusError(path, f"document slug `{doc.info.slug}` is also used by {seen[doc.info.slug]}")
        seen[doc.info.slug] = path.name
        docs.append(doc)
    return docs
