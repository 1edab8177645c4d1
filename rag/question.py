"""Understanding a question: language, named speakers, intent, and follow-up resolution against history."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.records import HistoryTurn
from rag.script import to_simplified
from rag.speakers import Mention, Speaker, SpeakerRegistry
from rag.textutil import has_cjk, normalize_for_match
from rag.vocabulary import Intent, Language

_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]+")
WHO = re.compile(
    r"谁|哪位|哪一位|哪个人|哪个企业家|哪家企业|哪家公司|哪个公司|是哪个|"
    r"\bwho\b|\bwhich (speaker|executive|person|company|entrepreneur|one)\b|\bwhose\b",
    re.I,
)
MULTI = re.compile(
    r"哪些(?:企业家|企业|公司|发言人|嘉宾|人|领导|高管|代表|负责人|董事长)|哪几位|哪几家|都有谁|有谁|分别|各自|几位|多位|"
    r"\bwhich (speakers|executives|companies|entrepreneurs|people|firms)\b|"
    r"\bwho (talked|spoke|mentioned|discussed|raised|brought up|referred)\b|"
    r"\b(speakers|executives|companies) (mentioned|talked|discussed|spoke)\b",
    re.I,
)
PRONOUN = re.compile(
    r"他|她|这位|该发言人|此人|其人|\bhe\b|\bhim\b|\bhis\b|\bshe\b|\bher\b|\bthis speaker\b|\bthat speaker\b",
    re.I,
)
ELLIPSIS = re.compile(
    r"^(那|那么|而|还有)?(?P<rest>.{1,20}?)(呢|又如何|怎么样|怎么说)[？?]?$|"
    r"^(and|what about|how about)\s+(?P<rest_en>.+?)[？?]?$",
    re.I,
)
MORE = re.compile(
    r"还说了什么|还讲了什么|还提到了什么|还有什么|还有呢|其他内容|别的|"
    r"\bwhat else\b|\banything else\b|\bmore\b|\belse\b",
    re.I,
)


@dataclass(frozen=True)
class QuestionPlan:
    """How to answer a question: the text to search, speaker constraints, and the kind of answer."""

    question: str
    search_text: str
    language: Language
    intent: Intent
    filter_speakers: tuple[str, ...]  # hard filter (the question names them)
    mentions: tuple[Mention, ...]
    exclude_text: str = ""  # text already shown (follow-ups asking for more)
    from_history: bool = False
    shown: tuple[str, ...] = ()  # ids of the quotes the conversation already showed (never shown again)
    chose_from: tuple[str, ...] = ()  # "他还说了什么？" after several speakers: the speakers it chose among

    @property
    def keyword_text(self) -> str:
        """The search text without the names of speakers the filter already selects."""
        if not self.filter_speakers:
            return self.search_text
        kept = [m for m in self.mentions if m.speaker.name in self.filter_speakers]
        if self.search_text != self.question:
            return self.search_text
        return strip_mentions(self.question, kept) or self.search_text


def detect_language(text: str) -> Language:
    """zh when Chinese only, en when no Chinese, mixed when Chinese and Latin words both appear."""
    cjk = has_cjk(text)
    latin = [w for w in _LATIN_WORD.findall(text) if len(w) >= 2]
    if cjk and latin:
        return "mixed"
    if cjk:
        return "zh"
    return "en"


def strip_mentions(text: str, mentions: Sequence[Mention]) -> str:
    """The question with speaker/organisation names cut out (what remains is the topic)."""
    norm = normalize_for_match(text)
    if len(norm) == len(text):
        norm = text  # same offsets: keep the original case and width for the embedder
    out = []
    last = 0
    for m in sorted(mentions, key=lambda m: m.start):
        out.append(norm[last : m.start])
        last = m.end
    out.append(norm[last:])
    return " ".join(part.strip() for part in out if part.strip())


def _speakers_from(mentions: Sequence[Mention]) -> tuple[str, ...]:
    persons = [m.speaker.name for m in mentions if m.by == "person"]
    chosen = persons or [m.speaker.name for m in mentions]
    return tuple(dict.fromkeys(chosen))


def analyze(question: str, registry: SpeakerRegistry, history: Sequence[HistoryTurn] = ()) -> QuestionPlan:
    """Plan the answer for a question, resolving references to the previous turn."""
    question = question.strip()
    shadow = to_simplified(question)  # the patterns are written in simplified characters
    language = detect_language(question)
    mentions = tuple(registry.mentions(question))
    intent: Intent = "multi" if MULTI.search(shadow) else "who" if WHO.search(shadow) else "single"
    named = _speakers_from(mentions)
    previous = history[-1] if history else None

    if previous is not None:
        ellipsis = ELLIPSIS.match(shadow.strip())
        leftover = strip_mentions(question, mentions)
        short = len(leftover) <= 12 or (leftover.isascii() and len(leftover.split()) <= 4)
        if ellipsis and mentions and short:
            # "那华为呢？" / "What about BYD?": the previous topic, asked of a new speaker.
            prev_mentions = registry.mentions(previous.question)
            topic = strip_mentions(previous.question, prev_mentions)
            prev_plan = analyze(previous.question, registry, ())
            return QuestionPlan(
                question=question,
                search_text=f"{' '.join(m.alias for m in mentions)} {topic}".strip(),
                language=language,
                intent="single" if prev_plan.intent in ("who", "multi") else prev_plan.intent,
                filter_speakers=named,
                mentions=mentions,
                from_history=True,
                shown=shown_quotes(history),
            )
        persons = [m for m in mentions if m.by == "person"]
        # "他的公司和华为在哪些方面合作？": 他 is the previous speaker; an organisation named beside it is the topic.
        if not persons and PRONOUN.search(shadow) and previous.speakers:
            speakers = tuple(s for s in previous.speakers if registry.get(s)) or tuple(previous.speakers)
            target = speakers[:1]
            topic = PRONOUN.sub(" ", question)
            more = bool(MORE.search(shadow)) and len(_content(topic)) <= 6
            return QuestionPlan(
                question=question,
                search_text=previous.question if more else topic,
                language=language,
                intent="more" if more else "single",
                filter_speakers=target,
                mentions=mentions,
                exclude_text=(previous.answer or "") if more else "",
                from_history=True,
                shown=shown_quotes(history),
                chose_from=speakers if len(speakers) > 1 else (),
            )
    if intent in ("who", "multi"):
        # In "谁提到了华为？" the organisation is the topic, not the speaker.
        return QuestionPlan(question, question, language, intent, (), mentions, shown=shown_quotes(history))
    return QuestionPlan(question, question, language, intent, named, mentions, shown=shown_quotes(history))


def shown_quotes(history: Sequence[HistoryTurn]) -> tuple[str, ...]:
    """Every quote id the conversation showed, oldest first."""
    return tuple(dict.fromkeys(q for turn in history for q in turn.quotes))


_FILLER = re.compile(
    r"还|说了|讲了|提到了|什么|呢|吗|？|\?|。|\bwhat\b|\belse\b|\bdid\b|\bsay\b|\bsaid\b|\bmore\b|\banything\b|\bdoes\b",
    re.I,
)


def _content(text: str) -> str:
    return re.sub(r"\s+", "", _FILLER.sub("", text))


def speaker_display(speaker: Speaker, language: Language) -> str:
    """How a speaker is named in an answer's framing text."""
    if language == "en" and speaker.name_en:
        return f"{speaker.name_en} ({speaker.name})"
    return speaker.name
