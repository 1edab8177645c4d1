"""`rag eval`: run the gold question set through POST /ask, print the tables, write results.json and report.html."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

import click

from rag.cli.base import Context, load_for_query, pass_ctx, run_guarded
from rag.corpus import load_corpus
from rag.eval.candidates import candidates_from_feedback, read_feedback, write_candidates
from rag.eval.gold import corpus_paragraphs
from rag.eval.grading import MODES, EvalRun, summarize
from rag.eval.results import compare, compare_slices
from rag.eval.run import (
    DEFAULT_OUT,
    DEFAULT_QUESTIONS,
    PARTS,
    default_questions,
    in_repository,
    load_gold,
    open_client,
    run_eval,
    with_documents,
    write_outputs,
)
from rag.eval.tables import format_changes, format_summary


def evaluate(ctx: Context, questions_file: Path, url: str | None, modes: list[str], split: str, via: str) -> EvalRun:
    """Load and check the gold, ask every question in every mode, return the graded run."""
    settings = ctx.settings
    questions, paragraphs = load_gold(settings, questions_file, split)
    with ExitStack() as stack:
        # Connect (or load and start the app) before the progress bar, so its notices print on their own lines.
        client, retriever, embedder = open_client(stack, settings, url, via, load_for_query)
        bar = stack.enter_context(
            click.progressbar(length=len(questions) * len(modes), label="Asking", file=sys.stderr, show_pos=True)
        )
        return run_eval(
            questions, paragraphs, client, retriever, modes, settings.mode, embedder, questions_file, bar.update
        )


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
@click.option(
    "--documents",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Documents the questions ask about beyond the corpus: indexed with it, in --out.",
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
    "--from-feedback",
    "feedback_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Turn the 👎 records of a `rag feedback export` file into candidate questions (OUT/candidates.jsonl).",
)
@click.option(
    "--via",
    type=click.Choice(["app", "library"]),
    default="app",
    show_default=True,
    help="In-process path: POST /ask on the web app served on 127.0.0.1, or rag.answer.ask directly.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of tables.")
@pass_ctx
def eval_command(
    ctx: Context,
    questions_file: Path | None,
    out: Path,
    documents: Path | None,
    url: str | None,
    modes: tuple[str, ...],
    split: str,
    compare_files: tuple[Path, Path] | None,
    feedback_file: Path | None,
    via: str,
    as_json: bool,
) -> None:
    """Run the gold question sets and report hit@k, excerpt, speaker, attribution, abstention and latency metrics.

    Without --questions both parts run: `page` (eval/questions.jsonl over the corpus) and `documents`
    (eval/documents.jsonl over the corpus plus eval/documents/, indexed in OUT/documents).

    \b
    Examples:
      rag eval --out /tmp/eval-out
      rag eval --questions eval/documents.jsonl --documents eval/documents --out /tmp/eval-docs
      rag eval --url http://127.0.0.1:8000 --mode hybrid
      rag --embedder sentence-transformers --embedding-model PATH eval --out /tmp/eval-st
      rag eval --compare before/results.json after/results.json
      rag feedback export --rating down -o down.jsonl && rag eval --from-feedback down.jsonl --out /tmp/labels
    """

    def body() -> None:
        if compare_files:
            a, b = (json.loads(p.read_text(encoding="utf-8")) for p in compare_files)
            if as_json:
                changes = {
                    "slices": [{**asdict(c), "regression": c.regression} for c in compare_slices(a, b)],
                    "questions": [asdict(c) for c in compare(a, b)],
                }
                click.echo(json.dumps(changes, ensure_ascii=False, indent=1))
            else:
                click.echo(format_changes(a, b))
            return
        if feedback_file:
            chunks = [c for d in load_corpus(ctx.settings.corpus_dir) for c in d.chunks]
            candidates = candidates_from_feedback(read_feedback(feedback_file), corpus_paragraphs(chunks))
            path = write_candidates(candidates, out / "candidates.jsonl")
            click.echo(
                f"Wrote {len(candidates)} candidate question(s) from the 👎 feedback in {feedback_file} to {path}: "
                "give each a type and its gold, drop `needs_label`, then add it to a question set."
            )
            return
        if questions_file is None and documents is None:
            parts = [p for p in PARTS if p.documents is None or not url]  # a server has only the corpus it has
            runs = [
                (p.name, in_repository(p.questions), in_repository(p.documents) if p.documents else None) for p in parts
            ]
        else:
            runs = [("", questions_file or default_questions(), documents)]
        reported: dict[str, object] = {}
        for name, questions, extra in runs:
            where = out / name if name else out
            local = with_documents(ctx.settings, extra, where) if extra else ctx.settings
            run = evaluate(Context(local), questions, url, list(modes or MODES), split, via)
            results_path, report_path = write_outputs(run, where)
            summary = summarize(run.results)
            if as_json:
                reported[name or "run"] = {"info": asdict(run.info), "summary": asdict(summary)}
                continue
            if name:
                click.echo(f"\n=== Part `{name}`: {questions}" + (f" over the corpus and {extra}" if extra else ""))
            click.echo(format_summary(run, summary))
            click.echo(f"\nWrote {results_path} and {report_path}")
        if as_json:
            click.echo(
                json.dumps(reported if len(runs) > 1 else next(iter(reported.values())), ensure_ascii=False, indent=1)
            )

    run_guarded(body)
