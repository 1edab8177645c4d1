"""The gold question set: its records, reading it, and the checks that keep it true to the corpus."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rag.corpus import Chunk, slug_for
from rag.errors import RagError
from rag.records import HistoryTurn

PAGE_TYPES = (
    "factual",
    "paraphrased",
    "speaker",
    "who",
    "multi",
    "layout",
    "english",
    "mixed",
    "followup",
    "unanswerable",
    "english_multi",
    "absent",
    "event",
    "lead",
    "norepeat",
)
# Types graded as another (their own rows in the tables): English multi-speaker questions are multi-speaker
# questions, absent facts are unanswerable, follow-ups that must not repeat a shown quote are follow-ups.
GRADED_AS = {"english_multi": "multi", "absent": "unanswerable", "norepeat": "followup", "event": "factual", "lead": "factual"}
DOCUMENT_TYPES = (
    "factual",
    "paraphrased",
    "speaker",
    "who",
    "multi",
    "english",
    "followup",
    "traditional",
    "unanswerable",
)
QUESTION_TYPES = (
    "factual",
    "paraphrased",
    "speaker",
    "who",
    "multi",
    "layout",
    "english",
    "mixed",
    "followup",
    "traditional",
    "unanswerable",
    "english_multi",
    "absent",
    "event",
    "lead",
    "norepeat",
)
LANGUAGES = ("zh", "en", "mixed")
SPLITS = ("dev", "holdout")
MIN_PER_TYPE = 8
MIN_UNANSWERABLE = 15


class QuestionSetError(RagError):
    """The question file cannot be read or its gold does not match the corpus."""


def split_for(question_id: str) -> str:
    """The fixed split rule: ids end in a number; every fourth question of each type is held out."""
    tail = question_id.rsplit("-", 1)[-1]
    if not tail.isdigit():
        raise QuestionSetError(f"question id `{question_id}` must end in -<number>")
    return "holdout" if int(tail) % 4 == 0 else "dev"


@dataclass(frozen=True)
class SpanGold:
    """Gold written against a document's text (the multi-document part): the words, whose, and how."""

    document: str  # the file name
    span: str  # an exact substring of the document
    speaker: str
    attribution: str  # direct | reported


@dataclass(frozen=True)
class GoldQuestion:
    """One question with what a correct answer must contain."""

    id: str
    question: str
    language: str
    type: str
    split: str
    gold_speakers: tuple[str, ...]
    gold_paragraphs: tuple[str, ...]
    # paragraph id -> acceptable spans (any one suffices); a gold paragraph absent here accepts any excerpt
    gold_spans: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    history: tuple[HistoryTurn, ...] = ()
    unanswerable_kind: str = ""
    note: str = ""
    document: str = ""  # the document file the question asks about, when the set says (the documents part)
    # The multi-document part writes gold as spans of documents; `resolve_spans` turns them into paragraphs,
    # and the attribution kind each gold paragraph's span must be quoted with.
    span_gold: tuple[SpanGold, ...] = ()
    gold_attribution: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)  # pid -> (span, kind)

    @property
    def graded_as(self) -> str:
        """The type whose rules grade this question (its own type, or the one GRADED_AS names)."""
        return GRADED_AS.get(self.type, self.type)

    @property
    def answerable(self) -> bool:
        return self.graded_as != "unanswerable"

    @property
    def single(self) -> bool:
        """Answerable by one quote (everything but unanswerable and multi-speaker questions)."""
        return self.answerable and self.graded_as != "multi"

    @property
    def followup(self) -> bool:
        return self.graded_as == "followup"


