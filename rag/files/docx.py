"""A Word .docx → its paragraphs, headings, tables and text boxes in document order, one paragraph a line.

python-docx (MIT) opens the package and reads the core properties and styles; the body is walked here,
because python-docx's paragraph list skips text boxes (`w:txbxContent`) and content controls, and Word
stores every text box twice (a DrawingML choice and a VML fallback), which must be read once.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO

import docx
from docx.opc.exceptions import PackageNotFoundError
from lxml import etree

from rag.errors import CorpusError
from rag.files.limits import FileLimits, human_bytes
from rag.files.records import DecodedFile
from rag.files.text import normalize_text

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
# A member that inflates more than this is a zip bomb: Word's XML inflates 5–20×, its pictures barely.
MAX_RATIO = 100
# Members smaller than this are never suspicious, whatever their ratio (a tiny settings.xml can be 50×).
RATIO_FLOOR = 1024 * 1024
# `姓名（职务）` as a bold label at the start of a paragraph (the speech follows in the same paragraph).
SPEAKER_LABEL = re.compile(r"^[\u3400-\u9fff·A-Za-z][\u3400-\u9fff·A-Za-z .\u3000]{0,19}[（(][^()（）]{2,60}[)）]$")
MAX_LABEL_CHARS = 60

_SKIP = {f"{{{W}}}{t}" for t in ("del", "moveFrom", "instrText", "delInstrText", "rPr", "pPr")} | {f"{{{MC}}}Fallback"}
_BREAKS = {f"{{{W}}}{t}" for t in ("br", "cr")}
_TABS = {f"{{{W}}}{t}" for t in ("tab", "ptab")}


@dataclass(frozen=True)
class _Styles:
    """Which paragraph and character styles are bold, following `basedOn`."""

    bold: dict[str, bool | None]
    based_on: dict[str, str]

    def is_bold(self, style_id: str) -> bool:
        seen: set[str] = set()
        while style_id and style_id not in seen:
            seen.add(style_id)
            value = self.bold.get(style_id)
            if value is not None:
                return value
            style_id = self.based_on.get(style_id, "")
        return False


def read_docx(name: str, data: bytes, limits: FileLimits) -> DecodedFile:
    """Read a .docx's body in document order; refuse zip bombs and damaged or unsupported packages."""
    notes = list(check_package(name, data, limits))
    try:
        document = docx.Document(BytesIO(data))
    except (PackageNotFoundError, KeyError, zipfile.BadZipFile, etree.XMLSyntaxError) as exc:
        raise CorpusError(
            name, f"the Word file is damaged ({_short(exc)}); open it in Word and save it again"
        ) from None
    except ValueError as exc:
        if "content type" in str(exc):
            raise CorpusError(name, "a macro-enabled or template Word file; save it as a plain .docx") from None
        raise CorpusError(
            name, f"the Word file is damaged ({_short(exc)}); open it in Word and save it again"
        ) from None
    styles = _read_styles(document.styles.element)
    walker = _Walker(styles)
    lines = [line for line in walker.blocks(document.element.body) if line.strip()]
    if not lines:
        raise CorpusError(name, "the Word file has no text")
    text, text_notes = normalize_text("\n".join(lines))
    if walker.text_boxes:
        notes.append(f"read {walker.text_boxes} text box(es)")
    if walker.tables:
        notes.append(f"read {walker.tables} table(s) row by row")
    if walker.split_labels:
        notes.append(f"put {walker.split_labels} bold speaker label(s) on their own line")
    if walker.tracked:
        notes.append("the file has tracked changes: read as if they were accepted")
    return DecodedFile(
        text=text,
        file_type="docx",
        encoding="",
        title=(document.core_properties.title or "").strip(),
        notes=(*notes, *text_notes),
    )


