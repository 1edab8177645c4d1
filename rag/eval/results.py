"""results.json: every question with what was expected, what came back and the verdict; and comparing two."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from rag.corpus import paragraph_document
from rag.eval.gold import GoldQuestion
from rag.eval.grading import EvalRun, QuestionResult, document_of, short_id, summarize


def _expected(q: GoldQuestion) -> dict[str, Any]:
    return {
        "found": q.answerable,
        "speakers": list(q.gold_speakers),
        "paragraphs": list(q.gold_paragraphs),
        "spans": {pid: list(spans) for pid, spans in q.gold_spans.items()},
    }


def _got(r: QuestionResult) -> dict[str, Any]:
    o = r.observation
    return {
        "found": o.found,
        "answer": o.answer,
        "intent": o.intent,
        "quotes": [{"paragraph_id": x.paragraph_id, "speaker": x.speaker, "text": x.text} for x in o.quotes],
        "closest": [x.paragraph_id for x in o.closest],
        "latency_ms": round(o.latency_ms, 2),
        "error": o.error,
        "retrieval": list(r.retrieval.ranked) if r.retrieval else None,
    }


def run_to_json(run: EvalRun) -> dict[str, Any]:
    """results.json: the run, the summary, and every question with expected, got and pass/fail per mode."""
    summary = summarize(run.results)
    questions: dict[str, dict[str, Any]] = {}
    for r in run.results:
        q = r.question
        row = questions.setdefault(
            q.id,
            {
                "id": q.id,
                "question": q.question,
                "type": q.type,
                "document": document_of(q),
                "language": q.language,
                "split": q.split,
                "history": [asdict(h) for h in q.history],
                "expected": _expected(q),
                "results": {},
            },
        )
        g = r.grade
        row["results"][r.mode] = {
            "passed": g.passed,
            "reason": g.reason,
            "grade": asdict(g),
            "retrieval_rank": r.retrieval.rank if r.retrieval else None,
            "got": _got(r),
        }
    return {
        "schema": 1,
        "info": asdict(run.info),
        "summary": asdict(summary),
        "questions": list(questions.values()),
    }


@dataclass(frozen=True)
class Outcome:
    """One question in one mode, as stored in a results.json."""

    id: str
    mode: str
    question: str
    passed: bool
    reason: str
    first: str  # "p12 徐守峰" / "not found"


def outcomes_from_json(data: Mapping[str, Any]) -> dict[tuple[str, str], Outcome]:
    out = {}
    for row in data.get("questions", []):
        for mode, res in row.get("results", {}).items():
            got = res.get("got", {})
            quotes = got.get("quotes") or []
            first = (
                f"{short_id(quotes[0]['paragraph_id'])} {quotes[0]['speaker']}"
                if got.get("found") and quotes
                else "not found"
            )
            out[(row["id"], mode)] = Outcome(
                row["id"], mode, row["question"], bool(res["passed"]), res["reason"], first
            )
    return out


@dataclass(frozen=True)
class Change:
    id: str
    mode: str
    question: str
    kind: str  # "fixed" | "broken" | "changed" (same verdict, different first quote) | "added" | "removed"
    before: str
    after: str


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Change]:
    """The questions whose outcome differs between two results.json files (A = before, B = after)."""
    before, after = outcomes_from_json(a), outcomes_from_json(b)
    changes: list[Change] = []
    for key in sorted(before.keys() | after.keys()):
        x, y = before.get(key), after.get(key)
        if x is None and y is not None:
            changes.append(Change(y.id, y.mode, y.question, "added", "", _verdict(y)))
        elif y is None and x is not None:
            changes.append(Change(x.id, x.mode, x.question, "removed", _verdict(x), ""))
        elif x is not None and y is not None:
            if x.passed != y.passed:
                changes.append(
                    Change(x.id, x.mode, x.question, "fixed" if y.passed else "broken", _verdict(x), _verdict(y))
                )
            elif x.first != y.first:
                changes.append(Change(x.id, x.mode, x.question, "changed", _verdict(x), _verdict(y)))
    order = {"broken": 0, "fixed": 1, "changed": 2, "added": 3, "removed": 4}
    return sorted(changes, key=lambda c: (order[c.kind], c.mode, c.id))


def _verdict(o: Outcome) -> str:
    return ("pass" if o.passed else "FAIL") + f" [{o.first}]" + (f" {o.reason}" if o.reason else "")


@dataclass(frozen=True)
class SliceChange:
    """The pass count of one question type or one document in one mode, before (A) and after (B)."""

    mode: str
    by: str  # "type" | "document"
    key: str
    passed_before: int
    n_before: int
    passed_after: int
    n_after: int

    @property
    def regression(self) -> bool:
        """Fewer passing than before, as a share of the questions (a slice that only grew is no regression)."""
        if not self.n_before or not self.n_after:
            return False
        return self.passed_after / self.n_after < self.passed_before / self.n_before


def _row_document(row: Mapping[str, Any]) -> str:
    if row.get("document"):
        return str(row["document"])
    slugs = sorted({paragraph_document(p) for p in (row.get("expected") or {}).get("paragraphs") or ()})
    return slugs[0] if len(slugs) == 1 else "(several documents)" if slugs else "(no gold paragraph)"


def _slice_counts(data: Mapping[str, Any], by: str) -> dict[tuple[str, str], tuple[int, int]]:
    counts: dict[tuple[str, str], tuple[int, int]] = {}
    for row in data.get("questions", []):
        key = str(row.get("type", "?")) if by == "type" else _row_document(row)
        for mode, res in row.get("results", {}).items():
            passed, n = counts.get((mode, key), (0, 0))
            counts[(mode, key)] = (passed + bool(res.get("passed")), n + 1)
    return counts


def compare_slices(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[SliceChange]:
    """Pass counts per type and per document in every mode, A against B (regressions first)."""
    out = []
    for by in ("type", "document"):
        before, after = _slice_counts(a, by), _slice_counts(b, by)
        for mode, key in sorted(before.keys() | after.keys()):
            pa, na = before.get((mode, key), (0, 0))
            pb, nb = after.get((mode, key), (0, 0))
            out.append(SliceChange(mode, by, key, pa, na, pb, nb))
    return sorted(out, key=lambda c: (not c.regression, c.by != "type", c.mode, c.key))