def _alternatives(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise QuestionSetError(f"{where}: a gold span is a string or a list of strings")


def parse_question(data: Mapping[str, Any], where: str = "question") -> GoldQuestion:
    """One JSON object of the question file (`gold_span` for one paragraph, `gold_spans` for several)."""
    if data.get("needs_label"):
        raise QuestionSetError(
            f"{where}: `{data.get('id', '?')}` is a candidate from feedback, not labelled yet: fill in its gold "
            "(gold_speakers, gold_paragraphs, gold_span; or type unanswerable with unanswerable_kind), "
            "then remove `needs_label`"
        )
    try:
        paragraphs = tuple(data.get("gold_paragraphs") or ())
        spans: dict[str, tuple[str, ...]] = {}
        span_gold = _span_gold(data.get("gold_spans"), where)
        if span_gold:
            pass  # resolved against the corpus by resolve_spans
        elif data.get("gold_spans"):
            spans = {pid: _alternatives(v, where) for pid, v in dict(data["gold_spans"]).items()}
        elif data.get("gold_span") is not None:
            if len(paragraphs) != 1:
                raise QuestionSetError(f"{where}: `gold_span` needs exactly one gold paragraph; use `gold_spans`")
            spans = {paragraphs[0]: _alternatives(data["gold_span"], where)}
        history = tuple(
            HistoryTurn(str(t["question"]), t.get("answer"), tuple(t.get("speakers") or ()), tuple(t.get("quotes") or ()))
            for t in data.get("history") or ()
        )
        return GoldQuestion(
            id=str(data["id"]),
            question=str(data["question"]),
            language=str(data["language"]),
            type=str(data["type"]),
            split=str(data["split"]),
            gold_speakers=tuple(data.get("gold_speakers") or ()),
            gold_paragraphs=paragraphs,
            gold_spans=spans,
            history=history,
            unanswerable_kind=str(data.get("unanswerable_kind") or ""),
            note=str(data.get("note") or ""),
            span_gold=span_gold,
            document=str(data.get("document") or ""),
        )
    except KeyError as exc:
        raise QuestionSetError(f"{where}: missing field {exc}") from None


def _span_gold(value: object, where: str) -> tuple[SpanGold, ...]:
    """`gold_spans` as a list of {document, span, speaker, attribution} (the multi-document part), else ()."""
    if not isinstance(value, list):
        return ()
    out = []
    for item in value:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("document", "span", "speaker")):
            raise QuestionSetError(f"{where}: a gold span names its document, span and speaker")
        attribution = str(item.get("attribution") or "direct")
        if attribution not in ("direct", "reported"):
            raise QuestionSetError(f"{where}: attribution is direct or reported, not {attribution}")
        out.append(SpanGold(item["document"], item["span"], item["speaker"], attribution))
    return tuple(out)


def resolve_spans(questions: Sequence[GoldQuestion], chunks: Iterable[Chunk]) -> list[GoldQuestion]:
    """Span gold as paragraph gold: each span's paragraph in its document (by the document's file name).

    A span no paragraph holds (the parser dropped those words) keeps a paragraph id no quote can have, so the
    question fails as it should instead of the gold being refused.
    """
    by_document: dict[str, list[Chunk]] = {}
    for c in chunks:
        by_document.setdefault(c.document, []).append(c)
    out = []
    for q in questions:
        if not q.span_gold:
            out.append(q)
            continue
        paragraphs: list[str] = []
        spans: dict[str, tuple[str, ...]] = {}
        kinds: dict[str, tuple[tuple[str, str], ...]] = {}
        for gold in q.span_gold:
            slug = slug_for(Path(gold.document))
            pid = next((c.id for c in by_document.get(slug, ()) if gold.span in c.text), f"{slug}-missing")
            paragraphs.append(pid)
            spans[pid] = (*spans.get(pid, ()), gold.span)
            kinds[pid] = (*kinds.get(pid, ()), (gold.span, gold.attribution))
        out.append(
            replace(q, gold_paragraphs=tuple(dict.fromkeys(paragraphs)), gold_spans=spans, gold_attribution=kinds)
        )
    return out