def check_package(name: str, data: bytes, limits: FileLimits) -> tuple[str, ...]:
    """Refuse what must not be inflated (a zip bomb, an encrypted member) before reading anything."""
    try:
        members = zipfile.ZipFile(BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise CorpusError(name, "the file is not a Word document (not a valid zip archive)") from None
    if not any(m.filename == "word/document.xml" for m in members):
        raise CorpusError(name, "the file is not a Word document (it has no word/document.xml)")
    total = sum(m.file_size for m in members)
    if total > limits.max_uncompressed_bytes:
        raise CorpusError(
            name,
            f"the Word file inflates to {human_bytes(total)}, more than the {human_bytes(limits.max_uncompressed_bytes)} "
            "this program reads; refused",
        )
    for m in members:
        if m.flag_bits & 0x1:
            raise CorpusError(name, f"a part of the Word file is encrypted ({m.filename}); refused")
        if m.file_size >= RATIO_FLOOR and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            ratio = m.file_size // max(m.compress_size, 1)
            raise CorpusError(
                name,
                f"the Word file looks like a zip bomb: {m.filename} inflates from {human_bytes(m.compress_size)} "
                f"to {human_bytes(m.file_size)} ({ratio}×); refused",
            )
    names = {m.filename for m in members}
    dropped = [
        what
        for what, prefix in (("header", "word/header"), ("footer", "word/footer"))
        if any(n.startswith(prefix) for n in names)
    ]
    return (f"left out the page {' and '.join(dropped)} (running text, not the document's)",) if dropped else ()


class _Walker:
    """Walks body XML into lines, counting what it met for the notes."""

    def __init__(self, styles: _Styles) -> None:
        self.styles = styles
        self.text_boxes = 0
        self.tables = 0
        self.split_labels = 0
        self.tracked = False

    def blocks(self, container: etree._Element) -> Iterator[str]:
        """Lines of a body, cell, text box or content control, in document order."""
        for child in container:
            tag = child.tag
            if tag == f"{{{W}}}p":
                yield from self.paragraph(child)
            elif tag == f"{{{W}}}tbl":
                self.tables += 1
                for row in child.iterfind(f"{{{W}}}tr"):
                    for cell in row.iterfind(f"{{{W}}}tc"):
                        yield from self.blocks(cell)
            elif tag in (
                f"{{{W}}}sdt",
                f"{{{W}}}customXml",
                f"{{{W}}}sdtContent",
                f"{{{MC}}}AlternateContent",
                f"{{{MC}}}Choice",
                f"{{{W}}}ins",
            ):
                yield from self.blocks(child)

    def paragraph(self, p: etree._Element) -> Iterator[str]:
        segments: list[tuple[str, bool]] = []
        boxes: list[etree._Element] = []
        para_style = _val(p.find(f"{{{W}}}pPr/{{{W}}}pStyle"))
        self._collect(p, segments, boxes, para_style)
        yield from self._split_label(segments)
        for box in boxes:
            self.text_boxes += 1
            yield from self.blocks(box)

    def _collect(
        self, el: etree._Element, out: list[tuple[str, bool]], boxes: list[etree._Element], para_style: str
    ) -> None:
        for child in el:
            tag = child.tag
            if not isinstance(tag, str) or tag in _SKIP:
                self.tracked = self.tracked or tag in (f"{{{W}}}del", f"{{{W}}}moveFrom")
                continue
            if tag == f"{{{W}}}txbxContent":
                boxes.append(child)
            elif tag == f"{{{W}}}r":
                self._run(child, out, boxes, para_style)
            else:
                self.tracked = self.tracked or tag == f"{{{W}}}ins"
                self._collect(child, out, boxes, para_style)

    def _run(
        self, r: etree._Element, out: list[tuple[str, bool]], boxes: list[etree._Element], para_style: str
    ) -> None:
        bold = self._bold(r, para_style)
        for child in r:
            tag = child.tag
            if tag == f"{{{W}}}t":
                out.append((child.text or "", bold))
            elif tag in _TABS:
                out.append(("\t", bold))
            elif tag in _BREAKS:
                out.append(("\n", bold))
            elif tag == f"{{{W}}}noBreakHyphen":
                out.append(("-", bold))
            elif isinstance(tag, str) and tag not in _SKIP:
                self._collect(child, out, boxes, para_style)  # drawings and pictures: their text boxes

    def _bold(self, r: etree._Element, para_style: str) -> bool:
        direct = r.find(f"{{{W}}}rPr/{{{W}}}b")
        if direct is not None:
            return _on(direct)
        run_style = _val(r.find(f"{{{W}}}rPr/{{{W}}}rStyle"))
        return self.styles.is_bold(run_style) or self.styles.is_bold(para_style)

    def _split_label(self, segments: list[tuple[str, bool]]) -> Iterator[str]:
        """A bold `姓名（职务）` label typed at the start of the speech goes on its own line; else as written."""
        text = "".join(t for t, _ in segments)
        lead = ""
        for t, bold in segments:
            if not bold:
                break
            lead += t
        rest = text[len(lead) :]
        label = lead.strip()
        if rest.strip() and len(label) <= MAX_LABEL_CHARS and SPEAKER_LABEL.match(label):
            self.split_labels += 1
            yield label
            yield from (line.strip() for line in rest.split("\n"))
            return
        yield from (line.strip() for line in text.split("\n"))


def _read_styles(element: etree._Element) -> _Styles:
    bold: dict[str, bool | None] = {}
    based_on: dict[str, str] = {}
    for style in element.iterfind(f"{{{W}}}style"):
        style_id = style.get(f"{{{W}}}styleId", "")
        b = style.find(f"{{{W}}}rPr/{{{W}}}b")
        bold[style_id] = _on(b) if b is not None else None
        parent = _val(style.find(f"{{{W}}}basedOn"))
        if parent:
            based_on[style_id] = parent
    return _Styles(bold, based_on)


def _val(el: etree._Element | None) -> str:
    return el.get(f"{{{W}}}val", "") if el is not None else ""


def _on(el: etree._Element) -> bool:
    return el.get(f"{{{W}}}val", "true").lower() not in ("0", "false", "off", "none")


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
