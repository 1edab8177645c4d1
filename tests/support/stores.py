"""Corpus stores for tests to change freely: fixture documents, private copies of a store, tree digests."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from rag import Settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "documents"


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under a folder (hidden ones included), by relative path.

    A segment's `.verified.json` is left out: it is a cache of which files were checked (a copied index
    is checked, and stamped, again), not index content.
    """
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".verified.json"
    }


def private_store(seed: Path, tmp_path: Path) -> Settings:
    """A copy of a seed's corpus store and index under `tmp_path`, for a test to change freely."""
    shutil.copytree(seed / "corpus", tmp_path / "corpus")
    shutil.copytree(seed / "index", tmp_path / "index")
    return Settings(
        corpus_dir=tmp_path / "corpus",
        index_dir=tmp_path / "index",
        feedback_db=tmp_path / "fb.sqlite3",
        reload_check_seconds=0.05,
    )


# One address (the test client, or 127.0.0.1) asks every test's questions: the per-client limits, on by default,
# are switched off for the tests' settings; tests of the limits set them explicitly (test_admission.py).
NO_CLIENT_LIMITS: dict[str, int] = {
    "rate_limit_per_minute": 0,
    "client_answer_seconds_per_minute": 0,
    "client_asks_at_once": 1000,
    "feedback_per_minute": 0,
}


def copy_store(settings: Settings, target: Path) -> Settings:
    """A private copy of a corpus and its built index (tests change them freely)."""
    shutil.copytree(settings.corpus_dir, target / "corpus")
    shutil.copytree(settings.index_dir, target / "index")
    return Settings(
        corpus_dir=target / "corpus", index_dir=target / "index", feedback_db=target / "fb.sqlite3", **NO_CLIENT_LIMITS
    )
