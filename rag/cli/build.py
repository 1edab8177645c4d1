"""`rag build`: build the index from the corpus."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from rag.cli.base import Context, pass_ctx, progress_bar, run_guarded


@click.command()
@click.option("--force", is_flag=True, help="Rebuild from scratch (one segment, every text embedded again).")
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
                click.echo(json.dumps(manifest.to_json(), ensure_ascii=False, indent=2))
            else:
                click.echo(f"Index is up to date ({folder}); use --force to rebuild.")
            return
        # Without --force, what changed in the corpus is added as a segment (or deleted); --force re-embeds all.
        folder = build_index(ctx.settings, embedder, progress=progress_bar(), reuse_vectors=not force)
        manifest = read_manifest(folder)
        if as_json:
            click.echo(json.dumps(manifest.to_json(), ensure_ascii=False, indent=2))
            return
        counts = manifest.counts
        click.echo(
            f"Built {folder}: {counts.documents} document(s), {counts.chunks} paragraphs, "
            f"{counts.sentences} sentences, {counts.speakers} speakers in {manifest.build_seconds} s "
            f"({manifest.dense_index.type})."
        )

    run_guarded(body)


@click.command()
@click.option("--full", is_flag=True, help="Merge every segment into one (and drop every deleted paragraph).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_ctx
def optimize(ctx: Context, full: bool, as_json: bool) -> None:
    """Merge the index's small segments (tiered, as `rag add` leaves them) and drop deleted paragraphs.

    Nothing is embedded again; the previous generation serves until the merged one is published.

    Example: rag optimize --full
    """
    from rag.index.merge import optimize as run

    def body() -> None:
        from rag.embedding import get_embedder

        report = run(ctx.settings, get_embedder(ctx.settings), full)
        if as_json:
            click.echo(json.dumps(asdict(report), ensure_ascii=False, indent=2))
        elif report.generation is None:
            click.echo(f"Nothing to merge ({report.segments_before} segment(s)).")
        else:
            click.echo(
                f"Merged {report.segments_before} segment(s) into {report.segments_after} in {report.seconds} s "
                f"({len(report.merges)} merge(s)); serving {report.generation}."
            )

    run_guarded(body)
