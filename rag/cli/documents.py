"""`rag add`, `rag remove`, `rag documents`: change and list the corpus store ."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rag.cli.base import Context, pass_ctx, progress_bar, run_guarded
from rag.ingest.records import AddReport, Fields, Upload
from rag.ingest.store import add_documents, list_documents, remove_document
from rag.ingest.uploads import expand_paths, read_upload
from rag.parsers import FORMAT_NAMES, TEXT_FORMATS, source_suffixes


@click.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--title", help="Document title (one file only; default: the document's own title).")
@click.option("--date", help="Date of the speeches, as text (e.g. 2024-09-30 or 9月30日).")
@click.option("--source", help="Where the document was published (e.g. 湖南日报).")
@click.option("--year", help="Year of publication, for citations (e.g. 2024), when the date does not say it.")
@click.option("--page", help="Newspaper page (版次) or page range, for citations (e.g. 04).")
@click.option("--url", help="Where the document is published online (http:// or https://), for citations.")
@click.option("--slug", help="Document id: lower-case ASCII letters, digits, dashes (one file only).")
@click.option(
    "--format",
    "text_format",
    type=click.Choice(list(TEXT_FORMATS)),
    help="Read the text as this format instead of detecting it (zhaideng = a 发言摘登 page).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@pass_ctx
def add(
    ctx: Context,
    files: tuple[Path, ...],
    title: str | None,
    date: str | None,
    source: str | None,
    year: str | None,
    page: str | None,
    url: str | None,
    slug: str | None,
    text_format: str | None,
    as_json: bool,
) -> None:
    """Add speech documents and index their new paragraphs.

    Text (.txt in UTF-8, UTF-16, GB18030/GBK or Big5), saved web pages (.html), Word (.docx) and PDF files are
    read as whichever format explains them best: a single speech, a news report, an interview, a press
    conference or a 发言摘登 page (--format names one instead); .md and .jsonl have their own formats. Every file is checked before anything is stored; one refusal stores nothing. A folder adds
    its source files. Content already in the corpus is skipped and said so. A `name.meta.json` beside a file
    (speakers' English names, aliases) is stored with it.

    \b
    Examples:
      rag add speeches/forum.md --date 2024-12-02 --source 湖南日报
      rag add report.txt --date 9月30日 --year 2024 --page 04 --url https://example.org/report
      rag add interview.txt --format interview
      rag add speeches/ --json
    """
    settings = ctx.settings

    def body() -> None:
        uploads: list[Upload] = [
            read_upload(path, folder, settings.max_document_bytes) for path, folder in expand_paths(files)
        ]
        if not uploads:
            raise click.UsageError(f"no document files ({', '.join(source_suffixes())}) in the given folder")
        fields = Fields(
            title=title, date=date, source=source, slug=slug, format=text_format, year=year, page=page, url=url
        )
        report = add_documents(settings, uploads, fields, progress=progress_bar())
        if as_json:
            click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
        else:
            _print_report(report)

    run_guarded(body)


def _print_report(report: AddReport) -> None:
    for r in report.results:
        d = r.document
        if r.status == "duplicate":
            click.echo(f"{r.name}: already in the corpus as `{d.slug}` (same content); nothing to do.")
        else:
            click.echo(
                f"Added {r.name} as `{d.slug}` ({d.title}): {_file_kind(d.file_type, d.encoding)}, read as "
                f"{FORMAT_NAMES.get(d.format, d.format)}: {d.counts()}; {len(d.speakers)} speaker(s): "
                f"{'、'.join(d.speakers)}."
            )
            for note in d.notes:
                click.echo(f"    note: {note}")
    if report.generation:
        click.echo(
            f"Published index generation {report.generation}: embedded {report.embedded} new text(s), "
            f"reused {report.reused}."
        )


FILE_KINDS = {
    "text": "text",
    "markdown": "Markdown",
    "jsonl": "JSONL",
    "html": "web page",
    "docx": "Word file",
    "pdf": "PDF",
}


def _file_kind(file_type: str, encoding: str) -> str:
    """`text (GB18030)`, `PDF`, `web page (UTF-8)`: what the file was and how its bytes were read."""
    kind = FILE_KINDS.get(file_type, file_type)
    return f"{kind} ({encoding.upper()})" if encoding else kind


@click.command("remove")
@click.argument("document")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@pass_ctx
def remove(ctx: Context, document: str, as_json: bool) -> None:
    """Remove a document (by its id, see `rag documents`) from the corpus and the index.

    Example: rag remove forum-2024
    """

    def body() -> None:
        report = remove_document(ctx.settings, document)
        if as_json:
            click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
        else:
            click.echo(
                f"Removed `{report.document.slug}` ({report.document.title}); "
                f"published index generation {report.generation}."
            )

    run_guarded(body)


@click.command("documents")
@click.option("--json", "as_json", is_flag=True, help="Print the documents as JSON.")
@pass_ctx
def documents(ctx: Context, as_json: bool) -> None:
    """List the documents in the corpus: id, title, date, speakers, paragraph count.

    Example: rag documents --json
    """

    def body() -> None:
        rows = list_documents(ctx.settings)
        if as_json:
            click.echo(json.dumps([r.to_json() for r in rows], ensure_ascii=False, indent=2))
            return
        if not rows:
            click.echo("No documents yet; add one with `rag add FILE`.")
        for r in rows:
            click.echo(f"{r.slug}  {r.date or '-'}  {r.title}")
            click.echo(f"    {r.paragraphs} paragraphs ({r.format}, {r.file}); speakers: {'、'.join(r.speakers)}")

    run_guarded(body)
