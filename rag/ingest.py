"""Adding and removing documents: validate first, store under server-chosen names, re-index incrementally.

The corpus store (`RAG_CORPUS_DIR`) is the source of truth and the index follows it:

1. Every given document is validated before anything is written: name, size, encoding, format, at least one
   speaker paragraph, metadata. A refusal leaves corpus and index exactly as they were.
2. Content already in the store (same text, whatever the file name) is a no-op that says so.
3. Under the index's build lock, the source is copied into the store as `<slug><suffix>` beside
   `<slug>.meta.json` (title, date, source, slug, known speakers), each written to a temporary name and renamed.
4. A new generation is built reusing every vector the serving one already has (only new paragraphs and
   sentences are embedded) and published atomically. If the build fails the store is put back as it was;
   if the process is killed, the previous generation keeps serving and the next build picks the change up.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.corpus import META_SUFFIX, Document, build_document, corpus_files, load_corpus, slug_for
from rag.embedding import Embedder
from rag.errors import CorpusError, RagError
from rag.index import Progress, build_lock, build_under_lock, index_status, read_manifest
from rag.parsers import source_suffixes
from rag.settings import Settings
from rag.speakers import Speaker
from rag.textutil import has_cjk

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
FIELD_LIMITS = {"title": 200, "subtitle": 200, "date": 40, "source": 100}
SPEAKER_FIELDS = ("name_en", "organization_en", "org_aliases", "org_aliases_en")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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
class _Prepared:
    """A validated document ready to store (or a duplicate of a stored one)."""

    upload: Upload
    document: Document
    stored_name: str
    meta: dict[str, Any]
    duplicate_of: DocumentSummary | None


# ---------------------------------------------------------------- reading files (the CLI's side)


def expand_paths(paths: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(file, the folder it was given in) for each path; a folder stands for its source files."""
    out: list[tuple[Path, Path]] = []
    suffixes = source_suffixes()
    for path in paths:
        _refuse_dotdot(path)
        if path.is_dir() and not path.is_symlink():
            out.extend(
                (p, path)
                for p in sorted(path.iterdir())
                if p.suffix.lower() in suffixes and not p.name.endswith(META_SUFFIX) and not p.name.startswith(".")
            )
        else:
            out.append((path, path.parent))
    return out


