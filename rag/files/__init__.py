"""Document files → decoded text: plain text in any common Chinese encoding, saved web articles, Word, PDF.

`read_file(name, data, limits)` sniffs what the bytes really are, refuses a file whose name says otherwise,
and returns a `DecodedFile`: the text, one paragraph (or printed line) per line, which the format parsers
parse and quotes are verified against, with what the file states about itself and what was done to it.
Plain text is decoded in-process (cheap, bounded by `max_bytes`); HTML, Word and PDF files are untrusted
input to large parsers and are read in a sandboxed child process (sandbox.py) with limits on memory and
time, so a hostile or broken file is refused instead of taking the server down.

    from rag.files import FileLimits, read_file
    decoded = read_file("发言.pdf", data, FileLimits())
    decoded.text, decoded.line_pages, decoded.notes
"""

from __future__ import annotations

from rag.errors import CorpusError
from rag.files.limits import FileLimits, human_bytes
from rag.files.records import DecodedFile, FileType
from rag.files.sandbox import run_sandboxed, warm_up
from rag.files.sniff import SUFFIXES, check_name, sniff
from rag.files.text import decode_text

__all__ = ["SUFFIXES", "DecodedFile", "FileLimits", "FileType", "read_file", "sniff", "warm_up"]


def read_file(name: str, data: bytes, limits: FileLimits) -> DecodedFile:
    """Decode a document file's bytes; `name` is used for its suffix and in messages only.

    Raises CorpusError(name, reason) with a reason the person who has the file can act on.
    """
    if len(data) > limits.max_bytes:
        raise CorpusError(
            name,
            f"the file is {human_bytes(len(data))}, more than the {human_bytes(limits.max_bytes)} this program reads",
        )
    if not data.strip():
        raise CorpusError(name, "the file is empty")
    file_type = check_name(name, data)
    if file_type in ("text", "markdown", "jsonl"):
        decoded = decode_text(name, data)
        return DecodedFile(text=decoded.text, file_type=file_type, encoding=decoded.encoding, notes=decoded.notes)
    return run_sandboxed(_READERS[file_type], name, data, limits, file_type)


def _read_html(name: str, data: bytes, limits: FileLimits) -> DecodedFile:
    from rag.files.html import read_html

    return read_html(name, data, limits)


def _read_docx(name: str, data: bytes, limits: FileLimits) -> DecodedFile:
    from rag.files.docx import read_docx

    return read_docx(name, data, limits)


def _read_pdf(name: str, data: bytes, limits: FileLimits) -> DecodedFile:
    from rag.files.pdf import read_pdf

    return read_pdf(name, data, limits)


# The readers import their libraries only in the child (the forkserver preloads them): the server that
# calls read_file never loads trafilatura, python-docx or pdfminer itself.
_READERS = {"html": _read_html, "docx": _read_docx, "pdf": _read_pdf}
