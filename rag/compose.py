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
    "zh": "收录的讲话和报道中没有找到相关内容。",
    "mixed": "收录的讲话和报道中没有找到相关内容。",
    "en": "None of the speeches or reports addresses this.",
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
    """姓名，职务，机构 — or, for English questions, Name (姓名), Title, Organization.

    An editor's note is 编者按 of its source, a report's own text is the report of its source.
    """
    if quote.kind == "editor_note":
        return f"编者按，{quote.organization}" if language != "en" else f"Editor's note, {quote.organization}"
    if quote.attribution is None:
        return _report_of(quote, language)
    if language == "en":
        name = f"{quote.speaker_en} ({quote.speaker})" if quote.speaker_en else quote.speaker
        parts = [name, quote.title_en or quote.title, quote.organization_en or quote.organization]
        return ", ".join(p for p in parts if p)
    return "，".join(p for p in (quote.speaker, quote.title, quote.organization) if p)


def _report_of(quote: Quote, language: Language) -> str:
    source = (quote.source_en or quote.source) if language == "en" else quote.source
    if language == "en":
        return f"{source} report (the writer's own words)" if source else "The report (the writer's own words)"
    return f"{source}报道原文" if source else "报道原文"


def reported_by(quote: Quote, language: Language) -> str:
    """据湖南日报报道 / as reported by Hunan Daily (据报道 / as reported, when the document names no source)."""
    if language == "en":
        source = quote.source_en or quote.source
        return f"as reported by {source}" if source else "as reported"
    return f"据{quote.source}报道" if quote.source else "据报道"


def asked(quote: Quote, language: Language) -> str:
    """（答记者问） after an answer's attribution: the answer is to a question, which the quote carries."""
    if not quote.context_by:
        return ""
    return f" (answering {quote.context_by})" if language == "en" else f"（答{quote.context_by}问）"


def speaker_with_role(quote: Quote) -> str:
    """姓名（机构职务）, the way the page itself introduces a speaker."""
    role = f"{quote.organization}{quote.title}"
    return f"{quote.speaker}（{role}）" if role and quote.attribution is not None else attribution(quote, "zh")


def cited(quote: Quote, language: Language) -> str:
    """One quote as the readable answer shows it: own words in quotation marks, reported speech never."""
    if quote.attribution == "reported":
        if language == "en":
            return (
                f"{reported_by(quote, language).capitalize()}: {quote.text}\n"
                f"—— reported speech, not a verbatim quote: {attribution(quote, language)}"
            )
        return f"{reported_by(quote, language)}：{quote.text}\n—— 转述，非原话：{attribution(quote, language)}"
    return f"“{quote.text}”\n—— {attribution(quote, language)}{asked(quote, language)}"


class ExtractiveComposer:
    """Only the documents' own words: a speaker's words in quotation marks and attributed, reported speech
    labelled as reported."""

    def compose(self, quotes: list[Quote], language: Language, intent: Intent) -> str:
        if not quotes:
            return self.not_found(language)
        if intent == "multi":
            head = (
                f"{len(quotes)} speakers address this:"
                if language == "en"
                else f"共有{len(quotes)}位发言人谈到这一点："
            )
            return "\n".join([head, *(f"{i}. {self._listed(q, language)}" for i, q in enumerate(quotes, start=1))])
        first = quotes[0]
        if intent == "who":
            return self._who(first, language)
        return cited(first, language)

    def _listed(self, q: Quote, language: Language) -> str:
        if q.attribution == "reported":
            return f"{attribution(q, language)} ({reported_by(q, language)}): {q.text}"
        return f"{attribution(q, language)}: “{q.text}”"

    def _who(self, q: Quote, language: Language) -> str:
        if q.attribution == "reported":
            if language == "en":
                return f"{attribution(q, language)}, {reported_by(q, language)}: {q.text}"
            return f"{speaker_with_role(q)}，{reported_by(q, language)}：{q.text}"
        if language == "en":
            return f"{attribution(q, language)} said: “{q.text}”"
        return f"{speaker_with_role(q)}说：“{q.text}”"

    def not_found(self, language: Language) -> str:
        return NOT_FOUND[language]
