"""What a question asks about someone or something, and whether a passage gives it.

"华为云有多少名员工？" asks for a count of 员工; a passage that counts customers (客户) does not answer it, one
that counts 员工 or a thesaurus relative (职工) does. "刘庆峰多大年纪？" asks for an age: only a passage that
speaks of 岁 / 年龄 / 出生 can answer. "座谈会是哪一年召开的？" asks the event's year: the editor's note gives
9月30日, no year, so the answer says so instead of quoting the date as if it were the year.

The attributes are data (`rag/data/attributes.tsv`: pattern, labels, evidence words, answer type); a count of
any noun ("多少名X", "how many Xs") is derived from the question itself, its evidence being X, its thesaurus
relatives (rag.synonyms) and, for English, X's dictionary translations the corpus uses (rag.translation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from rag import quantity
from rag.index.load import Index
from rag.retrieval import Hit
from rag.script import to_simplified
from rag.synonyms import related
from rag.vocabulary import Language

AnswerType = Literal["any", "count", "amount", "time", "year", "date", "place", "person"]
Subject = Literal["person", "organization", "event", "any"]
TABLE = Path(__file__).parent / "data" / "attributes.tsv"
EVENT_WORDS = re.compile(r"座谈会|会议|大会|论坛|活动|本次|这次|\b(meeting|symposium|forum|conference|event)\b", re.I)
COUNT_NOUN_ZH = re.compile(r"(?:多少|几)(?P<unit>[个家项位种次名场件部座所条批人元倍台套本册篇款辆艘户间架只]|万|亿)?(?P<noun>[\u4e00-\u9fff]{2,6}?)(?:[？?。，,]|$|呢|吗|了)")
COUNT_NOUN_EN = re.compile(r"\bhow many (?P<noun>[a-z][a-z\-]+)", re.I)
PEOPLE_UNITS = frozenset("名位人")
YEAR = re.compile(r"(?:19|20)[0-9]{2}年?|[0-9０-９]{4}年|(?:今|去|明|前)年")
AMOUNT = re.compile(r"[0-9０-９一二三四五六七八九十两百千万亿]+(?:多|余)?(?:万|亿)?(?:元|美元|块)")


@dataclass(frozen=True)
class Attribute:
    """One row of the table: what is asked and what evidence a passage must hold for it."""

    name: str
    pattern: re.Pattern[str]
    label_zh: str
    label_en: str
    evidence: tuple[str, ...]
    answer: AnswerType
    subject: Subject


@dataclass(frozen=True)
class Asked:
    """The attribute a question asks for, about whom, and the evidence an answering passage needs."""

    name: str
    label_zh: str
    label_en: str
    evidence: frozenset[str]  # a passage must contain one (empty: the answer type alone decides)
    answer: AnswerType
    about_event: bool
    subject: str  # as the question names it: 华为云, Huawei Cloud, 座谈会
    unit: str = ""  # a count's unit, when the question names one (多少辆 → 辆)

    def answered_by(self, text: str, index: Index) -> bool:
        """The passage states this attribute: an evidence word and an answer of the right type."""
        plain = to_simplified(text)
        if self.evidence and not any(w in plain for w in self.evidence):
            return False
        return answer_of_type(plain, self.answer, index, self.unit)

    def missing(self, language: Language, document_word: str) -> str:
        """What the speeches do not give, said plainly in the question's language."""
        if language == "en":
            whose = f"{self.subject}'s " if self.subject and not self.about_event else ""
            event = " of the event" if self.about_event else ""
            return f"{document_word} does not give {whose}{self.label_en}{event}."
        subject = f"{self.subject}的" if self.subject else ""
        return f"{document_word}没有提到{subject}{self.label_zh}。"


def answer_of_type(text: str, answer: AnswerType, index: Index, unit: str = "") -> bool:
    """The passage holds an answer of this type (a count, an amount, a year, a date, a place, a person)."""
    if answer == "any":
        return True
    if answer == "count":
        return quantity.AskedQuantity("count", unit).stated_in(text)
    if answer == "amount":
        return bool(AMOUNT.search(text))
    if answer == "year":
        return bool(YEAR.search(text))
    if answer in ("time", "date"):
        return bool(quantity.DATE.search(text)) or bool(YEAR.search(text))
    flags = {"place": ("ns",), "person": ("nr", "nrfg", "nrt")}[answer]
    return any(flag in flags for _, flag in index.tokenizer.words(text))


@lru_cache(maxsize=1)
def table() -> tuple[Attribute, ...]:
    """The attribute table, read once."""
    rows = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, pattern, zh, en, evidence, answer, subject = line.split("\t")
        rows.append(
            Attribute(
                name, re.compile(pattern, re.I), zh, en, tuple(evidence.split("|")), answer, subject  # type: ignore[arg-type]
            )
        )
    return tuple(rows)


