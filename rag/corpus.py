"""The corpus: documents of speeches, one chunk per speaker paragraph, with metadata merged in."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rag.errors import CorpusError
from rag.files import FileLimits
from rag.parsers import TEXT_FORMATS, read_source, source_suffixes
from rag.parsers.records import ParsedDocument, ParsedPerson, ParsedSection, ParsedSegment
from rag.parsers.titles import split_organization
from rag.script import to_simplified
from rag.speakers import COMPANY_FORM, EDITOR, EDITOR_EN, NARRATOR, NARRATOR_EN, Speaker, SpeakerFields
from rag.textutil import has_cjk, join_layout_lines, split_sentences
from rag.vocabulary import Attribution, ParagraphKind

META_SUFFIX = ".meta.json"
PARAGRAPH_SEPARATOR = "\n\n"


@dataclass(frozen=True, slots=True)
class Segment(SpeakerFields):
    """Words inside a narrative paragraph that are one person's: `text[start:end]` of their chunk.

    `direct`: the person's own words inside quotation marks (the marks excluded); `reported`: the writer's
    account of what they said, the whole sentence including `某某表示，`.
    """

    start: int
    end: int
    attribution: Attribution


@dataclass(frozen=True, slots=True)
class Chunk(SpeakerFields):
    """One paragraph: the unit of retrieval and the only source of quotes.

    Its speaker fields name the paragraph's own voice: the speaker of a speech or an answer (their words,
    `attribution` direct), the asker of a question, or the document itself (editor's note, a report's
    narrative: `attribution` None). A narrative paragraph's `segments` are the words in it that are a
    person's, quoted (`direct`) or reported. Nothing before `body_start` (a printed label such as `记者：`)
    is anyone's words.
    """

    id: str
    document: str
    number: int
    kind: ParagraphKind
    text: str
    start: int  # offset of the paragraph in its speech's text
    end: int
    lines: tuple[int, ...]  # source line numbers the paragraph joins
    attribution: Attribution | None = "direct"
    body_start: int = 0
    segments: tuple[Segment, ...] = ()
    question: str = ""  # an answer's question: that paragraph's id
    pages: tuple[int, ...] = ()  # a PDF's page of each of `lines`

    def regions(self) -> list[tuple[int, int, Segment | None]]:
        """The paragraph's words in order, each span with its voice: a segment, or None for the paragraph's own."""
        out: list[tuple[int, int, Segment | None]] = []
        at = self.body_start
        for seg in sorted(self.segments, key=lambda s: s.start):
            if seg.start > at:
                out.append((at, seg.start, None))
            out.append((seg.start, seg.end, seg))
            at = max(at, seg.end)
        if at < len(self.text):
            out.append((at, len(self.text), None))
        return [(s, e, v) for s, e, v in out if self.text[s:e].strip()]

    def units(self) -> list[tuple[int, int]]:
        """The sentences an excerpt is made of: each region's sentences, never across a change of voice."""
        out = []
        for start, end, _ in self.regions():
            for s, e in split_sentences(self.text[start:end]):
                if any(ch.isalnum() for ch in self.text[start + s : start + e]):
                    out.append((start + s, start + e))
        return out

    def voice_at(self, start: int, end: int) -> Segment | None:
        """The segment that holds `text[start:end]`, or None when those words are the paragraph's own voice."""
        return next((s for s in self.segments if s.start <= start and end <= s.end), None)

    @property
    def own_voice_is_a_person(self) -> bool:
        return self.kind in ("speech", "answer")

    def persons(self) -> tuple[str, ...]:
        """Everyone whose words this paragraph holds: its speaker (speech, answer) and its segments' speakers."""
        names = [self.speaker] if self.own_voice_is_a_person else []
        return tuple(dict.fromkeys([*names, *(s.speaker for s in self.segments)]))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        return cls(
            **{
                **data,
                "lines": tuple(data["lines"]),
                "segments": tuple(Segment(**s) for s in data.get("segments", ())),
                "pages": tuple(data.get("pages", ())),
            }
        )


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
    file_type: str = "text"  # text | markdown | jsonl | html | docx | pdf
    encoding: str = "utf-8"  # how a text file's bytes were decoded ("" for Word and PDF files)
    year: str = ""  # citation fields, from `rag add --year/--page/--url`, the .meta.json or the front matter;
    page: str = ""  # empty when nothing says them (never guessed)
    url: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Document:
    """A parsed, attributed document: its info, speakers, chunks and the decoded source text."""

    info: DocumentInfo
    speakers: tuple[Speaker, ...]
    chunks: tuple[Chunk, ...]
    source_text: str
    notes: tuple[str, ...] = ()  # what the parser could not attribute, and other facts for the ingestion report


