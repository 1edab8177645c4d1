"""Composing the readable answer text from verified quotes, framed in the question's language.

The composer is the one place a generator could be plugged in later. Whatever composes the text,
`rag.verify.answer_text_problem` checks it: quotation marks may only wrap a whole verified excerpt,
so no composer can put words in a speaker's mouth.
"""

from __future__ import annotations

from typing import Protocol

from rag.records import Quote
from rag.vocabulary import Intent, Language

NOT_FOUND = {
    "zh": "座谈会发言中没有找到相关内容。",
    "mixed": "座谈会发言中没有找到相关内容。",
    "en": "None of the speeches addresses this.",
}
NOT_FOUND_CLOSEST = {
    "zh": "以下是最接近的段落，仅供参考，并非答案：",
    "mixed": "以下是最接近的段落，仅供参考，并非答案：",
    "en": "The closest passages are listed separately for reference; they are not an answer.",
}


class Composer(Protocol):
    """Turns verified quotes into the text a person reads."""

    def compose(self, quotes: list[Quote], language: Language, intent: Intent) -> str: ...

    def not_found(self, language: Language) -> str: ...


def attribution(quote: Quote, language: Language) -> str:
    """姓名，职务，机构 — or, for English questions, Name (姓名), Title, Organization."""
    if quote.kind == "editor_note":
        return f"编者按，{quote.organization}" if language != "en" else f"Editor's note, {quote.organization}"
    if language == "en":
        name = f"{quote.speaker_en} ({quote.speaker})" if quote.speaker_en else quote.speaker
        parts = [name, quote.title_en or quote.title, quote.organization_en or quote.organization]
        return ", ".join(p for p in parts if p)
    return "，".join(p for p in (quote.speaker, quote.title, quote.organization) if p)


def speaker_with_role(quote: Quote) -> str:
    """姓名（机构职务）, the way the page itself introduces a speaker."""
    role = f"{quote.organization}{quote.title}"
    return f"{quote.speaker}（{role}）" if role and quote.kind == "speech" else attribution(quote, "zh")


class ExtractiveComposer:
    """Only the speakers' own words, each wrapped in quotation marks and attributed."""

    def compose(self, quotes: list[Quote], language: Language, intent: Intent) -> str:
        if not quotes:
            return self.not_found(language)
        lines: list[str] = []
        if intent == "multi":
            head = (
                f"{len(quotes)} speakers address this:"
                if language == "en"
                else f"共有{len(quotes)}位发言人谈到这一点："
            )
            lines.append(head)
            for i, q in enumerate(quotes, start=1):
                lines.append(f"{i}. {attribution(q, language)}: “{q.text}”")
            return "\n".join(lines)
        first = quotes[0]
        if intent == "who":
            if language == "en":
                lines.append(f"{attribution(first, language)} said: “{first.text}”")
            else:
                lines.append(f"{speaker_with_role(first)}说：“{first.text}”")
        else:
            lines.append(f"“{first.text}”\n—— {attribution(first, language)}")
        return "\n\n".join(lines)

    def not_found(self, language: Language) -> str:
        return NOT_FOUND[language]
