"""The terminal tables of `rag eval`: retrieval per mode, answers per mode and split, per type, per language."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rag.eval.grading import EvalRun, Metrics, Slice, Summary
from rag.eval.results import compare, compare_slices


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], title: str) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    lines = [title]
    lines.append(
        "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths, strict=True)))
    )
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )
    return "\n".join(lines)


def _answer_row(label: str, m: Metrics) -> list[str]:
    return [
        label,
        str(m.n),
        pct(m.passed),
        pct(m.answer_hit1),
        pct(m.excerpt_precision),
        pct(m.speaker_accuracy),
        pct(m.multi_recall),
        pct(m.who_named_first),
        pct(m.abstention_precision),
        pct(m.abstention_recall),
        str(m.false_abstentions),
        pct(m.followup_success),
        pct(m.quote_exactness),
        pct(m.attribution_accuracy),
        pct(m.attribution_kind),
        ms(m.latency_p50_ms),
        ms(m.latency_p95_ms),
    ]


ANSWER_HEADER = [
    "",
    "n",
    "pass",
    "top1",
    "excerpt",
    "speaker",
    "multi-rec",
    "who-1st",
    "abst-P",
    "abst-R",
    "false-abst",
    "follow-up",
    "exact",
    "attrib",
    "kind",
    "p50ms",
    "p95ms",
]


def _breakdown(title: str, slices: dict[str, dict[str, Slice]], modes: Sequence[str], headline: str) -> str:
    keys = list(slices[headline])
    header = ["", "n", *[f"pass:{m}" for m in modes], "dev", "holdout", "hit@1", "hit@5", "top1", "excerpt", "speaker"]
    rows = []
    for key in keys:
        s = slices[headline][key]
        rows.append(
            [
                key,
                str(s.all.n),
                *[pct(slices[m][key].all.passed) if key in slices[m] else "—" for m in modes],
                pct(s.dev.passed),
                pct(s.holdout.passed),
                pct(s.all.hit1),
                pct(s.all.hit5),
                pct(s.all.answer_hit1),
                pct(s.all.excerpt_precision),
                pct(s.all.speaker_accuracy),
            ]
        )
    return _table(header, rows, f"{title} (dev/holdout and stage columns: {headline})")


def format_summary(run: EvalRun, summary: Summary) -> str:
    """The compact terminal tables: retrieval per mode, answers per mode and split, per type, per language."""
    info = run.info
    modes = [m for m in info.modes if m in summary.by_mode]
    parts = [
        f"rag eval — {info.target} — {info.embedder} — {info.questions_file} ({len(run.for_mode(modes[0]))} questions)"
    ]
    if info.retrieval_stage:
        rows = []
        for m in modes:
            for split in ("dev", "holdout", "all"):
                x: Metrics = getattr(summary.by_mode[m], split)
                if not x.n:
                    continue
                rows.append(
                    [f"{m} {split}", str(x.n_ranked), pct(x.hit1), pct(x.hit3), pct(x.hit5), num(x.mrr), num(x.ndcg5)]
                )
        parts.append(
            _table(
                ["", "n", "hit@1", "hit@3", "hit@5", "MRR", "nDCG@5"],
                rows,
                "Retrieval stage (search; answerable questions without history)",
            )
        )
    rows = []
    for m in modes:
        for split in ("dev", "holdout", "all"):
            if getattr(summary.by_mode[m], split).n:
                rows.append(_answer_row(f"{m} {split}", getattr(summary.by_mode[m], split)))
    parts.append(_table(ANSWER_HEADER, rows, f"Answers (POST /ask, top_k={info.top_k})"))
    parts.append(_breakdown("By type", summary.by_type, modes, info.headline_mode))
    parts.append(_breakdown("By language", summary.by_language, modes, info.headline_mode))
    if summary.by_document:
        parts.append(_breakdown("By document", summary.by_document, modes, info.headline_mode))
    return "\n\n".join(parts)


def _share(passed: int, n: int) -> str:
    return f"{passed}/{n} {pct(passed / n) if n else '—':>4}"


def format_slice_changes(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Per type and per document in every mode: pass A → B, regressions marked (and listed first)."""
    changes = compare_slices(a, b)
    regressions = [c for c in changes if c.regression]
    lines = [
        f"Regressions by type and document: {len(regressions)}"
        + (" (" + ", ".join(f"{c.mode} {c.by} {c.key}" for c in regressions) + ")" if regressions else "")
    ]
    for by in ("type", "document"):
        rows = [
            [c.key, c.mode, _share(c.passed_before, c.n_before), _share(c.passed_after, c.n_after),
             "REGRESSION" if c.regression else ""]
            for c in sorted((c for c in changes if c.by == by), key=lambda c: (c.mode, c.key))
        ]  # fmt: skip
        lines.append(_table([by, "mode", "pass A", "pass B", ""], rows, f"By {by}"))
    return "\n\n".join(lines)


def format_changes(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Regressions per type and document, then flipped and changed answers one by one; questions only in one
    file as a list of ids."""
    changes = compare(a, b)
    slices = format_slice_changes(a, b)
    if not changes:
        return slices + "\n\nNo question changed."
    lines = [slices, ""]
    for mode in sorted({c.mode for c in changes}):
        of_mode = [c for c in changes if c.mode == mode]
        counts = {k: sum(c.kind == k for c in of_mode) for k in ("fixed", "broken", "changed", "added", "removed")}
        lines.append(f"{mode}: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n))
    for c in changes:
        if c.kind in ("fixed", "broken", "changed"):
            lines.append(f"{c.kind:8} {c.mode:7} {c.id:11} {c.question}\n{'':17}A: {c.before}\n{'':17}B: {c.after}")
    for kind in ("added", "removed"):
        ids = sorted({c.id for c in changes if c.kind == kind})
        if ids:
            where = "B" if kind == "added" else "A"
            lines.append(f"{kind} (only in {where}): {len(ids)} questions: {', '.join(ids)}")
    return "\n".join(lines)
