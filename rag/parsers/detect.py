"""Which text format a `.txt` file is in: every text parser reads it, the one that explains it best wins.

Scoring, for the parsers that do not refuse:

1. coverage: the share of content paragraphs (all but questions and editor's notes) whose words are attributed
   to an identified person: speech and answer paragraphs, and narrative paragraphs holding a segment;
2. on a tie, specificity: press 4, interview 3, 发言摘登 3 with two or more speakers (1 with one), speech 2
   when the text has a salutation, greeting, closing or a `——在…上的讲话` subtitle (0 without), news 0;
3. then the order press, interview, 发言摘登, speech, news.

Press reads only documents that say they are a press conference, and then wins over interview outright
(an unnamed host's turns would otherwise count against it). So a speech page with one `姓名（职务）` byline and a salutation is a speech, the same page without any is still
read as 发言摘登 (as before), and a report that quotes three people is news. `format=NAME` skips the contest.
When every parser refuses, the error lists what each one expected; when one found a speaker but failed for
another reason (`speaker 张华 has no paragraphs`), that error is raised as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag.errors import CorpusError
from rag.parsers.interview import parse_interview
from rag.parsers.news import parse_news
from rag.parsers.press import parse_press
from rag.parsers.records import ParsedDocument
from rag.parsers.speech import markers, parse_speech
from rag.parsers.zhaideng import parse_zhaideng

TextParser = Callable[[Path, str], ParsedDocument]

TEXT_FORMATS: dict[str, TextParser] = {
    "press": parse_press,
    "interview": parse_interview,
    "zhaideng": parse_zhaideng,
    "speech": parse_speech,
    "news": parse_news,
}
LABELS = {"zhaideng": "发言摘登", "speech": "speech", "news": "news", "interview": "interview", "press": "press"}
FORMAT_NAMES = {
    "zhaideng": "a 发言摘登 page",
    "speech": "a single speech",
    "news": "a news report",
    "interview": "an interview",
    "press": "a press conference",
    "markdown": "Markdown",
    "jsonl": "JSONL",
}
ZHAIDENG_EXPECTED = "a `姓名（职务）` speaker line before each speech"
REPORT_ORDER = ("zhaideng", "speech", "news", "interview", "press")


def parse_text(path: Path, text: str, format: str | None = None) -> ParsedDocument:
    """Parse a text document in the format given, or in the one of the text formats that explains it best."""
    if format is not None:
        parser = TEXT_FORMATS.get(format)
        if parser is None:
            raise CorpusError(path, f"unknown text format `{format}` (known: {', '.join(TEXT_FORMATS)})")
        return parser(path, text)
    read: list[tuple[tuple[float, int, int], ParsedDocument]] = []
    refusals: dict[str, CorpusError] = {}
    for order, (name, parser) in enumerate(TEXT_FORMATS.items()):
        try:
            document = parser(path, text)
        except CorpusError as exc:
            refusals[name] = exc
            continue
        if name == "interview" and any(d.format == "press" for _, d in read):
            continue  # a press conference is an interview the document says is one: press wins outright
        read.append(((round(coverage(document), 6), specificity(name, document, text), -order), document))
    if read:
        return max(read, key=lambda item: item[0])[1]
    found = [exc for exc in refusals.values() if "has no paragraphs" in exc.reason]
    if found:
        raise found[0]
    raise CorpusError(path, "no format found a speaker: " + "; ".join(_expected(n, refusals[n]) for n in REPORT_ORDER))


def coverage(document: ParsedDocument) -> float:
    """The share of content paragraphs whose words are attributed to an identified person."""
    content = [(s, p) for s in document.sections for p in s.paragraphs if s.kind not in ("question", "editor_note")]
    if not content:
        return 0.0
    attributed = sum(1 for s, p in content if (s.kind in ("speech", "answer") and s.speaker) or p.segments)
    return attributed / len(content)


def specificity(name: str, document: ParsedDocument, text: str) -> int:
    """How specific the format's reading is, to break coverage ties (see the module docstring)."""
    if name == "zhaideng":
        return 3 if len({s.speaker for s in document.sections if s.kind == "speech"}) > 1 else 1
    if name == "speech":
        return 2 if markers(text) else 0
    return {"press": 4, "interview": 3}.get(name, 0)


def _expected(name: str, exc: CorpusError) -> str:
    label = LABELS[name]
    if exc.reason.startswith(f"{name} expected "):
        return label + exc.reason[len(name) :]
    if name == "zhaideng":
        return f"{label} expected {ZHAIDENG_EXPECTED}"
    return f"{label} expected: {exc.reason}"
