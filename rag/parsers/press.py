"""Press conferences (新闻发布会/记者会/答记者问): a host, questions from outlets, answers from the officials.

    某某新闻发布会实录
    …出席发布会的有：某某局局长王某，某某馆馆长陈某。发布会由某某办副主任张某主持。   (registers everyone)
    张某：…                          (the host: his own statements are his speech)
    1、新华社记者：…？                (a numbered question from an outlet)
    王某：… / 某某局局长王某：… / 王局长：…   (answers, by name, title + name or surname + title)
    陈某补充：…                       (a follow-up answer to the same question)
    答：…                            (the one answerer, when only one person answers)

Decided: a follow-up (`某某补充：`) is an answer to the question before it; the host's hand-overs and closing
are speech, not answers, so a question the host deflects stays unanswered. An unnamed host's statements and an
`答：` among several answerers stay the document's text (counted in the notes).
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.errors import CorpusError
from rag.parsers.records import ParsedDocument
from rag.parsers.transcript import has_turns, read_transcript
from rag.script import to_simplified

EXPECTED = (
    "a press conference (`发布会`, `记者会`, `答记者问` or `出席…的有：`) with questions from outlets "
    "(`1、新华社记者：`, `问：`) answered by named officials"
)
EVIDENCE = re.compile(
    r"发布会|记者会|答记者问|记者招待会|吹风会|发布厅|新闻办|见面会|答问|出席(?:今天的|本次)?(?:新闻)?(?:发布会|记者会)?的(?:有|是)"
)
FRONT_CHARS = 600


def parse_press(path: Path, text: str) -> ParsedDocument:
    """Parse a press-conference transcript into the host's speech, questions and answers."""
    if not EVIDENCE.search(to_simplified(text[:FRONT_CHARS])):
        raise CorpusError(path, f"press expected {EXPECTED} (the document never says it is one)", 1)
    document, _ = read_transcript(path, text, press=True)
    if not has_turns(document.sections) or not any(s.kind == "answer" for s in document.sections):
        raise CorpusError(path, f"press expected {EXPECTED} (no answered question found)", 1)
    return document
