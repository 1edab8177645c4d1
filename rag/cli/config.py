"""`rag settings`: every setting as the README's Markdown table."""

from __future__ import annotations

import click


@click.command("settings")
def settings_command() -> None:
    """Print every setting (environment variable, default, description) as a Markdown table.

    Example: rag settings
    """
    from rag.settings import settings_table

    click.echo(settings_table())
