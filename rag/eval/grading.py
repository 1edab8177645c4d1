"""Grading one answer against its gold, and the metrics over many (pure functions over typed records)."""

from __future__ import annotations

import hashlib
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rag.corpus import paragraph_document, slug_for
from rag.eval.gold import LANGUAGES, QUESTION_TYPES, CorpusParagraph, GoldQuestion
from rag.records import parse_quote_id
from rag.script import to_simplified

MODES = ("bm25", "dense", "hybrid")
K = 5  # hit@1/3/5, nDCG@5, and the top_k every question is asked with
NAMED_FIRST_CHARS = 20  # "who" answers must name the speaker within this many characters


# ---------------------------------------------------------------- what the system returned


@dataclass(frozen=True)
class SeenQuote:
    """A quote as the system returned it (only the fields grading needs)."""

    text: str
    paragraph: str
    start: int
    end: int
    speaker: str
    speaker_en: str
    paragraph_id: str
    attribution: str | None = "direct"  # direct | reported | None (the document's own words)


@dataclass(frozen=True)
class Observation:
    """One answer as the client saw it; `error` is set when the request itself failed."""

    found: bool
    answer: str
    intent: str
    quotes: tuple[SeenQuote, ...]
    closest: tuple[SeenQuote, ...] = ()
    speakers: tuple[str, ...] = ()
    latency_ms: float = 0.0
    error: str = ""


def observation_from_json(data: Mapping[str, Any], latency_ms: float) -> Observation:
    """An Answer.to_json() body (what POST /ask returns) as an Observation."""

    def quotes(items: Iterable[Mapping[str, Any]]) -> tuple[SeenQuote, ...]:
        return tuple(
            SeenQuote(
                text=q["text"],
                paragraph=q["paragraph"],
                start=int(q["start"]),
                end=int(q["end"]),
                speaker=q["speaker"],
                speaker_en=q.get("speaker_en") or "",
                paragraph_id=q["paragraph_id"],
                attribution=q.get("attribution", "direct"),
            )
            for q in items
        )

    return Observation(
        found=bool(data["found"]),
        answer=str(data.get("answer") or ""),
        intent=str(data.get("intent") or ""),
        quotes=quotes(data.get("quotes") or ()),
        closest=quotes(data.get("closest") or ()),
        speakers=tuple(data.get("speakers") or ()),
        latency_ms=latency_ms,
    )


class AskClient(Protocol):
    """The code path under test: POST /ask, in-process or over HTTP."""

    target: str

    def ask(self, question: GoldQuestion, mode: str, top_k: int) -> Observation: ...


class Retriever(Protocol):
    """The retrieval stage alone: paragraph ids, best first."""

    def rank(self, question: str, mode: str, k: int) -> list[str]: ...


# ---------------------------------------------------------------- grading one answer


@dataclass(frozen=True)
class Grade:
    """How one answer measured up. `None` means the check does not apply to this question."""

    passed: bool
    reason: str  # why it failed; empty when it passed
    found: bool
    answer_rank: int | None  # rank among the quotes of the first quote from a gold paragraph
    excerpt_ok: bool | None  # first quote is from a gold paragraph: does it contain a gold span?
    speaker_ok: bool | None  # single-answer questions: is the first quote's speaker a gold speaker?
    speaker_recall: float | None  # multi: gold speakers quoted / min(gold speakers, top_k)
    speaker_precision: float | None  # multi: quoted speakers that are gold / quoted speakers
    named_first: bool | None  # "who" questions: the first quote's speaker is named in the answer's first words
    attribution_ok: bool | None  # the first quote is gold and its attribution kind (direct / reported) is the gold's
    quotes_checked: int
    quotes_exact: int  # text == paragraph[start:end] and paragraph == the corpus paragraph
    quotes_attributed: int  # speaker == the corpus paragraph's speaker


def quote_checks(quotes: Iterable[SeenQuote], paragraphs: Mapping[str, CorpusParagraph]) -> tuple[int, int, int]:
    """(checked, exact, attributed) over every quote returned, answers and closest passages alike."""
    checked = exact = attributed = 0
    for q in quotes:
        checked += 1
        para = paragraphs.get(q.paragraph_id)
        if para is None:
            continue
        if q.paragraph == para.text and 0 <= q.start <= q.end and q.paragraph[q.start : q.end] == q.text and q.text:
            exact += 1
        if q.speaker == para.speaker_at(q.start, q.end):
            attributed += 1
    return checked, exact, attributed


def _contains_span(q: GoldQuestion, quote: SeenQuote) -> bool | None:
    spans = q.gold_spans.get(quote.paragraph_id)
    if quote.paragraph_id not in q.gold_paragraphs:
        return None
    if not spans:
        return None  # open question: any excerpt of a gold paragraph will do
    return any(s in quote.text for s in spans)