def load_questions(path: Path) -> list[GoldQuestion]:
    """Read a JSONL question file (blank lines and lines starting with # are skipped)."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QuestionSetError(f"{path}:{number}: not JSON ({exc.msg})") from None
        questions.append(parse_question(data, f"{path}:{number}"))
    return questions


@dataclass(frozen=True)
class CorpusParagraph:
    """What the grader needs of a corpus paragraph: its words, its own voice, and whose words are in it."""

    id: str
    text: str
    speaker: str  # the paragraph's own voice (a speaker, or 编者按 / 报道 for the document's own text)
    persons: tuple[str, ...] = ()  # everyone whose words it holds
    voices: tuple[tuple[int, int, str], ...] = ()  # (start, end, speaker) of the words that are a segment's

    def speaker_at(self, start: int, end: int) -> str:
        """Who the words at [start, end) are: a segment's speaker, else the paragraph's own voice."""
        return next((who for s, e, who in self.voices if s <= start and end <= e), self.speaker)


def corpus_paragraphs(chunks: Iterable[Chunk]) -> dict[str, CorpusParagraph]:
    return {
        c.id: CorpusParagraph(
            c.id, c.text, c.speaker, c.persons(), tuple((s.start, s.end, s.speaker) for s in c.segments)
        )
        for c in chunks
    }


def gold_problems(questions: Sequence[GoldQuestion], paragraphs: Mapping[str, CorpusParagraph]) -> list[str]:
    """Everything wrong with the gold, one line each (empty: the gold is consistent with the corpus)."""
    problems: list[str] = []
    seen: set[str] = set()
    for q in questions:
        where = q.id
        if q.id in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(q.id)
        if q.type not in QUESTION_TYPES:
            problems.append(f"{where}: unknown type `{q.type}`")
        if q.language not in LANGUAGES:
            problems.append(f"{where}: unknown language `{q.language}`")
        try:
            if q.split != split_for(q.id):
                problems.append(f"{where}: split is `{q.split}`, the rule gives `{split_for(q.id)}`")
        except QuestionSetError as exc:
            problems.append(str(exc))
        if q.followup != bool(q.history):
            problems.append(f"{where}: follow-ups, and only follow-ups, carry a history")
        if not q.answerable:
            if q.gold_speakers or q.gold_paragraphs or q.gold_spans:
                problems.append(f"{where}: an unanswerable question has no gold")
            if not q.unanswerable_kind:
                problems.append(f"{where}: unanswerable questions say which kind (unanswerable_kind)")
            continue
        if not q.gold_paragraphs or not q.gold_speakers:
            problems.append(f"{where}: answerable questions need gold paragraphs and speakers")
        if len(set(q.gold_paragraphs)) != len(q.gold_paragraphs):
            problems.append(f"{where}: a gold paragraph is listed twice")
        if not q.gold_spans and not q.followup:
            problems.append(f"{where}: only open follow-ups may go without a gold span")
        for pid in q.gold_spans:
            if pid not in q.gold_paragraphs:
                problems.append(f"{where}: span for {pid}, which is not a gold paragraph")
        speakers_of_gold: set[str] = set()
        for pid in q.gold_paragraphs:
            para = paragraphs.get(pid)
            if para is None:
                if not (q.span_gold and pid.endswith("-missing")):  # a span the parser dropped: graded as a miss
                    problems.append(f"{where}: gold paragraph {pid} is not in the corpus")
                continue
            speakers_of_gold.update(para.persons or (para.speaker,))
            for span in q.gold_spans.get(pid, ()):
                if not span or span not in para.text:
                    problems.append(f"{where}: span `{span}` is not in {pid}")
        if speakers_of_gold and speakers_of_gold != set(q.gold_speakers) and not q.span_gold:
            problems.append(
                f"{where}: gold speakers {sorted(q.gold_speakers)} but the gold paragraphs are "
                f"by {sorted(speakers_of_gold)}"
            )
        if q.graded_as not in ("multi", "followup") and len(q.gold_speakers) != 1:
            problems.append(f"{where}: only multi-speaker questions and follow-ups after them have several gold speakers")
        if q.graded_as == "multi" and len(q.gold_speakers) < 2:
            problems.append(f"{where}: a multi-speaker question needs at least two gold speakers")
    return problems


def coverage_problems(
    questions: Sequence[GoldQuestion],
    types: Sequence[str] = PAGE_TYPES,
    min_per_type: int = MIN_PER_TYPE,
    min_unanswerable: int = MIN_UNANSWERABLE,
) -> list[str]:
    """Types with too few questions to report separately, or a type missing from the holdout."""
    problems = []
    for t in types:
        of_type = [q for q in questions if q.type == t]
        need = min_unanswerable if t == "unanswerable" else min_per_type
        if len(of_type) < need:
            problems.append(f"type {t}: {len(of_type)} questions, at least {need} needed")
        if of_type and not any(q.split == "holdout" for q in of_type):
            problems.append(f"type {t}: no holdout question")
    return problems
