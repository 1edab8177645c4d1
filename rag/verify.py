"""Verification before anything leaves the library: excerpt ⊂ paragraph ⊂ source, attribution = speaker."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from rag.corpus import paragraph_from_source
from rag.index.load import Index
from rag.records import Quote

log = logging.getLogger("rag.verify")
_QUOTED = re.compile(r"“([^“”]*)”")


def quote_problem(index: Index, quote: Quote) -> str | None:
    """Why a quote is not verbatim or not correctly attributed; None when it is both."""
    chunk = index.chunk_by_id(quote.paragraph_id)
    if chunk is None:
        return "unknown paragraph id"
    if quote.paragraph != chunk.text:
        return "paragraph text differs from the indexed paragraph"
    if not (0 <= quote.start < quote.end <= len(quote.paragraph)):
        return "excerpt offsets out of range"
    if quote.paragraph[quote.start : quote.end] != quote.text:
        return "excerpt is not the paragraph text at its offsets"
    source = index.sources.get(chunk.document)
    if source is None or paragraph_from_source(source, chunk.lines) != chunk.text:
        return "paragraph does not match its source lines"
    if quote.speaker != chunk.speaker or quote.document != chunk.document:
        return "attribution differs from the paragraph's speaker"
    if quote.title != chunk.title or quote.organization != chunk.organization:
        return "title or organisation differs from the paragraph's speaker"
    return None


def verified(index: Index, quotes: Iterable[Quote]) -> list[Quote]:
    """The quotes that pass verification; each failure is logged as an error and dropped."""
    out = []
    for quote in quotes:
        problem = quote_problem(index, quote)
        if problem is None:
            out.append(quote)
        else:
            log.error("dropped quote %s attributed to %s: %s", quote.paragraph_id, quote.speaker, problem)
    return out


def answer_text_problem(answer_text: str, quotes: Iterable[Quote]) -> str | None:
    """Quotation marks in a composed answer may only wrap a whole verified excerpt, “like this”."""
    rest = answer_text
    for q in sorted(quotes, key=lambda q: -len(q.text)):
        rest = rest.replace(f"“{q.text}”", "\x00")
    leftover = _QUOTED.search(rest) or re.search("[“”]", rest)
    if leftover:
        return (
            f"answer text puts quotation marks around words that are not a verified excerpt: {leftover.group(0)[:40]}"
        )
    return None