def slug_for(path: Path) -> str:
    """A document slug from its file name: lower-case ASCII letters, digits and dashes."""
    stem = path.name.split(".")[0]
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    return slug or "doc-" + hashlib.sha256(path.name.encode()).hexdigest()[:8]


def split_title(raw_title: str) -> tuple[str, str]:
    """Split `机构职务` into (organisation, title) when metadata does not say (rag.parsers.titles)."""
    raw = raw_title.strip()
    organization, title = split_organization(to_simplified(raw))
    return (raw[: len(organization)], raw[len(raw) - len(title) :]) if organization else ("", raw_title)


def _speaker_from_meta(person: ParsedPerson, meta: dict[str, Any]) -> Speaker:
    """A person as the document introduces them, with what its metadata says of them (name in either script),
    and their name in pinyin when the metadata gives no English name."""
    speaker = _described(person, meta)
    if not speaker.organization_en and has_cjk(speaker.organization):
        speaker = replace(speaker, org_pinyin=organization_in_pinyin(speaker.organization))
    if speaker.name_en or not has_cjk(speaker.name):
        return speaker
    return replace(speaker, name_pinyin=name_in_pinyin(speaker.name))


def name_in_pinyin(name: str) -> str:
    """吴秀兰 → Wu Xiulan, 欧阳明 → Ouyang Ming, 劉慶峰 → Liu Qingfeng (a foreign name is left alone)."""
    from pypinyin import lazy_pinyin

    from rag.parsers.lexicon import surname_of

    simplified = to_simplified(name)
    surname = surname_of(simplified)
    if not surname or "·" in name:
        return ""
    given = simplified[len(surname) :]
    return f"{''.join(lazy_pinyin(surname)).capitalize()} {''.join(lazy_pinyin(given)).capitalize()}".strip()


# The kinds of organisation an English question names after a place (Nanling University, the Qingyu Museum).
ORG_KINDS_EN: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("大学", ("University",)),
    ("学院", ("College", "Institute")),
    ("博物院", ("Museum",)),
    ("博物馆", ("Museum",)),
    ("图书馆", ("Library",)),
    ("美术馆", ("Art Museum", "Gallery")),
    ("研究院", ("Institute", "Academy")),
    ("医院", ("Hospital",)),
    ("集团", ("Group",)),
    ("公司", ("Company",)),
)


def organization_in_pinyin(organization: str) -> tuple[str, ...]:
    """青屿博物院 → Qingyu Museum; 南岭理工大学 → Nanling University, Nanling Ligong University: the place or name
    before the kind of organisation in pinyin, then the kind in English. Other organisations give nothing."""
    from pypinyin import lazy_pinyin

    simplified = COMPANY_FORM.sub("公司", to_simplified(organization))
    for suffix, kinds in ORG_KINDS_EN:
        head = simplified.removesuffix(suffix)
        if head == simplified or len(head) < 2 or not all(has_cjk(ch) for ch in head):
            continue
        heads = dict.fromkeys([head[:2], head])
        return tuple(
            f"{' '.join(''.join(lazy_pinyin(h[i : i + 2])).capitalize() for i in range(0, len(h), 2))} {kind}"
            for h in heads
            for kind in kinds
        )
    return ()