def asked_attribute(question: str, subject: str, index: Index) -> Asked | None:
    """What the question asks for, if it is one of the known attributes or a count of a noun; else None."""
    text = to_simplified(question)
    event = bool(EVENT_WORDS.search(text)) and not subject
    for row in table():
        if row.subject == "event" and not event:
            continue
        if row.pattern.search(text):
            words = frozenset(w for e in row.evidence for w in (e, *related(e)) if w)
            named = EVENT_WORDS.search(text) if row.subject == "event" else None
            about = named.group(0) if named else subject or (_year_subject(text) if row.name == "year" else "")
            return Asked(row.name, row.label_zh, row.label_en, words, row.answer, row.subject == "event", about)
    return _count_of_noun(text, subject, index) or (_which_of_event(text) if event else None)


WHICH_NOUN = re.compile(r"(?:哪个|哪一个|哪家|哪座|哪间|哪所|什么)(?P<noun>[\u4e00-\u9fff]{2})")


def _which_of_event(text: str) -> Asked | None:
    """"座谈会在哪个会场举行？": the event's 会场, which a passage must name."""
    m = WHICH_NOUN.search(text)
    if m is None:
        return None
    noun = m.group("noun")
    named = EVENT_WORDS.search(text)
    return Asked(
        "event_which", noun, noun, frozenset({noun, *(r for r in related(noun) if noun in r)}), "any", True,
        named.group(0) if named else "",
    )


YEAR_SUBJECT = re.compile(r"^(?P<subject>[\u4e00-\u9fff]{2,12}?)(?:是|在|于)?(?:哪一年|哪年)")


def _year_subject(text: str) -> str:
    """马栏山译制中心 in "马栏山译制中心是哪一年建成的？"."""
    m = YEAR_SUBJECT.search(text)
    return m.group("subject") if m else ""


def _count_of_noun(text: str, subject: str, index: Index) -> Asked | None:
    """"多少名员工" / "how many employees": a count whose passage must name the noun (or a relative)."""
    from rag.translation import dictionary_words_for  # English nouns are checked in Chinese words

    zh = COUNT_NOUN_ZH.search(text)
    if zh:
        noun = zh.group("noun")
        unit = zh.group("unit") or ""
        label = f"{noun}人数" if set(unit) & PEOPLE_UNITS or noun.endswith(("员", "工", "人")) else f"{noun}数量"
        head = noun[-2:]  # a Chinese noun phrase ends in its head noun: 报名作品 → 作品
        evidence = frozenset({noun, head, *related(noun), *related(head)})
        return Asked("count_of", label, f"number of {noun}", evidence, "count", False, subject, unit)
    en = COUNT_NOUN_EN.search(text)
    if en:
        noun = en.group("noun").lower()
        translations = dictionary_words_for(noun)
        if not translations:
            return None  # the dictionary does not know the word: nothing to require
        # Every translation counts, with its thesaurus relatives: "users" → 用户 → 客户 (what the speaker said).
        evidence = frozenset(w for t in translations for w in (t, *related(t)))
        return Asked("count_of", f"{noun}数量", f"number of {noun}", evidence or frozenset({"\x00"}), "count", False, subject)
    return None


def looked_at(hits: list[Hit], asked: Asked) -> list[Hit]:
    """The passages that may give the attribute: the best QUANTITY_DEPTH; for the event, also every passage in
    the document's own voice (an editor's note, a report's narrative) among the hits."""
    head = hits[: quantity.QUANTITY_DEPTH]
    if not asked.about_event:
        return head
    own_voice = [h for h in hits if not h.chunk.persons() and h not in head]
    return [*[h for h in head if not h.chunk.persons()], *own_voice, *[h for h in head if h.chunk.persons()]]


def answering_first(hits: list[Hit], asked: Asked | None, index: Index) -> list[Hit]:
    """The passages that give the asked attribute go first, in their order; the rest follow."""
    if asked is None:
        return hits
    # A count of a noun is ordered by the count alone: the answering passage may name the noun otherwise
    # (资助 for 资金); the noun decides only whether any passage answers at all.
    if asked.name == "count_of":
        giving = [h for h in looked_at(hits, asked) if answer_of_type(to_simplified(h.chunk.text), "count", index, asked.unit)]
    else:
        giving = [h for h in looked_at(hits, asked) if asked.answered_by(h.chunk.text, index)]
    if not giving:
        return hits
    chosen = {h.row for h in giving}
    return [*giving, *(h for h in hits if h.row not in chosen)]


def unanswered(hits: list[Hit], asked: Asked | None, index: Index) -> bool:
    """No passage that may give the attribute gives it."""
    return asked is not None and not any(asked.answered_by(h.chunk.text, index) for h in looked_at(hits, asked))


def partial_time(index: Index, hits: list[Hit], asked: Asked) -> str:
    """For an event year the page does not give: the date it does give (9月30日), from the document's metadata."""
    if asked.name != "event_year" or not hits:
        return ""
    info = index.document(hits[0].chunk.document)
    return (info.event.get("date") or info.date) if info is not None else ""
