"""Helpers shared by the ingestion tests and the processes they start (and kill)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag import Embedder, Settings

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "documents"


class StableEmbedder(Embedder):
    """A deterministic hashing embedder that gives the same vectors in every process; records what it embeds."""

    def __init__(self, dimension: int = 32) -> None:
        self.dimension = dimension
        self.id = f"test/stable-{dimension}"
        self.embedded: list[str] = []

    def embed_batch(self, texts: Sequence[str], kind: str) -> np.ndarray:
        self.embedded.extend(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for ch in text:
                out[i, ord(ch) % self.dimension] += 1.0
            out[i, int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % self.dimension] += 0.5
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        return out


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under a folder (hidden ones included), by relative path."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
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