def _described(person: ParsedPerson, meta: dict[str, Any]) -> Speaker:
    name, raw_title, organization = person.name, person.title, person.organization
    wanted = to_simplified(name)
    known = next((s for s in meta.get("speakers", []) if to_simplified(str(s.get("name", ""))) == wanted), None)
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


def build_document(
    path: Path, data: bytes, meta: dict[str, Any] | None = None, limits: FileLimits | None = None
) -> Document:
    """Read a document file, parse it, and merge its metadata into attributed chunks.

    A stored document is read again in the text format it was added with (`format` in its metadata), so a
    later change to format detection never re-reads a stored document differently.
    """
    meta = meta or {}
    stored_format = meta.get("format") if meta.get("format") in TEXT_FORMATS else None
    source = read_source(path, data, str(stored_format) if stored_format else None, limits)
    text, parsed, decoded = source.text, source.parsed, source.file
    slug = str(meta.get("slug") or slug_for(path))
    info = DocumentInfo(
        slug=slug,
        title=str(meta.get("title") or parsed.title or decoded.title or slug),
        subtitle=str(meta.get("subtitle") or parsed.subtitle),
        source=str(meta.get("source") or parsed.source or decoded.source),
        date=str(meta.get("date") or parsed.date or decoded.date),
        event={k: str(v) for k, v in (meta.get("event") or {}).items()},
        file=path.name,
        sha256=hashlib.sha256(data).hexdigest(),
        format=parsed.format,
        source_en=str(meta.get("source_en") or ""),
        file_type=decoded.file_type,
        encoding=decoded.encoding,
        year=str(meta.get("year") or parsed.year),
        page=str(meta.get("page") or parsed.page),
        url=_web_address(path, str(meta.get("url") or parsed.url)),
    )
    builder = _ChunkBuilder(path, slug, parsed, meta, info.source, decoded.line_pages)
    for position, section in enumerate(parsed.sections):
        builder.add(position, section)
    if not any(c.persons() for c in builder.chunks):
        raise CorpusError(path, "no paragraph is attributed to a speaker")
    return Document(
        info=info,
        speakers=tuple(dict.fromkeys(builder.speakers)),
        chunks=tuple(builder.chunks),
        source_text=text,
        notes=(*decoded.notes, *parsed.notes),
    )


def _web_address(path: Path, url: str) -> str:
    """A document's `url` is shown as a link: only http(s) addresses are accepted."""
    if url and not re.match(r"^https?://[^\s<>\"]+$", url):
        raise CorpusError(path, "`url` must be an http:// or https:// address without spaces")
    return url


