"""A PDF with a text layer → its lines in reading order, with the page of every line.

pdfplumber (MIT, on pdfminer.six, MIT) gives every character with its position; pdf_layout.py orders them
into lines (columns one after another), pdf_clean.py fixes spaces and leaves out running headers, footers
and page numbers. PyMuPDF would be faster but is AGPL. Refused: PDFs that need a password, damaged or
truncated ones, scans without a text layer, text layers without a Unicode mapping, too many pages.
"""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfplumber.utils.exceptions import PdfminerException

from rag.errors import CorpusError
from rag.files.limits import FileLimits
from rag.files.pdf_clean import PageLine, drop_running, keep_numbers_whole, line_text
from rag.files.pdf_layout import Char, layout
from rag.files.records import DecodedFile
from rag.files.text import normalize_text

_CID = re.compile(r"\(cid:\d+\)")
_TITLE_JUNK = re.compile(r"^Microsoft Word - |\.(?:docx?|pdf|wps)$", re.IGNORECASE)
# A text layer where most characters come out as `(cid:12)` has no Unicode mapping: unreadable.
MAX_CID_SHARE = 0.3
# Characters with the same text this close (points) are one glyph drawn twice.
DUPLICATE_TOLERANCE = 1.0


def read_pdf(name: str, data: bytes, limits: FileLimits) -> DecodedFile:
    """Read a PDF's text layer in reading order; refuse what cannot be read as it is printed."""
    if b"%%EOF" not in data[-2048:]:
        raise CorpusError(
            name, "the PDF is cut short or damaged (it has no end-of-file marker); download or export it again"
        )
    try:
        pdf = pdfplumber.open(BytesIO(data))
    except PdfminerException as exc:
        raise CorpusError(name, _open_failure(exc.args[0] if exc.args else exc)) from None
    except Exception as exc:  # pdfminer raises many kinds of error on damaged files
        raise CorpusError(name, _open_failure(exc)) from None
    with pdf:
        try:
            lines, notes, pages = _read_pages(name, pdf, limits)
            metadata = dict(pdf.metadata or {})
        except CorpusError:
            raise
        except Exception as exc:  # pdfminer raises many kinds of error on damaged files
            raise CorpusError(name, f"the PDF is damaged ({_short(exc)}); export it again") from None
    lines, dropped_running, dropped_numbers = drop_running(lines, pages)
    lines, moved = keep_numbers_whole(lines)
    if dropped_running:
        notes.append(f"dropped {dropped_running} running header/footer line(s)")
    if dropped_numbers:
        notes.append(f"dropped {dropped_numbers} page number(s)")
    if moved:
        notes.append(f"moved {moved} number(s) broken across lines onto one line")
    text, text_notes = normalize_text("\n".join(line.text for line in lines))
    return DecodedFile(
        text=text,
        file_type="pdf",
        encoding="",
        title=_title(metadata.get("Title")),
        line_pages=tuple(line.page for line in lines),
        notes=(*notes, *text_notes),
    )


def _open_failure(exc: BaseException) -> str:
    if isinstance(exc, PDFPasswordIncorrect):
        return "the PDF is protected with a password (encrypted); save an unprotected copy and add that"
    if isinstance(exc, PDFEncryptionError):
        return f"the PDF is encrypted in a way this program cannot read ({_short(exc)}); save an unprotected copy"
    return f"the PDF is damaged and cannot be opened ({_short(exc)}); export it again"


def _read_pages(name: str, pdf: Any, limits: FileLimits) -> tuple[list[PageLine], list[str], int]:
    pages = len(pdf.pages)
    if pages > limits.max_pages:
        raise CorpusError(
            name, f"the PDF has {pages} pages, more than the {limits.max_pages} this program reads; split it"
        )
    lines: list[PageLine] = []
    notes: list[str] = []
    empty: list[int] = []
    cid = total = rotated = 0
    for number, page in enumerate(pdf.pages, start=1):
        chars, page_rotated = _visible_chars(page)
        rotated += page_rotated
        page_layout = layout(chars)
        if not page_layout.lines:
            empty.append(number)
        if page_layout.columns > 1:
            notes.append(f"{page_layout.columns} columns on page {number}")
        for line in page_layout.lines:
            text = line_text(line)
            cid += len(_CID.findall(text))
            total += len(text)
            if text:
                lines.append(PageLine(text, number, line.top, line.bottom, float(page.height)))
        page.flush_cache()  # pdfplumber keeps every page's objects otherwise
    if not lines:
        raise CorpusError(
            name,
            "the PDF has no text layer (it is a scanned image); this program has no OCR — export the text or "
            "use a PDF with text",
        )
    if cid and cid * 8 > MAX_CID_SHARE * total:
        raise CorpusError(
            name,
            "the PDF's text layer has no Unicode mapping (its characters come out as (cid:…) codes); export it "
            "again with embedded Unicode fonts, or use the text",
        )
    if empty:
        notes.append(f"no text on page(s) {', '.join(map(str, empty))} (images only)")
    if rotated:
        notes.append(f"left out {rotated} character(s) of rotated or vertical text")
    return lines, notes, pages


def _visible_chars(page: Any) -> tuple[list[Char], int]:
    """Upright characters inside the page, each once (fake bold draws a glyph twice); and how many are rotated."""
    x0, top, x1, bottom = page.bbox
    inside = [
        c for c in _dedupe(page.chars) if c["x1"] > x0 and c["x0"] < x1 and c["bottom"] > top and c["top"] < bottom
    ]
    upright = [c for c in inside if c.get("upright", True)]
    rotated = sum(1 for c in inside if not c.get("upright", True) and c["text"].strip())
    return upright, rotated


def _dedupe(chars: list[Char]) -> list[Char]:
    """Drop a character drawn again within a point of itself (fake bold, shadows).

    pdfplumber's own dedupe_chars does the same but took a third of the reading time on dense pages.
    """
    kept: list[Char] = []
    last: dict[str, list[Char]] = {}
    for c in sorted(chars, key=lambda c: (c["top"], c["x0"])):
        seen = last.setdefault(c["text"], [])
        if any(
            abs(c["x0"] - k["x0"]) <= DUPLICATE_TOLERANCE and abs(c["top"] - k["top"]) <= DUPLICATE_TOLERANCE
            for k in seen
        ):
            continue
        seen.append(c)
        if len(seen) > 4:  # only the last few of a character can be within a point of the next one
            del seen[0]
        kept.append(c)
    return kept


def _title(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="ignore")
    if not isinstance(value, str):
        return ""
    return _TITLE_JUNK.sub("", value.strip()).strip()


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:120] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