def _names_first(answer: str, first: SeenQuote) -> bool:
    """The speaker's name opens the answer: within its first words and before the quoted words."""
    text = answer.lstrip()
    found = [i for i in (text.find(n) for n in (first.speaker, first.speaker_en) if n) if i >= 0]
    quoted = text.find(first.text[:12]) if first.text else -1
    return bool(found) and min(found) <= NAMED_FIRST_CHARS and (quoted < 0 or min(found) < quoted)


def _same_person(name: str, names: Iterable[str]) -> bool:
    """The same name in either script (劉慶峰 = 刘庆峰)."""
    return to_simplified(name) in {to_simplified(n) for n in names}


def short_id(pid: str) -> str:
    """p12 for wenhua-keji-zuotanhui-p12."""
    return pid.rsplit("-", 1)[-1]


def grade(q: GoldQuestion, obs: Observation, paragraphs: Mapping[str, CorpusParagraph], top_k: int = K) -> Grade:
    """Grade one answer. Passing means: the reader of the first quote got the right words from the right person."""
    checked, exact, attributed = quote_checks((*obs.quotes, *obs.closest), paragraphs)
    found = obs.found and bool(obs.quotes) and not obs.error
    ids = [x.paragraph_id for x in obs.quotes] if found else []
    rank = next((i for i, pid in enumerate(ids, start=1) if pid in q.gold_paragraphs), None)
    first = obs.quotes[0] if found else None
    excerpt_ok = speaker_ok = named_first = attribution_ok = None
    recall = precision = None
    reason = ""
    if obs.error:
        reason = f"request failed: {obs.error}"
    elif not q.answerable:
        if found:
            reason = f"answered an unanswerable question (quoted {first.speaker if first else '?'})"
    elif not found:
        reason = "said not found (false abstention)"
    if q.single:
        speaker_ok = bool(first and _same_person(first.speaker, q.gold_speakers))
        if first and first.paragraph_id in q.gold_paragraphs:
            excerpt_ok = _contains_span(q, first)
            kinds = [kind for span, kind in q.gold_attribution.get(first.paragraph_id, ()) if span in first.text]
            attribution_ok = None if not kinds else first.attribution in kinds
        if q.type == "who" and first:
            named_first = _names_first(obs.answer, first)  # the format alone; the speaker is graded apart
        if first and not reason:
            if first.paragraph_id not in q.gold_paragraphs:
                reason = (
                    f"first quote is {short_id(first.paragraph_id)} ({first.speaker}); "
                    f"expected {', '.join(short_id(p) for p in q.gold_paragraphs)} ({', '.join(q.gold_speakers)})"
                )
            elif excerpt_ok is False:
                reason = "right paragraph, but the excerpt misses the gold span"
            elif attribution_ok is False:
                reason = (
                    f"right words, but quoted as {first.attribution or 'the document'}'s words, not as the gold says"
                )
            elif not speaker_ok:
                reason = f"right paragraph, but quoted as {first.speaker}'s, not {', '.join(q.gold_speakers)}'s"
            elif named_first is False:
                reason = "the answer does not name the speaker first"
    elif q.graded_as == "multi":
        quoted = list(dict.fromkeys(x.speaker for x in obs.quotes)) if found else []
        hits = [s for s in quoted if _same_person(s, q.gold_speakers)]
        recall = len(hits) / min(len(q.gold_speakers), top_k)
        precision = len(hits) / len(quoted) if quoted else 0.0
        missing = [s for s in q.gold_speakers if not _same_person(s, quoted)]
        if not reason and recall < 1:
            reason = f"missing speakers: {', '.join(missing)}"
    if not reason and q.history and found:
        repeated = _repeated(obs.quotes, q)
        if repeated:
            reason = f"repeats a quote the conversation already showed ({repeated})"
    if checked and (exact < checked or attributed < checked) and not reason:
        reason = "a quote is not verbatim or not attributed to its paragraph's speaker"
    return Grade(
        passed=not reason,
        reason=reason,
        found=found,
        answer_rank=rank,
        excerpt_ok=excerpt_ok,
        speaker_ok=speaker_ok,
        speaker_recall=recall,
        speaker_precision=precision,
        named_first=named_first,
        attribution_ok=attribution_ok,
        quotes_checked=checked,
        quotes_exact=exact,
        quotes_attributed=attributed,
    )


