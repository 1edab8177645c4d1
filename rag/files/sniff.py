"""What a file really is, from its first bytes, and whether its name says the same."""

from __future__ import annotations

import codecs
import re
import zipfile
from io import BytesIO
from pathlib import PurePath

from rag.errors import CorpusError
from rag.files.records import FileType

SUFFIXES: dict[str, FileType] = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".jsonl": "jsonl",
    ".html": "html",
    ".htm": "html",
    ".docx": "docx",
    ".pdf": "pdf",
}
# What each content kind is called in a refusal, and the suffix it should have.
_KINDS: dict[str, tuple[str, str]] = {
    "pdf": ("a PDF", ".pdf"),
    "docx": ("a Word document (.docx)", ".docx"),
    "html": ("an HTML page", ".html"),
    "text": ("plain text", ".txt"),
}
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_HTML_START = re.compile(
    r"\A(?:\s|<!--.*?-->|<\?xml[^>]*>)*<(?:!doctype\s+html|html|head|body|meta|title|frameset)[\s>/]",
    re.IGNORECASE | re.DOTALL,
)
_IMAGES = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"II*\x00": "a TIFF image",
    b"MM\x00*": "a TIFF image",
}


def sniff(name: str, data: bytes) -> FileType:
    """The file's real type from its bytes; the suffix only tells text, Markdown and JSONL apart.

    Raises CorpusError for content no reader takes (legacy Word, encrypted Office files, images, RTF, other
    archives); `check_name` then compares the result with the suffix.
    """
    kind = content_kind(name, data)
    if kind != "text":
        return kind  # type: ignore[return-value]
    suffix_type = SUFFIXES.get(PurePath(name).suffix.lower())
    return suffix_type if suffix_type in ("text", "markdown", "jsonl") else "text"  # type: ignore[return-value]


def check_name(name: str, data: bytes) -> FileType:
    """The file's type, refusing a suffix that is unknown or says something else than the content."""
    actual = sniff(name, data)  # first: "a legacy Word .doc file" says more than "unknown type .doc"
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUFFIXES:
        known = ", ".join(SUFFIXES)
        raise CorpusError(name, f"unknown file type `{suffix or '(no suffix)'}` (known: {known})")
    named = SUFFIXES[suffix]
    named_kind = "text" if named in ("text", "markdown", "jsonl") else named
    actual_kind = "text" if actual in ("text", "markdown", "jsonl") else actual
    if named_kind != actual_kind:
        what, right = _KINDS[actual_kind]
        raise CorpusError(name, f"the file is named {suffix} but its content is {what}; rename it to {right}")
    return actual


def content_kind(name: str, data: bytes) -> str:
    """`pdf`, `docx`, `html` or `text` from the bytes; refuses what no reader takes."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"%PDF-"):
        return "pdf"
    if b"%PDF-" in data[:1024] and b"%%EOF" in data[-2048:]:  # a header after junk, which readers accept
        return "pdf"
    if data.startswith(_ZIP):
        return _zip_kind(name, data)
    if data.startswith(_OLE):
        raise CorpusError(name, _ole_reason(data))
    for magic, what in _IMAGES.items():
        if data.startswith(magic):
            raise CorpusError(name, f"the file is {what}, not a document; this program has no OCR — use the text")
    if data.startswith(b"{\\rtf"):
        raise CorpusError(name, "the file is an RTF document; save it as .docx")
    if _HTML_START.match(_text_head(data)):
        return "html"
    return "text"


def _zip_kind(name: str, data: bytes) -> str:
    try:
        names = set(zipfile.ZipFile(BytesIO(data)).namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise CorpusError(name, "the file is a damaged zip archive (a Word file cut short?); save it again") from None
    if "word/document.xml" in names:
        return "docx"
    if "mimetype" in names and "content.xml" in names:
        raise CorpusError(name, "the file is an OpenDocument file (.odt); save it as .docx")
    if "xl/workbook.xml" in names:
        raise CorpusError(name, "the file is an Excel workbook, not a document; copy the text into a .docx or .txt")
    if "ppt/presentation.xml" in names:
        raise CorpusError(name, "the file is a PowerPoint presentation; export its text as .docx, .pdf or .txt")
    raise CorpusError(name, "the file is a zip archive, not a Word document; unpack it and add the documents in it")


def _ole_reason(data: bytes) -> str:
    """Legacy Office files and password-protected new ones are both OLE compound files; the streams tell."""
    if "EncryptedPackage".encode("utf-16-le") in data:
        return (
            "the Word file is protected with a password (encrypted); open it in Word, remove the password "
            "(File ▸ Info ▸ Protect Document) and save it again"
        )
    if "WordDocument".encode("utf-16-le") in data:
        return "a legacy Word .doc file; save it as .docx"
    return "a legacy Office file (OLE compound document), not a .docx; save it as .docx"


def _text_head(data: bytes) -> str:
    """The first characters of a text file whatever its encoding (enough to see `<!DOCTYPE html`)."""
    head = data[:2048]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="ignore")
    if b"\x00" in head[:64] and len(head) > 1:
        # BOM-less UTF-16: the ASCII of the markup has a zero byte on one side.
        return head.decode("utf-16-le" if head[1] == 0 else "utf-16-be", errors="ignore")
    return head.decode("latin-1").removeprefix("\xef\xbb\xbf")
