"""The answer records the library returns and `POST /ask` serialises: Answer, Quote, HistoryTurn."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Language = Literal["zh", "en", "mixed"]


@dataclass(frozen=True)
class HistoryTurn:
    """An earlier turn of the conversation (most recent last in a history list)."""

    question: str
    answer: str | None = None
    speakers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Quote:
    """A verbatim excerpt of one paragraph, attributed to the paragraph's speaker."""

    text: str  # exact substring of `paragraph`
    paragraph: str  # the whole paragraph, for context
    start: int  # offsets of `text` in `paragraph`
    end: int
    speaker: str
    title: str
    organization: str
    speaker_en: str
    organization_en: str
    title_en: str
    headline: str
    paragraph_id: str
    document: str
    score: float
    kind: str = "speech"  # "speech" | "editor_note"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """What a person reads (`answer`) and what a program uses (`quotes`), best first."""

    question: str
    found: bool
    answer: str
    quotes: tuple[Quote, ...]
    language: Language
    intent: str = "single"  # "single" | "who" | "multi" | "followup-more"
    closest: tuple[Quote, ...] = ()  # when not found: nearest passages, explicitly not an answer
    speakers: tuple[str, ...] = ()  # speakers quoted, in order (feeds the next turn's history)
    resolved_question: str = ""  # the question after follow-up resolution (== question when none)
    generation: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "found": self.found,
            "answer": self.answer,
            "language": self.language,
            "intent": self.intent,
            "quotes": [q.to_json() for q in self.quotes],
            "closest": [q.to_json() for q in self.closest],
            "speakers": list(self.speakers),
            "resolved_question": self.resolved_question,
            "generation": self.generation,
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }
