"""Shared fixtures: the real index built once per session from the real corpus with the real model."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.stores import NO_CLIENT_LIMITS, copy_store

from rag import Index, Settings, build_index, load_index
from rag.cli import main as rag_cli

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SPEECHES = ROOT / "tests" / "fixtures" / "speeches"
SPEECH_DOCUMENTS = sorted(p for p in SPEECHES.glob("*.txt") if not p.name.startswith("refusal"))


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the real corpus (tests may not change the project's own folder)."""
    target = tmp_path_factory.mktemp("corpus")
    for p in CORPUS.iterdir():
        if p.is_file():
            shutil.copy2(p, target / p.name)
    return target


@pytest.fixture(scope="session")
def settings(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    index_dir = tmp_path_factory.mktemp("index")
    feedback = tmp_path_factory.mktemp("feedback") / "feedback.sqlite3"
    return Settings(corpus_dir=corpus_dir, index_dir=index_dir, feedback_db=feedback, **NO_CLIENT_LIMITS)


@pytest.fixture(scope="session")
def built(settings: Settings) -> Path:
    """Build the real index once per session (bundled multilingual-e5-small)."""
    return build_index(settings)


@pytest.fixture(scope="session")
def index(settings: Settings, built: Path) -> Index:
    return load_index(settings)


@pytest.fixture()
def fresh_settings(tmp_path: Path, corpus_dir: Path) -> Iterator[Settings]:
    """Settings with an empty index folder of their own, for tests that build, break or swap indexes."""
    yield Settings(
        corpus_dir=corpus_dir, index_dir=tmp_path / "index", feedback_db=tmp_path / "fb.sqlite3", **NO_CLIENT_LIMITS
    )


@pytest.fixture(scope="session")
def documents(settings: Settings, built: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    """The session's store plus every speech-format fixture, added with `rag add` (the real model embeds them);
    the settings of that store and what `rag add` printed."""
    local = copy_store(settings, tmp_path_factory.mktemp("documents"))
    env = {"RAG_CORPUS_DIR": str(local.corpus_dir), "RAG_INDEX_DIR": str(local.index_dir)}
    result = CliRunner().invoke(rag_cli, ["add", *map(str, SPEECH_DOCUMENTS)], env=env)
    assert result.exit_code == 0, result.output
    return local, result.output


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for every page test module (Playwright's sync API allows one instance per thread)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    chromium = os.environ.get("RAG_CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        pytest.skip(f"Chromium not found at {chromium} (apt-get install chromium fonts-noto-cjk)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield browser
        browser.close()
