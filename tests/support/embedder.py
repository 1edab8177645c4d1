"""The one fake embedder of the tests: deterministic in every process, fast, for tests of mechanics (never of quality)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from rag import Embedder


class FakeEmbedder(Embedder):
    """Characters hashed into a small vector (the same in every process, unlike `hash()`); records what it embeds."""

    def __init__(self, dimension: int = 32, name: str = "stable") -> None:
        self.dimension = dimension
        self.id = f"test/{name}-{dimension}"
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
