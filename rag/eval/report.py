"""report.html for `rag eval`: one self-contained file (inline CSS and SVG charts, no external resources)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from jinja2 import Environment
from markupsafe import Markup

from rag.eval.gold import GRADED_AS, QUESTION_TYPES
from rag.eval.grading import EvalRun, Metrics, QuestionResult, Summary, summarize

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def bar_chart(
    title: str, categories: Sequence[str], series: dict[str, Sequence[float | None]], width: int = 760
) -> Markup:
    """Grouped vertical bars on a 0–100 % axis, one group per category, one colour per series."""
    height, left, top, bottom = 260, 44, 30, 64
    plot_w, plot_h = width - left - 10, height - top - bottom
    group_w = plot_w / max(1, len(categories))
    bar_w = max(3.0, (group_w - 8) / max(1, len(series)))
    out = [
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f'<text x="{left}" y="16" class="t">{escape(title)}</text>',
    ]
    for tick in range(0, 101, 25):
        y = top + plot_h * (1 - tick / 100)
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="ax" text-anchor="end">{tick}%</text>')
    for gi, cat in enumerate(categories):
        x0 = left + gi * group_w + 4
        for si, (name, values) in enumerate(series.items()):
            v = values[gi]
            if v is None:
                continue
            h = plot_h * v
            x = x0 + si * bar_w
            out.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[si % len(PALETTE)]}"><title>{escape(cat)} · {escape(name)}: {_pct(v)}</title></rect>'
            )
        out.append(
            f'<text x="{x0 + group_w / 2 - 4:.1f}" y="{top + plot_h + 14}" class="ax" text-anchor="middle">{escape(cat)}</text>'
        )
    for si, name in enumerate(series):
        x = left + si * 110
        out.append(f'<rect x="{x}" y="{height - 22}" width="12" height="12" fill="{PALETTE[si % len(PALETTE)]}"/>')
        out.append(f'<text x="{x + 16}" y="{height - 12}" class="ax">{escape(name)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def latency_chart(latencies: dict[str, list[float]], width: int = 760) -> Markup:
    """One histogram row per mode on a shared millisecond axis, with p50 and p95 marked."""
    values = [v for vs in latencies.values() for v in vs]
    if not values:
        return Markup("<p>No latencies recorded.</p>")
    row_h, left, top = 70, 70, 30
    height = top + row_h * len(latencies) + 30
    ordered_all = sorted(values)
    p95_all = ordered_all[min(len(ordered_all) - 1, int(0.95 * len(ordered_all)))]
    hi = max(1.0, min(max(values), 3 * p95_all) * 1.05)  # a few stragglers must not squash the rest
    bins = 40
    plot_w = width - left - 10
    out = [
        f'<svg role="img" aria-label="Latency distribution" viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        '<text x="10" y="16" class="t">Latency per question (ms, client side)</text>',
    ]
    for ri, (mode, vs) in enumerate(latencies.items()):
        y0 = top + ri * row_h
        counts = [0] * bins
        for v in vs:
            counts[min(bins - 1, int(v / hi * bins))] += 1
        peak = max(counts) or 1
        out.append(f'<text x="{left - 8}" y="{y0 + row_h / 2:.0f}" class="ax" text-anchor="end">{escape(mode)}</text>')
        for bi, c in enumerate(counts):
            if not c:
                continue
            h = (row_h - 14) * c / peak
            x = left + bi * plot_w / bins
            out.append(
                f'<rect x="{x:.1f}" y="{y0 + row_h - 10 - h:.1f}" width="{plot_w / bins - 1:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[ri % len(PALETTE)]}"><title>{c} questions, {bi * hi / bins:.0f}–{(bi + 1) * hi / bins:.0f} ms</title></rect>'
            )
        ordered = sorted(vs)
        for li, (label, q) in enumerate((("p50", 0.5), ("p95", 0.95))):
            if not ordered:
                continue
            v = ordered[min(len(ordered) - 1, int(q * len(ordered)))]
            x = left + min(v, hi) / hi * plot_w
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y0 + 4}" y2="{y0 + row_h - 10}" class="mark"/>')
            out.append(f'<text x="{x + 3:.1f}" y="{y0 + 12 + 12 * li}" class="ax">{label} {v:.0f} ms</text>')
        if ordered and ordered[-1] > hi:
            out.append(
                f'<text x="{left + plot_w}" y="{y0 + 12}" class="ax" text-anchor="end">'
                f"last bar: ≥ {hi * (bins - 1) / bins:.0f} ms (max {ordered[-1]:.0f})</text>"
            )
    for tick in range(5):
        v = hi * tick / 4
        x = left + plot_w * tick / 4
        anchor = "end" if tick == 4 else "middle"
        out.append(f'<text x="{x:.1f}" y="{height - 8}" class="ax" text-anchor="{anchor}">{v:.0f} ms</text>')
    out.append("</svg>")
    return Markup("".join(out))


def charts(run: EvalRun, summary: Summary) -> list[Markup]:
    modes = [m for m in run.info.modes if m in summary.by_mode]
    stage = run.info.retrieval_stage
    out = []
    if stage:
        out.append(
            bar_chart(
                "Retrieval hit@k per mode (search, answerable questions without history)",
                ["hit@1", "hit@3", "hit@5"],
                {
                    m: [summary.by_mode[m].all.hit1, summary.by_mode[m].all.hit3, summary.by_mode[m].all.hit5]
                    for m in modes
                },
            )
        )
    # follow-ups need their history, which only the answer pipeline resolves: no retrieval-stage number
    types = [t for t in QUESTION_TYPES if t in summary.by_type[modes[0]] and GRADED_AS.get(t, t) not in ("unanswerable", "followup")]
    attr = "hit1" if stage else "answer_hit1"
    label = "Retrieval hit@1 per question type" if stage else "First quote from a gold paragraph, per question type"
    out.append(
        bar_chart(
            label,
            types,
            {
                m: [getattr(summary.by_type[m][t].all, attr) if t in summary.by_type[m] else None for t in types]
                for m in modes
            },
        )
    )
    all_types = [t for t in QUESTION_TYPES if t in summary.by_type[modes[0]]]
    out.append(
        bar_chart(
            "Answers passed per question type (POST /ask)",
            all_types,
            {
                m: [summary.by_type[m][t].all.passed if t in summary.by_type[m] else None for t in all_types]
                for m in modes
            },
        )
    )
    out.append(
        latency_chart(
            {m: [r.observation.latency_ms for r in run.for_mode(m) if not r.observation.error] for m in modes}
        )
    )
    return out


RETRIEVAL_COLUMNS: list[tuple[str, Callable[[Metrics], str]]] = [
    ("hit@1", lambda m: _pct(m.hit1)),
    ("hit@3", lambda m: _pct(m.hit3)),
    ("hit@5", lambda m: _pct(m.hit5)),
    ("MRR", lambda m: "—" if m.mrr is None else f"{m.mrr:.3f}"),
    ("nDCG@5", lambda m: "—" if m.ndcg5 is None else f"{m.ndcg5:.3f}"),
]
ANSWER_COLUMNS: list[tuple[str, Callable[[Metrics], str]]] = [
    ("n", lambda m: str(m.n)),
    ("pass", lambda m: _pct(m.passed)),
    ("top quote in gold", lambda m: _pct(m.answer_hit1)),
    ("excerpt precision", lambda m: _pct(m.excerpt_precision)),
    ("speaker accuracy", lambda m: _pct(m.speaker_accuracy)),
    ("multi recall", lambda m: _pct(m.multi_recall)),
    ("multi precision", lambda m: _pct(m.multi_precision)),
    ("who named first", lambda m: _pct(m.who_named_first)),
    ("abstention P", lambda m: _pct(m.abstention_precision)),
    ("abstention R", lambda m: _pct(m.abstention_recall)),
    ("false abstentions", lambda m: str(m.false_abstentions)),
    ("follow-up success", lambda m: _pct(m.followup_success)),
    ("quote exactness", lambda m: _pct(m.quote_exactness)),
    ("attribution", lambda m: _pct(m.attribution_accuracy)),
    ("direct / reported as gold", lambda m: _pct(m.attribution_kind)),
    ("p50 ms", lambda m: _ms(m.latency_p50_ms)),
    ("p95 ms", lambda m: _ms(m.latency_p95_ms)),
    ("errors", lambda m: str(m.errors)),
]


def metric_rows(
    rows: list[tuple[str, Metrics]], columns: list[tuple[str, Callable[[Metrics], str]]] | None = None
) -> dict[str, object]:
    columns = columns or [*ANSWER_COLUMNS[:2], *RETRIEVAL_COLUMNS, *ANSWER_COLUMNS[2:]]
    return {"header": [c[0] for c in columns], "rows": [(label, [f(m) for _, f in columns]) for label, m in rows]}


def _failure(r: QuestionResult) -> dict[str, object]:
    q, o = r.question, r.observation
    return {
        "id": q.id,
        "type": q.type,
        "language": q.language,
        "split": q.split,
        "question": q.question,
        "history": [(h.question, ", ".join(h.speakers)) for h in q.history],
        "reason": r.grade.reason,
        "expected_speakers": ", ".join(q.gold_speakers) or "— (not found)",
        "expected": [(pid, " / ".join(q.gold_spans.get(pid, ())) or "(any excerpt)") for pid in q.gold_paragraphs],
        "found": o.found,
        "answer": o.answer,
        "quotes": [(x.paragraph_id, x.speaker, x.text) for x in o.quotes],
        "closest": [(x.paragraph_id, x.speaker, x.text) for x in o.closest],
        "retrieval": list(r.retrieval.ranked) if r.retrieval else [],
        "error": o.error,
    }


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rag eval — {{ info.created }}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#222}
table{border-collapse:collapse;margin:8px 0 20px;font-size:13px}th,td{border:1px solid #ddd;padding:3px 6px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}.fail{background:#fdecea}.ok{color:#2a7a2a}.bad{color:#b3261e}
svg{display:block;margin:12px 0;font:11px system-ui,sans-serif}svg .t{font-size:13px;font-weight:600}svg .grid{stroke:#e5e5e5}
svg .mark{stroke:#222;stroke-dasharray:3 2}.q{border:1px solid #ddd;border-radius:6px;padding:8px 12px;margin:10px 0}
.q h3{margin:0 0 4px;font-size:14px}.muted{color:#666}blockquote{margin:4px 0 4px 12px;padding-left:8px;border-left:3px solid #ccc}
code{background:#f4f4f4;padding:0 3px}.wide{overflow-x:auto}td:first-child{white-space:nowrap}
</style></head><body>
<h1>Evaluation report</h1>
<p>Target: <b>{{ info.target }}</b> · embedder <code>{{ info.embedder }}</code> · questions <code>{{ info.questions_file }}</code>
(sha256 {{ info.questions_sha256[:12] }}) · {{ n_questions }} questions × {{ info.modes|length }} modes · top_k {{ info.top_k }}
· headline mode <b>{{ info.headline_mode }}</b> · {{ info.created }}</p>
<p class="muted">hit@k, MRR and nDCG@5 rank paragraph ids from the retrieval stage (answerable questions without history{% if not info.retrieval_stage %}; not measured against a remote server{% endif %}).
Excerpt precision: of first quotes from a gold paragraph, the share containing the gold span. Speaker accuracy: first quote's speaker is a gold speaker
(abstaining counts as wrong). Multi recall: gold speakers quoted / min(gold speakers, top_k). Quote exactness and attribution are checked on every quote returned, closest passages included.</p>
<h2>Summary</h2>
{% if info.retrieval_stage %}<h3>Retrieval stage (search)</h3>
<div class="wide"><table><tr><th></th>{% for h in retrieval.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for label, cells in retrieval.rows %}<tr><td>{{ label }}</td>{% for c in cells %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table></div>{% endif %}
<h3>Answers (POST /ask)</h3>
<div class="wide"><table><tr><th></th>{% for h in summary.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for label, cells in summary.rows %}<tr><td>{{ label }}</td>{% for c in cells %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table></div>
<h2>Charts</h2>
{% for c in charts %}{{ c }}{% endfor %}
{% for title, table in breakdowns %}
<h2>{{ title }}</h2>
<div class="wide"><table><tr><th></th>{% for h in table.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for label, cells in table.rows %}<tr><td>{{ label }}</td>{% for c in cells %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table></div>
{% endfor %}
<h2>Failures ({{ info.headline_mode }}): {{ failures|length }}</h2>
{% for f in failures %}
<div class="q fail-item"><h3>{{ f.id }} · {{ f.type }} · {{ f.language }} · {{ f.split }}</h3>
<p><b>Q:</b> {{ f.question }}</p>
{% for hq, hs in f.history %}<p class="muted">earlier turn: {{ hq }} → {{ hs }}</p>{% endfor %}
<p class="bad">{{ f.reason }}</p>
<p><b>Expected:</b> {{ f.expected_speakers }}</p>
{% for pid, span in f.expected %}<blockquote><code>{{ pid }}</code> {{ span }}</blockquote>{% endfor %}
<p><b>Returned:</b> {% if f.error %}error: {{ f.error }}{% elif f.found %}found{% else %}not found{% endif %}</p>
{% for pid, speaker, text in f.quotes %}<blockquote><code>{{ pid }}</code> {{ speaker }}: {{ text }}</blockquote>{% endfor %}
{% if not f.found %}{% for pid, speaker, text in f.closest %}<blockquote class="muted">closest <code>{{ pid }}</code> {{ speaker }}: {{ text }}</blockquote>{% endfor %}{% endif %}
{% if f.retrieval %}<p class="muted">retrieval top 5: {{ f.retrieval|join(", ") }}</p>{% endif %}
</div>
{% endfor %}
<h2>Every question</h2>
<details><summary>{{ matrix|length }} questions, pass/fail per mode</summary>
<table><tr><th>id</th><th>type</th><th>lang</th><th>split</th>{% for m in info.modes %}<th>{{ m }}</th>{% endfor %}<th style="text-align:left">question</th></tr>
{% for row in matrix %}<tr><td>{{ row.id }}</td><td>{{ row.type }}</td><td>{{ row.language }}</td><td>{{ row.split }}</td>
{% for ok, why in row.cells %}<td class="{{ 'ok' if ok else 'bad' }}" title="{{ why }}">{{ '✓' if ok else '✗' }}</td>{% endfor %}
<td style="text-align:left">{{ row.question }}</td></tr>{% endfor %}</table></details>
</body></html>
"""


