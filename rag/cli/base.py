"""What every `rag` subcommand shares: the settings context, one-line errors, progress bars, the loaded index."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from rag.errors import RagError
from rag.index import Index
from rag.settings import Settings


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


def progress_bar() -> Callable[[str, int, int], None]:
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


def load_for_query(settings: Settings) -> Index:
    """The serving index, built first (with a notice) when missing or stale."""
    from rag.index import ensure_index

    return ensure_index(settings, notify=lambda m: click.echo(m, err=True), progress=progress_bar())