def _repeated(quotes: Sequence[SeenQuote], q: GoldQuestion) -> str:
    """The first quote overlapping an excerpt the question's history showed ('' when none does)."""
    shown = [s for s in (parse_quote_id(i) for t in q.history for i in t.quotes) if s is not None]
    for x in quotes:
        if any(pid == x.paragraph_id and start < x.end and x.start < end for pid, start, end in shown):
            return f"{short_id(x.paragraph_id)}:{x.start}-{x.end}"
    return ""


@dataclass(frozen=True)
class RetrievalGrade:
    """The retrieval stage's ranking for one answerable question."""

    ranked: tuple[str, ...]
    rank: int | None  # 1-based rank of the first gold paragraph
    ndcg: float  # nDCG@K, every gold paragraph relevant (binary)


def grade_ranking(q: GoldQuestion, ranked: Sequence[str], k: int = K) -> RetrievalGrade:
    gold = set(q.gold_paragraphs)
    top = list(ranked[:k])
    rank = next((i for i, pid in enumerate(top, start=1) if pid in gold), None)
    dcg = sum(1 / math.log2(i + 1) for i, pid in enumerate(top, start=1) if pid in gold)
    ideal = sum(1 / math.log2(i + 1) for i in range(1, min(len(gold), k) + 1))
    return RetrievalGrade(ranked=tuple(top), rank=rank, ndcg=dcg / ideal if ideal else 0.0)


@dataclass(frozen=True)
class QuestionResult:
    """One question asked in one mode: what came back and how it graded."""

    question: GoldQuestion
    mode: str
    observation: Observation
    grade: Grade
    retrieval: RetrievalGrade | None = None


# ---------------------------------------------------------------- metrics over many answers


@dataclass(frozen=True)
class Metrics:
    """Aggregates over a set of results; a metric is None when no question in the set measures it."""

    n: int
    n_ranked: int  # questions the retrieval stage ranked (answerable, without history)
    passed: float | None
    hit1: float | None  # retrieval stage (search), answerable questions without history
    hit3: float | None
    hit5: float | None
    mrr: float | None
    ndcg5: float | None
    answer_hit1: float | None  # the first quote comes from a gold paragraph
    excerpt_precision: float | None
    speaker_accuracy: float | None
    multi_recall: float | None
    multi_precision: float | None
    who_named_first: float | None
    quote_exactness: float | None
    attribution_accuracy: float | None
    attribution_kind: float | None  # first quotes from gold paragraphs: direct / reported as the gold says
    abstention_precision: float | None
    abstention_recall: float | None
    false_abstentions: int
    false_abstention_rate: float | None
    followup_success: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    errors: int


