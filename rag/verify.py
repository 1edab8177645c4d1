"""Verification before anything leaves the library: excerpt ⊂ paragraph ⊂ source, attribution = the parser's."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from rag.corpus import Chunk, paragraph_from_source
from rag.index.load import Index
from rag.records import Profile, Quote
from rag.speakers import SpeakerFields

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
    if quote.document != chunk.document or quote.kind != chunk.kind:
        return "document or paragraph kind differs from the paragraph's"
    return _voice_problem(quote, chunk)


def _voice_problem(quote: Quote, chunk: Chunk) -> str | None:
    """The words must be one voice's, and the quote must name that voice exactly as the parser derived it."""
    if quote.start < chunk.body_start:
        return "excerpt includes the label printed before the paragraph's words"
    voice = chunk.voice_at(quote.start, quote.end)
    if voice is None and any(s.start < quote.end and quote.start < s.end for s in chunk.segments):
        return "excerpt mixes the writer's words with a speaker's"
    named: SpeakerFields = voice if voice is not None else chunk
    attribution = voice.attribution if voice is not None else chunk.attribution
    if quote.speaker_fields() != named.speaker_fields():
        return "attribution differs from the paragraph's speaker (the one the parser derived for these words)"
    if quote.attribution != attribution:
        return f"attribution kind is {quote.attribution}, the words are {attribution}"
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
    """Quotation marks in a composed answer may only wrap a whole verified excerpt of someone's own words,
    “like this”; a reported passage is never presented as a speaker's words."""
    quotes = list(quotes)
    for q in quotes:
        if q.attribution == "reported" and f"“{q.text}”" in answer_text:
            return f"answer text presents reported speech as the speaker's words: {q.text[:40]}"
    rest = answer_text
    for q in sorted(quotes, key=lambda q: -len(q.text)):
        rest = rest.replace(f"“{q.text}”", "\x00")
        if q.attribution == "reported":  # shown as it is printed, with any quotation marks of its own
            rest = rest.replace(q.text, "\x00")
    leftover = _QUOTED.search(rest) or re.search("[“”]", rest)
    if leftover:
        return (
            f"answer text puts quotation marks around words that are not a verified excerpt: {leftover.group(0)[:40]}"
        )
    return None


def profile_problem(index: Index, profile: Profile) -> str | None:
    """Why a speaker profile may not leave the library (its line is not the document's own), or None."""
    source = index.sources.get(profile.document)
    if source is None:
        return f"no source text for {profile.document}"
    lines = source.splitlines()
    if not 1 <= profile.line <= len(lines) or lines[profile.line - 1].strip() != profile.source_line:
        return f"line {profile.line} of {profile.document} is not `{profile.source_line}`"
    return None