def render_report(run: EvalRun) -> str:
    summary = summarize(run.results)
    modes = [m for m in run.info.modes if m in summary.by_mode]
    summary_rows = [(f"{m} · {s}", getattr(summary.by_mode[m], s)) for m in modes for s in ("dev", "holdout", "all")]
    breakdowns = []
    headline_first = sorted(modes, key=lambda m: m != run.info.headline_mode)
    tables = (("By question type", summary.by_type), ("By language", summary.by_language))
    for title, table in (*tables, ("By document", summary.by_document)):
        for m in headline_first:
            rows = [(f"{key} · {s}", getattr(sl, s)) for key, sl in table[m].items() for s in ("dev", "holdout", "all")]
            label = " (headline)" if m == run.info.headline_mode else ""
            breakdowns.append((f"{title} — {m}{label}", metric_rows(rows)))
    by_id: dict[str, dict[str, QuestionResult]] = {}
    for r in run.results:
        by_id.setdefault(r.question.id, {})[r.mode] = r
    matrix = [
        {
            "id": qid,
            "type": next(iter(rs.values())).question.type,
            "language": next(iter(rs.values())).question.language,
            "split": next(iter(rs.values())).question.split,
            "question": next(iter(rs.values())).question.question,
            "cells": [(rs[m].grade.passed, rs[m].grade.reason) if m in rs else (False, "not run") for m in modes],
        }
        for qid, rs in by_id.items()
    ]
    failures = [_failure(r) for r in run.for_mode(run.info.headline_mode) if not r.grade.passed]
    env = Environment(autoescape=True)
    return env.from_string(TEMPLATE).render(
        info=run.info,
        n_questions=len(by_id),
        summary=metric_rows(summary_rows, ANSWER_COLUMNS),
        retrieval=metric_rows(summary_rows, [("n", lambda m: str(m.n_ranked)), *RETRIEVAL_COLUMNS]),
        charts=charts(run, summary),
        breakdowns=breakdowns,
        failures=failures,
        matrix=matrix,
    )