def _mean(values: Iterable[float | bool | None]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _percentile(values: Sequence[float], pct: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def metrics(results: Sequence[QuestionResult]) -> Metrics:
    answerable = [r for r in results if r.question.answerable]
    unanswerable = [r for r in results if not r.question.answerable]
    ranked = [r.retrieval for r in results if r.retrieval is not None]
    abstained = [r for r in results if not r.grade.found]
    true_abstained = [r for r in abstained if not r.question.answerable]
    checked = sum(r.grade.quotes_checked for r in results)
    latencies = sorted(r.observation.latency_ms for r in results if not r.observation.error)
    false = [r for r in answerable if not r.grade.found and not r.observation.error]

    def hit(k: int) -> float | None:
        return _mean(g.rank is not None and g.rank <= k for g in ranked) if ranked else None

    return Metrics(
        n=len(results),
        n_ranked=len(ranked),
        passed=_mean(r.grade.passed for r in results),
        hit1=hit(1),
        hit3=hit(3),
        hit5=hit(5),
        mrr=_mean((1 / g.rank if g.rank else 0.0) for g in ranked) if ranked else None,
        ndcg5=_mean(g.ndcg for g in ranked) if ranked else None,
        answer_hit1=_mean(r.grade.answer_rank == 1 for r in answerable),
        excerpt_precision=_mean(r.grade.excerpt_ok for r in results),
        speaker_accuracy=_mean(r.grade.speaker_ok for r in results),
        multi_recall=_mean(r.grade.speaker_recall for r in results),
        multi_precision=_mean(r.grade.speaker_precision for r in results if r.grade.found),
        who_named_first=_mean(r.grade.named_first for r in results if r.question.type == "who"),
        quote_exactness=sum(r.grade.quotes_exact for r in results) / checked if checked else None,
        attribution_accuracy=sum(r.grade.quotes_attributed for r in results) / checked if checked else None,
        attribution_kind=_mean(r.grade.attribution_ok for r in results),
        abstention_precision=len(true_abstained) / len(abstained) if abstained and unanswerable else None,
        abstention_recall=len(true_abstained) / len(unanswerable) if unanswerable else None,
        false_abstentions=len(false),
        false_abstention_rate=len(false) / len(answerable) if answerable else None,
        followup_success=_mean(r.grade.passed for r in results if r.question.followup),
        latency_p50_ms=_percentile(latencies, 50),
        latency_p95_ms=_percentile(latencies, 95),
        errors=sum(1 for r in results if r.observation.error),
    )


def group(results: Sequence[QuestionResult], key: Callable[[QuestionResult], str]) -> dict[str, list[QuestionResult]]:
    out: dict[str, list[QuestionResult]] = {}
    for r in results:
        out.setdefault(key(r), []).append(r)
    return out


@dataclass(frozen=True)
class Slice:
    """Metrics for one slice of the results, over all questions and per split."""

    all: Metrics
    dev: Metrics
    holdout: Metrics


def slice_metrics(results: Sequence[QuestionResult]) -> Slice:
    return Slice(
        all=metrics(results),
        dev=metrics([r for r in results if r.question.split == "dev"]),
        holdout=metrics([r for r in results if r.question.split == "holdout"]),
    )


def _type_order(name: str) -> int:
    return QUESTION_TYPES.index(name) if name in QUESTION_TYPES else len(QUESTION_TYPES)


@dataclass(frozen=True)
class Summary:
    """The numbers a report shows: per mode, and per type and language for every mode."""

    by_mode: dict[str, Slice]
    by_type: dict[str, dict[str, Slice]]  # mode -> type -> slice
    by_language: dict[str, dict[str, Slice]]  # mode -> language -> slice
    by_document: dict[str, dict[str, Slice]] = field(default_factory=dict)  # mode -> document -> slice


def document_of(q: GoldQuestion) -> str:
    """The document a question is about: its gold paragraphs' document, several, or the one the set names."""
    slugs = sorted({paragraph_document(pid) for pid in q.gold_paragraphs})
    if len(slugs) == 1:
        return slugs[0]
    if slugs:
        return "(several documents)"
    return slug_for(Path(q.document)) if q.document else "(no gold paragraph)"


def summarize(results: Sequence[QuestionResult]) -> Summary:
    by_mode = group(results, lambda r: r.mode)
    return Summary(
        by_mode={m: slice_metrics(rs) for m, rs in by_mode.items()},
        by_type={
            m: {
                t: slice_metrics(g)
                for t, g in sorted(group(rs, lambda r: r.question.type).items(), key=lambda kv: _type_order(kv[0]))
            }
            for m, rs in by_mode.items()
        },
        by_language={
            m: {
                lang: slice_metrics(g)
                for lang, g in sorted(
                    group(rs, lambda r: r.question.language).items(),
                    key=lambda kv: LANGUAGES.index(kv[0]) if kv[0] in LANGUAGES else 9,
                )
            }
            for m, rs in by_mode.items()
        },
        by_document={
            m: {d: slice_metrics(g) for d, g in sorted(group(rs, lambda r: document_of(r.question)).items())}
            for m, rs in by_mode.items()
        },
    )


# ---------------------------------------------------------------- running


@dataclass(frozen=True)
class RunInfo:
    """What a run was: against what, with which embedder and questions, when."""

    target: str
    embedder: str
    modes: tuple[str, ...]
    headline_mode: str
    top_k: int
    questions_file: str
    questions_sha256: str
    created: str
    retrieval_stage: bool  # whether hit@k/MRR/nDCG come from the retrieval stage (in-process only)


@dataclass(frozen=True)
class EvalRun:
    info: RunInfo
    results: tuple[QuestionResult, ...]

    def for_mode(self, mode: str) -> list[QuestionResult]:
        return [r for r in self.results if r.mode == mode]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# Not in any question set, so no answer cache can turn a measured request into a cache hit.
WARM_UP = GoldQuestion("warm-up-1", "座谈会上大家谈了哪些话题？", "zh", "factual", "dev", (), ())


def run_questions(
    questions: Sequence[GoldQuestion],
    client: AskClient,
    paragraphs: Mapping[str, CorpusParagraph],
    modes: Sequence[str] = MODES,
    retriever: Retriever | None = None,
    top_k: int = K,
    progress: Callable[[int], None] | None = None,
) -> list[QuestionResult]:
    """Ask every question in every mode through `client`; rank answerable ones with `retriever` too."""
    out: list[QuestionResult] = []
    for mode in modes:
        client.ask(WARM_UP, mode, top_k)  # unmeasured: the first request pays one-off start-up costs
        for q in questions:
            obs = client.ask(q, mode, top_k)
            ranking = None
            if retriever is not None and q.answerable and not q.history:
                ranking = grade_ranking(q, retriever.rank(q.question, mode, K))
            out.append(QuestionResult(q, mode, obs, grade(q, obs, paragraphs, top_k), ranking))
            if progress:
                progress(1)
    return out