def read_upload(path: Path, folder: Path, max_bytes: int) -> Upload:
    """Read a file given on the command line, refusing names with `..`, symlinks out of `folder`, non-files."""
    _refuse_dotdot(path)
    real = _inside(path, folder)
    info = real.stat()
    if not stat.S_ISREG(info.st_mode):
        raise CorpusError(path, "not a regular file")
    if info.st_size > max_bytes:
        raise _too_large(path, info.st_size, max_bytes)
    with real.open("rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_large(path, len(data), max_bytes)
    meta: dict[str, Any] = {}
    side = path.with_name(path.name.split(".")[0] + META_SUFFIX)
    if side.exists() or side.is_symlink():
        side_real = _inside(side, folder)
        try:
            meta = json.loads(side_real.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CorpusError(side, f"metadata is not valid UTF-8 JSON ({exc})") from None
    return Upload(name=str(path), data=data, meta=meta)


def _refuse_dotdot(path: Path | str) -> None:
    if ".." in Path(path).parts or ".." in Path(path).name:
        raise CorpusError(path, "names with `..` are refused")


def _inside(path: Path, folder: Path) -> Path:
    """The file a path leads to, refused when a symlink leads outside the folder it was given in."""
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        raise CorpusError(path, "no such file") from None
    except (OSError, RuntimeError) as exc:
        raise CorpusError(path, f"cannot be read ({exc})") from None
    base = folder.resolve()
    if not real.is_relative_to(base):
        raise CorpusError(path, f"the symlink leads outside {folder} (to {real}); refused")
    return real


def _too_large(name: Path | str, size: int, limit: int) -> TooLarge:
    return TooLarge(name, f"the file is {size} bytes, over the limit of {limit} bytes (RAG_MAX_DOCUMENT_BYTES)")


# ---------------------------------------------------------------- validation


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
    """The given name's base name; refuses `..`, control characters and an unknown suffix early."""
    base = Path(name).name
    _refuse_dotdot(name)
    if not base or _CONTROL.search(name):
        raise CorpusError(name or "(no name)", "the file name is empty or has control characters")
    suffix = Path(base).suffix.lower()
    if suffix not in source_suffixes():
        known = ", ".join(source_suffixes())
        raise CorpusError(name, f"unknown format `{suffix or '(no suffix)'}` (known: {known})")
    return base


def _clean_fields(name: str, meta: Mapping[str, Any], fields: Fields) -> dict[str, Any]:
    """Side metadata with the given fields on top, every document field checked."""
    if not isinstance(meta, Mapping):
        raise CorpusError(name, "metadata must be a JSON object")
    out = dict(meta)
    for key, value in (("title", fields.title), ("date", fields.date), ("source", fields.source)):
        if value is not None:
            out[key] = value
    for key, limit in FIELD_LIMITS.items():
        value = out.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise CorpusError(name, f"`{key}` must be text")
        value = value.strip()
        if len(value) > limit or _CONTROL.search(value):
            raise CorpusError(name, f"`{key}` must be one line of at most {limit} characters")
        out[key] = value
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


def _known_speakers(document: Document, meta: Mapping[str, Any], known: Sequence[Speaker]) -> list[dict[str, Any]]:
    """Metadata for this document's speakers that other documents already describe (same name and organisation).

    A speaker written `张冬（中国移动副总经理）` here and described as 张冬 of 中国移动通信集团有限公司 (alias
    中国移动) elsewhere is the same person: the entry carries the organisation's full name and English forms,
    so the registry merges the two.
    """
    described = {s["name"] for s in meta.get("speakers", [])}
    out: list[dict[str, Any]] = []
    for speaker in document.speakers:
        if speaker.kind != "speaker" or speaker.name in described:
            continue
        matches: list[tuple[Speaker, str]] = []
        for other in known:
            if other.kind != "speaker" or other.name != speaker.name:
                continue
            names = other.org_names()
            if speaker.organization and speaker.organization in names:
                matches.append((other, speaker.title))
            elif not speaker.organization:
                prefix = next((n for n in sorted(names, key=len, reverse=True) if speaker.title.startswith(n)), None)
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
        described.add(speaker.name)
    return out


def summary(document: Document) -> DocumentSummary:
    info = document.info
    return DocumentSummary(
        slug=info.slug,
        title=info.title,
        date=info.date,
        source=info.source,
        format=info.format,
        file=info.file,
        speakers=tuple(s.name for s in document.speakers if s.kind == "speaker"),
        paragraphs=sum(1 for c in document.chunks if c.kind == "speech"),
        editor_note=sum(1 for c in document.chunks if c.kind == "editor_note"),
    )


def _stored(corpus_dir: Path) -> tuple[list[Document], dict[str, DocumentSummary], set[str]]:
    """Documents in the store, a content hash → summary map, and every name stem in use."""
    if not corpus_dir.is_dir():
        return [], {}, set()
    files = corpus_files(corpus_dir)
    documents = load_corpus(corpus_dir) if files else []
    by_file = {d.info.file: d for d in documents}
    hashes = {content_hash(p.read_bytes()): summary(by_file[p.name]) for p in files if p.name in by_file}
    stems = {p.name.split(".")[0] for p in corpus_dir.iterdir()}
    return documents, hashes, stems


def prepare(settings: Settings, uploads: Sequence[Upload], fields: Fields = Fields()) -> list[_Prepared]:
    """Validate every upload against the store; raises on the first refusal, writes nothing."""
    if len(uploads) > 1 and (fields.slug or fields.title):
        raise IngestError("--slug and --title name one document: give them with a single file")
    documents, hashes, stems = _stored(settings.corpus_dir)
    slugs = {d.info.slug for d in documents} | stems
    known = [s for d in documents for s in d.speakers]
    out: list[_Prepared] = []
    for upload in uploads:
        name = _check_name(upload.name)
        if len(upload.data) > settings.max_document_bytes:
            raise _too_large(upload.name, len(upload.data), settings.max_document_bytes)
        meta = _clean_fields(upload.name, upload.meta, fields)
        parsed = build_document(Path(upload.name), upload.data, {k: v for k, v in meta.items() if k != "slug"})
        digest = content_hash(upload.data)
        if digest in hashes:
            out.append(_Prepared(upload, parsed, "", meta, duplicate_of=hashes[digest]))
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
        document = build_document(Path(stored_name), upload.data, meta)
        out.append(_Prepared(upload, document, stored_name, meta, duplicate_of=None))
        slugs.add(slug)
        hashes[digest] = summary(document)
        known.extend(document.speakers)
    return out


# ---------------------------------------------------------------- changing the store


def remove_abandoned_writes(corpus_dir: Path) -> None:
    """Delete temporary files left by writes that were killed (callers hold the build lock)."""
    for tmp in corpus_dir.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            raise Conflict(f"{path.name} appeared in the corpus meanwhile; nothing was added")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _embedding_counts(folder: Path) -> tuple[int, int]:
    stats = read_manifest(folder).get("embedding", {})
    return int(stats.get("embedded", 0)), int(stats.get("reused", 0))


def add_documents(
    settings: Settings,
    uploads: Sequence[Upload],
    fields: Fields = Fields(),
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> AddReport:
    """Validate, store and index documents; duplicates are reported and skipped. All or nothing."""
    from rag.embedding import get_embedder

    prepared = prepare(settings, uploads, fields)  # refusals happen here, before any lock or write
    embedder = embedder or get_embedder(settings)
    if all(p.duplicate_of is not None for p in prepared) and not _index_behind(settings, embedder):
        return AddReport(tuple(_result(p) for p in prepared))
    with build_lock(settings.index_dir):
        prepared = prepare(settings, uploads, fields)  # the store may have changed while waiting for the lock
        new = [p for p in prepared if p.duplicate_of is None]
        if new:
            folder = _store_and_build(settings, new, embedder, progress)
        elif _index_behind(settings, embedder):
            # Stored by an add that was killed before it published: finish that add now.
            folder = _build(settings, embedder, progress)
        else:
            return AddReport(tuple(_result(p) for p in prepared))
    embedded, reused = _embedding_counts(folder)
    return AddReport(tuple(_result(p) for p in prepared), folder.name, embedded, reused)


def _store_and_build(settings: Settings, new: list[_Prepared], embedder: Embedder, progress: Progress | None) -> Path:
    """Write the new documents into the store and build; a failed build takes them out again."""
    corpus_dir = settings.corpus_dir
    corpus_dir.mkdir(parents=True, exist_ok=True)
    remove_abandoned_writes(corpus_dir)
    written: list[Path] = []
    try:
        for p in new:
            meta_path = corpus_dir / (p.stored_name.split(".")[0] + META_SUFFIX)
            _write_atomic(meta_path, (json.dumps(p.meta, ensure_ascii=False, indent=2) + "\n").encode())
            written.append(meta_path)
            _write_atomic(corpus_dir / p.stored_name, p.upload.data)
            written.append(corpus_dir / p.stored_name)
        _fsync_dir(corpus_dir)
        return _build(settings, embedder, progress)
    except BaseException:
        for path in reversed(written):  # the source first: the document disappears in one step
            path.unlink(missing_ok=True)
        raise


def _build(settings: Settings, embedder: Embedder, progress: Progress | None) -> Path:
    """Build from the store (under the lock the caller holds); a stored document that fails is the store's fault."""
    try:
        return build_under_lock(settings, embedder, progress=progress, reuse_vectors=True)
    except CorpusError as exc:
        raise StoreBroken(f"the corpus store cannot be indexed: {exc}") from exc


def _index_behind(settings: Settings, embedder: Embedder) -> bool:
    """True when the serving index was built from another state of the store than the current one."""
    return index_status(settings, embedder.id) == "corpus-changed"


def _result(p: _Prepared) -> Added:
    if p.duplicate_of is not None:
        return Added("duplicate", p.upload.name, p.duplicate_of)
    return Added("added", p.upload.name, summary(p.document))


def remove_document(settings: Settings, slug: str, embedder: Embedder | None = None) -> RemoveReport:
    """Take a document out of the store and publish a generation without it (no embedding needed)."""
    from rag.embedding import get_embedder

    embedder = embedder or get_embedder(settings)
    with build_lock(settings.index_dir):
        remove_abandoned_writes(settings.corpus_dir)
        documents, _, _ = _stored(settings.corpus_dir)
        target = next((d for d in documents if d.info.slug == slug), None)
        if target is None:
            known = ", ".join(sorted(d.info.slug for d in documents)) or "(none)"
            raise UnknownDocument(f"no document `{slug}` in the corpus; known documents: {known}")
        if len(documents) == 1:
            raise Conflict(f"`{slug}` is the only document; the index needs at least one (add another first)")
        source = settings.corpus_dir / target.info.file
        meta = settings.corpus_dir / (target.info.file.split(".")[0] + META_SUFFIX)
        saved = [(path, path.read_bytes()) for path in (source, meta) if path.is_file()]
        try:
            for path, _ in saved:
                path.unlink()
            _fsync_dir(settings.corpus_dir)
            folder = _build(settings, embedder, None)
        except BaseException:
            for path, data in reversed(saved):  # the metadata first, then the source that makes it a document
                _write_atomic(path, data)
            raise
    return RemoveReport(summary(target), folder.name)


def list_documents(settings: Settings) -> list[DocumentSummary]:
    """Every document in the store (parsed from the store itself, not the index)."""
    documents, _, _ = _stored(settings.corpus_dir)
    return [summary(d) for d in documents]
