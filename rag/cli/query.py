"""`rag ask`, `rag chat`, `rag speakers`: questions and the speakers who can answer them."""

from __future__ import annotations

import json

import click

from rag.cli.base import Context, load_for_query, pass_ctx, run_guarded
from rag.compose import asked, attribution, reported_by
from rag.errors import RagError
from rag.records import Answer, Quote
from rag.vocabulary import Language


def print_answer(answer: Answer) -> None:
    """The answer for a terminal: the framing text, then each quote with its attribution."""
    if not answer.found:
        click.secho(answer.answer, fg="yellow")
        for q in answer.closest:
            click.echo(click.style("  (closest, not an answer) ", dim=True) + f"{q.text[:60]}… — {q.speaker}")
        return
    if answer.intent in ("who", "multi"):
        click.secho(answer.answer.splitlines()[0], bold=True)
        click.echo()
    for i, q in enumerate(answer.quotes, start=1):
        print_quote(q, answer.language, first=i == 1)
        if i < len(answer.quotes):
            click.echo()


def print_quote(q: Quote, language: Language, first: bool) -> None:
    """A speaker's words in quotation marks; reported speech marked as such, never in quotation marks."""
    english = language == "en"
    if q.context:
        asker = q.context_by or ("Question" if english else "问")
        click.echo(click.style(f"  {asker}: {q.context}" if english else f"  {asker}：{q.context}", dim=True))
    where = f"  [{q.paragraph_id}{f', p. {q.page}' if q.page else ''}]"
    if q.attribution == "reported":
        lead = reported_by(q, language)
        click.echo(click.style(f"{lead.capitalize()}: " if english else f"{lead}：", fg="yellow") + q.text)
        label = "reported speech of" if english else "转述（非原话）："
        click.echo(click.style(f"    —— {label} {attribution(q, language)}", fg="cyan") + where)
        return
    click.echo(click.style(f"“{q.text}”", bold=first))
    click.echo(click.style(f"    —— {attribution(q, language)}{asked(q, language)}", fg="cyan") + where)


@click.command()
@click.argument("question")
@click.option("--top-k", type=click.IntRange(1, 20), help="Quotes (or speakers) to return [env RAG_TOP_K].")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "bm25"]), help="Retrieval mode [env RAG_MODE].")
@click.option("--speaker", help="Only quote this speaker (name, English name or organisation).")
@click.option("--document", help="Only quote this document (slug).")
@click.option("--json", "as_json", is_flag=True, help="Print the answer object as JSON.")
@pass_ctx
def ask(
    ctx: Context,
    question: str,
    top_k: int | None,
    mode: str | None,
    speaker: str | None,
    document: str | None,
    as_json: bool,
) -> None:
    """Answer a question with verbatim, attributed quotes.

    Example: rag ask "中国移动目前全国客户规模有多少？" --json
    """
    from rag.answer import ask as ask_question

    def body() -> None:
        index = load_for_query(ctx.settings)
        answer = ask_question(
            index,
            question,
            ctx.settings,
            top_k=top_k,
            mode=mode,  # type: ignore[arg-type]
            speaker=speaker,
            document=document,
        )
        if as_json:
            click.echo(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
        else:
            print_answer(answer)

    run_guarded(body)


@click.command()
@click.option("--top-k", type=click.IntRange(1, 20), help="Quotes (or speakers) to return.")
@pass_ctx
def chat(ctx: Context, top_k: int | None) -> None:
    """Ask questions in a row; follow-ups ("他还说了什么？") use the conversation so far.

    Example: rag chat   (empty line or Ctrl-D ends)
    """
    from rag.answer import ask as ask_question
    from rag.records import HistoryTurn

    def body() -> None:
        index = load_for_query(ctx.settings)
        history: list[HistoryTurn] = []
        while True:
            try:
                question = click.prompt(click.style("问/Q", fg="green"), default="", show_default=False)
            except (EOFError, click.Abort):
                break
            if not question.strip():
                break
            try:
                answer = ask_question(index, question, ctx.settings, top_k=top_k, history=history[-20:])
            except RagError as exc:
                click.echo(f"Error: {exc}", err=True)
                continue
            print_answer(answer)
            click.echo()
            history.append(HistoryTurn(question, answer.answer, answer.speakers))

    run_guarded(body)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the speakers as JSON.")
@pass_ctx
def speakers(ctx: Context, as_json: bool) -> None:
    """List the speakers with title, organisation and English forms.

    Example: rag speakers --json
    """
    from rag.views import speaker_summaries

    def body() -> None:
        index = load_for_query(ctx.settings)
        rows = speaker_summaries(index)
        if as_json:
            click.echo(json.dumps([r.to_json() for r in rows], ensure_ascii=False, indent=2))
            return
        for r in rows:
            click.echo(
                f"{r.name}  {r.organization} {r.title}  ({r.name_en}, {r.organization_en})  {r.paragraphs} paragraphs"
            )

    run_guarded(body)