class _ChunkBuilder:
    """Turns a parsed document's sections into chunks, numbering paragraphs and naming each one's voice."""

    def __init__(
        self,
        path: Path,
        slug: str,
        parsed: ParsedDocument,
        meta: dict[str, Any],
        source: str,
        line_pages: tuple[int, ...] = (),
    ) -> None:
        self.path, self.slug, self.parsed, self.line_pages = path, slug, parsed, line_pages
        self.people = {p.name: _speaker_from_meta(p, meta) for p in parsed.people}
        self.editor = Speaker(name=EDITOR, name_en=EDITOR_EN, organization=source, kind="document")
        self.narrator = Speaker(name=NARRATOR, name_en=NARRATOR_EN, organization=source, kind="document")
        self.chunks: list[Chunk] = []
        self.speakers: list[Speaker] = []
        self.first_chunk: dict[int, str] = {}  # section position -> id of its first paragraph

    def voice(self, section: ParsedSection) -> tuple[Speaker, Attribution | None]:
        if section.kind == "editor_note":
            return self.editor, None
        if section.kind == "narrative":
            return self.narrator, None
        if section.kind == "question":
            return Speaker(name=section.speaker or "问", kind="document"), "direct"
        speaker = self.people.get(section.speaker)
        if speaker is None:
            raise CorpusError(
                self.path, f"section by {section.speaker} names nobody the document introduces", section.line
            )
        return speaker, "direct"

    def add(self, position: int, section: ParsedSection) -> None:
        speaker, attribution = self.voice(section)
        if section.kind != "question":
            self.speakers.append(speaker)
        question = self.first_chunk.get(section.question, "") if section.question is not None else ""
        offset = 0
        for para in section.paragraphs:
            number = len(self.chunks) + 1
            chunk = Chunk(
                **speaker.fields_under(section.headline),
                id=f"{self.slug}-p{number}",
                document=self.slug,
                number=number,
                kind=section.kind,
                text=para.text,
                start=offset,
                end=offset + len(para.text),
                lines=para.lines,
                attribution=attribution,
                body_start=para.body_start,
                segments=tuple(self.segment(s, section.headline) for s in para.segments),
                question=question,
                pages=self.pages(para.lines),
            )
            self.first_chunk.setdefault(position, chunk.id)
            self.chunks.append(chunk)
            offset += len(para.text) + len(PARAGRAPH_SEPARATOR)

    def pages(self, lines: tuple[int, ...]) -> tuple[int, ...]:
        """A PDF's page of each source line ((), for files without pages)."""
        if not self.line_pages:
            return ()
        return tuple(self.line_pages[n - 1] for n in lines if 0 < n <= len(self.line_pages))

    def segment(self, parsed: ParsedSegment, headline: str) -> Segment:
        speaker = self.people.get(parsed.speaker)
        if speaker is None:
            raise CorpusError(self.path, f"a segment names {parsed.speaker}, whom the document never introduces")
        self.speakers.append(speaker)
        return Segment(
            **speaker.fields_under(headline), start=parsed.start, end=parsed.end, attribution=parsed.attribution
        )


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
    return corpus_state(corpus_dir)[0]


def paragraph_document(paragraph_id: str) -> str:
    """`wenhua-keji-zuotanhui-p6` → `wenhua-keji-zuotanhui` (paragraph ids are the slug plus -p<number>)."""
    return paragraph_id.rsplit("-p", 1)[0]


def corpus_state(corpus_dir: Path) -> tuple[str, dict[str, str]]:
    """`corpus_hash`, and each source file's fingerprint (sha256 of its bytes and its metadata's), by file name.

    An index segment records the fingerprint of each document it holds, so an incremental build reads
    (parses, embeds) only the files whose fingerprint is new.
    """
    digest = hashlib.sha256()
    fingerprints: dict[str, str] = {}
    for p in corpus_files(corpus_dir):
        own = hashlib.sha256()
        part = p.name.encode() + b"\0" + p.read_bytes() + b"\0"
        digest.update(part)
        own.update(part)
        meta = p.with_name(p.name.split(".")[0] + META_SUFFIX)
        if meta.exists():
            part = meta.name.encode() + b"\0" + meta.read_bytes() + b"\0"
            digest.update(part)
            own.update(part)
        fingerprints[p.name] = own.hexdigest()
    return digest.hexdigest(), fingerprints


def read_document(path: Path, limits: FileLimits | None = None) -> Document:
    """One stored document parsed with its metadata; refuses a file over the size limit."""
    data = path.read_bytes()
    if limits is not None and len(data) > limits.max_bytes:
        raise CorpusError(
            path, f"the file is {len(data)} bytes, over the limit of {limits.max_bytes} (RAG_MAX_DOCUMENT_BYTES)"
        )
    return build_document(path, data, read_meta(path), limits)


def load_corpus(corpus_dir: Path, limits: FileLimits | None = None) -> list[Document]:
    """Parse every document in the corpus folder; slugs must be unique."""
    docs: list[Document] = []
    seen: dict[str, str] = {}
    files = corpus_files(corpus_dir)
    if not files:
        raise CorpusError(corpus_dir, "the corpus folder has no source documents")
    for path in files:
        doc = read_document(path, limits)
        if doc.info.slug in seen:
            raise CorpusError(path, f"document slug `{doc.info.slug}` is also used by {seen[doc.info.slug]}")
        seen[doc.info.slug] = path.name
        docs.append(doc)
    return docs
