"""Interviews (专访/访谈实录): questions by the reporter, host or outlet; answers by the person interviewed.

    专访某某馆长陈静：…             (the title often introduces the interviewee)
    ——访某某馆长陈静                (subtitle)
    本报记者 某某                   (byline: not content)
    编者按：… / 引言…               (editor's note; an introduction is narrative, attributed like a report)
    【小标题】                      (heads the next turn)
    记者：…？                       (question: kept as the context of the answers after it)
    陈静：…                         (answer: the speaker's words, until the next label)

Labels and their variations are in `dialog.py`. A question nobody answers in print stays a question section
that no answer points at.
"""

from __future__ import annotations

from pathlib import Path

from rag.errors import CorpusError
from rag.parsers.records import ParsedDocument
from rag.parsers.transcript import has_turns, read_transcript

EXPECTED = "question labels (`记者：`, `主持人：`, `问：`, an outlet) followed by answers from a named person (`姓名：`, `答：`)"


def parse_interview(path: Path, text: str) -> ParsedDocument:
    """Parse an interview into questions and the interviewee's answers."""
    document, _ = read_transcript(path, text, press=False)
    if not has_turns(document.sections):
        raise CorpusError(path, f"interview expected {EXPECTED}", 1)
    return document
