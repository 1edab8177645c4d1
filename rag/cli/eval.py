"""`rag eval`: run the gold question set through POST /ask, print the tables, write results.json and report.html."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from rag.cli.main import Context, pass_ctx, register, run_guarded
from rag.eval.gold import QuestionSetError, corpus_paragraphs, gold_problems, load_questions
from rag.eval.grading import (
    MODES,
    AskClient,
    EvalRun,
    K,
    Metrics,
    RunInfo,
    Slice,
    Summary,
    file_sha256,
    run_questions,
    summarize,
)
from rag.eval.results import compare, run_to_json

DEFAULT_QUESTIONS = Path("eval/questions.jsonl")
REPO_QUESTIONS = Path(__file__).resolve().parents[2] / DEFAULT_QUESTIONS


def default_questions() -> Path:
    """eval/questions.jsonl under the working directory, else the one beside this checkout's package."""
    if DEFAULT_QUESTIONS.is_file():
        return DEFAULT_QUESTIONS
    if REPO_QUESTIONS.is_file():
        return REPO_QUESTIONS
    raise QuestionSetError(f"no {DEFAULT_QUESTIONS} here; pass --questions FILE")


DEFAULT_OUT = Path("eval/out")


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
    return "\n\n".join(parts)


def format_changes(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Flipped and changed answers one by one; questions only in one file as a list of ids."""
    changes = compare(a, b)
    if not changes:
        return "No question changed."
    lines = []
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


def evaluate(
    ctx: Context, questions_file: Path, url: str | None, modes: Sequence[str], split: str, via: str = "app"
) -> EvalRun:
    """Load and check the gold, ask every question in every mode, return the graded run."""
    from rag.corpus import load_corpus
    from rag.eval.client import IndexRetriever, in_process_client, remote_client

    settings = ctx.settings
    questions = load_questions(questions_file)
    if split != "all":
        questions = [q for q in questions if q.split == split]
    if not questions:
        raise QuestionSetError(f"{questions_file}: no questions to run")
    paragraphs = corpus_paragraphs(c for d in load_corpus(settings.corpus_dir) for c in d.chunks)
    problems = gold_problems(questions, paragraphs)
    if problems:
        raise QuestionSetError("the gold does not match the corpus:\n  " + "\n  ".join(problems[:20]))
    headline = settings.mode if settings.mode in modes else modes[0]
    with ExitStack() as stack:
        # Connect (or load and start the app) before the progress bar, so its notices print on their own lines.
        retriever = None
        if url:
            client: AskClient = stack.enter_context(remote_client(url))
            embedder = "as configured on the server"
        else:
            from rag.cli.main import load_for_query

            index = load_for_query(settings)
            client = stack.enter_context(in_process_client(settings, index, via))
            retriever, embedder = IndexRetriever(index, settings), index.embedder.id
        bar = stack.enter_context(
            click.progressbar(length=len(questions) * len(modes), label="Asking", file=sys.stderr, show_pos=True)
        )
        results = run_questions(questions, client, paragraphs, modes, retriever, K, bar.update)
    target, stage = client.target, retriever is not None
    info = RunInfo(
        target=target,
        embedder=embedder,
        modes=tuple(modes),
        headline_mode=headline,
        top_k=K,
        questions_file=str(questions_file),
        questions_sha256=file_sha256(questions_file),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        retrieval_stage=stage,
    )
    return EvalRun(info, tuple(results))


def write_outputs(run: EvalRun, out: Path) -> tuple[Path, Path]:
    from rag.eval.report import render_report

    out.mkdir(parents=True, exist_ok=True)
    results_path, report_path = out / "results.json", out / "report.html"
    data = run_to_json(run)
    results_path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    report_path.write_text(render_report(run), encoding="utf-8")
    return results_path, report_path


@click.command("eval")
@click.option(
    "--questions",
    "questions_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"Gold question set (JSONL) [default: {DEFAULT_QUESTIONS}, or the repository's].",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Folder for results.json and report.html.",
)
@click.option("--url", help="Evaluate a running server (its POST /ask) instead of the app in-process.")
@click.option(
    "--mode", "modes", type=click.Choice(MODES), multiple=True, help="Retrieval mode(s) to run [default: all three]."
)
@click.option(
    "--split", type=click.Choice(["all", "dev", "holdout"]), default="all", show_default=True, help="Questions to run."
)
@click.option(
    "--compare",
    "compare_files",
    nargs=2,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="List the questions that changed between two results.json files (A B) and exit.",
)
@click.option(
    "--via",
    type=click.Choice(["app", "library"]),
    default="app",
    show_default=True,
    help="In-process path: POST /ask on the web app (TestClient), or rag.answer.ask directly.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of tables.")
@pass_ctx
def eval_command(
    ctx: Context,
    questions_file: Path | None,
    out: Path,
    url: str | None,
    modes: tuple[str, ...],
    split: str,
    compare_files: tuple[Path, Path] | None,
    via: str,
    as_json: bool,
) -> None:
    """Run the gold question set and report hit@k, excerpt, speaker, abstention and latency metrics.

    \b
    Examples:
      rag eval --out /tmp/eval-out
      rag eval --url http://127.0.0.1:8000 --mode hybrid
      rag --embedder sentence-transformers --embedding-model PATH eval --out /tmp/eval-st
      rag eval --compare before/results.json after/results.json
    """

    def body() -> None:
        if compare_files:
            a, b = (json.loads(p.read_text(encoding="utf-8")) for p in compare_files)
            if as_json:
                click.echo(json.dumps([asdict(c) for c in compare(a, b)], ensure_ascii=False, indent=1))
            else:
                click.echo(format_changes(a, b))
            return
        run = evaluate(ctx, questions_file or default_questions(), url, list(modes or MODES), split, via)
        results_path, report_path = write_outputs(run, out)
        summary = summarize(run.results)
        if as_json:
            click.echo(json.dumps({"info": asdict(run.info), "summary": asdict(summary)}, ensure_ascii=False, indent=1))
        else:
            click.echo(format_summary(run, summary))
            click.echo(f"\nWrote {results_path} and {report_path}")

    run_guarded(body)


register(eval_command)
