"""`rag feedback export`: the chat's 👍/👎 (and, optionally, the question log) as JSONL for evaluators."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from rag.cli.base import Context, pass_ctx, run_guarded
from rag.feedback import FeedbackStore, export_records


@click.group()
def feedback() -> None:
    """Feedback given in the web chat, and the question log."""


@feedback.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@click.option("--questions", "include_questions", is_flag=True, help="Also export every logged question.")
@click.option("--since", help="Only records from this UTC time on (ISO 8601, e.g. 2026-11-01 or 2026-11-01T08:00).")
@click.option("--rating", type=click.Choice(["up", "down"]), help="Only 👍 (up) or 👎 (down) feedback.")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file [env RAG_FEEDBACK_DB, default feedback.sqlite3 in the data folder].",
)
@pass_ctx
def export(
    ctx: Context,
    output: Path | None,
    include_questions: bool,
    since: str | None,
    rating: str | None,
    db: Path | None,
) -> None:
    """Write feedback as JSON lines: question, rating, comment, quote ids, latency, time.

    A 👍 record carries `expect` (found + paragraph ids), ready to become an eval question;
    a 👎 record carries `needs_review` and the comment.

    Example: rag feedback export --rating down -o feedback.jsonl
    """

    def body() -> None:
        path = db or ctx.settings.feedback_db
        if not path.exists():
            click.echo(f"No feedback database at {path} yet (nothing has been recorded).", err=True)
            return
        store = FeedbackStore(path)
        records = export_records(store, include_questions=include_questions, since=since, rating=rating)  # type: ignore[arg-type]
        count = _write(records, output)
        click.echo(f"Exported {count} record(s){f' to {output}' if output else ''}.", err=True)

    run_guarded(body)


def _write(records: Any, output: Path | None) -> int:
    count = 0
    if output is None:
        for r in records:
            sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
            count += 1
        sys.stdout.flush()
        return count
    tmp = output.with_name(f".{output.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(output)
    return count
