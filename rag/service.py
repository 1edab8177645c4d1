"""A long-lived question-answering service: the serving index, hot reload, and a bounded answer cache.

The web app, the evaluation and the benchmarks hold one `Service`. Each request takes ONE index
reference at its start (`Service.index()`), so it is answered wholly from one generation even when a
newer generation is swapped in meanwhile. A newer generation is noticed by reading `index_dir/CURRENT`
at most every `reload_check_seconds` (between requests, and from a watcher thread) and loaded and
verified in the background; the reference is swapped only once the new index is complete.

The cache needs no invalidation: its key starts with the generation, so answers from an old
generation are simply never looked up again and age out of the LRU.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, replace

from rag import cedict
from rag.answer import ask
from rag.embedding import Embedder
from rag.errors import RagError, StoreUnreachable
from rag.index import readers
from rag.index.background import BuildOutcome, build_in_progress
from rag.index.load import Index, load_index
from rag.index.serving import serving_name
from rag.records import Answer, AskRequest
from rag.settings import Settings
from rag.vocabulary import ServiceState

log = logging.getLogger("rag.service")
WARM_UP_QUESTION = "中国移动目前全国客户规模有多少？ 他们说了什么？"


class NotReady(RagError):
    """No verified index is loaded yet (still loading, or the index is missing or damaged)."""


class AnswerCache:
    """A thread-safe LRU of answers; size 0 turns it off."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Answer] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Answer | None:
        if self.size <= 0:
            return None
        with self._lock:
            answer = self._items.get(key)
            if answer is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return answer

    def put(self, key: Hashable, answer: Answer) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = answer
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass(frozen=True)
class Served:
    """An answer and how it was produced (from the cache or computed now)."""

    answer: Answer
    cached: bool


@dataclass(frozen=True)
class ServiceStatus:
    """What /readyz reports: ready once a verified index is loaded."""

    ready: bool
    state: ServiceState
    generation: str | None
    chunks: int
    documents: int
    loading: str | None  # generation being loaded in the background, if any
    reason: str | None = None  # why not ready (the search backend unreachable...), with the fix
    rebuilding: bool = False  # a build holds the index folder's lock (a background rebuild, `rag build`, an add)
    last_build_error: str | None = None  # why the last background rebuild failed, when it did

    @property
    def detail(self) -> str:
        """One line for /readyz: `serving generation X, rebuilding`."""
        serving = f"serving generation {self.generation}" if self.generation else f"not serving ({self.state})"
        if self.rebuilding:
            return f"{serving}, rebuilding"
        if self.last_build_error:
            return f"{serving}; the last rebuild failed: {self.last_build_error}"
        return serving


class Service:
    """Holds the settings and the serving index; answers questions; swaps in new generations safely."""

    def __init__(self, settings: Settings, index: Index | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.cache = AnswerCache(settings.cache_size)
        self._index: Index | None = index
        self._embedder: Embedder | None = embedder or (index.embedder if index is not None else None)
        self._lock = threading.Lock()  # guards the loader state below, never held while loading
        self._loader: threading.Thread | None = None
        self._loading_name: str | None = None
        self._failed_name: str | None = None
        self._unreachable: str | None = None  # the last check could not reach the store: why
        self._state: ServiceState = "ready" if index is not None else "loading"
        self._next_check = 0.0
        self._ready = threading.Event()
        if index is not None:
            self._ready.set()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Begin loading the serving index in the background and watch for new generations."""
        self._stop.clear()
        self.refresh(force=True)
        interval = self.settings.reload_check_seconds
        if interval > 0 and (self._watcher is None or not self._watcher.is_alive()):
            self._watcher = threading.Thread(target=self._watch, args=(interval,), name="rag-reload", daemon=True)
            self._watcher.start()

    def stop(self) -> None:
        """Stop the watcher thread (a load in progress finishes on its own; it is a daemon thread)."""
        with self._lock:  # a load finishing now announces before this withdraws, or sees the stop and does not
            self._stop.set()
            readers.withdraw(self.settings.index_dir)
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None

    def _watch(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.refresh()
            except Exception:  # the watcher must survive anything the file system throws at it
                log.exception("index reload check failed")

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until a verified index is loaded (True) or the timeout passes (False)."""
        return self._ready.wait(timeout)

    # ------------------------------------------------------------ the serving index

    @property
    def ready(self) -> bool:
        return self._index is not None

    def index(self) -> Index:
        """The index to answer ONE request from (take it once, at the start of the request)."""
        self.refresh()
        index = self._index
        if index is None:
            raise NotReady("the index is not loaded yet")
        return index

    def status(self) -> ServiceStatus:
        with self._lock:  # read with the swap's lock: a generation reported served is also recorded as served
            index = self._index
            state = "ready" if index is not None else self._state
            loading = self._loading_name
            reason = self._unreachable
        if reason is not None:
            state = "unreachable"
        outcome = BuildOutcome.read(self.settings.index_dir)
        return ServiceStatus(
            ready=index is not None and reason is None,
            reason=reason,
            state=state,
            generation=index.generation if index is not None else None,
            chunks=len(index.chunks) if index is not None else 0,
            documents=len(index.documents) if index is not None else 0,
            loading=loading,
            rebuilding=build_in_progress(self.settings.index_dir),
            last_build_error=outcome.error if outcome is not None and not outcome.ok else None,
        )

    def refresh(self, *, force: bool = False, wait: bool = False) -> None:
        """Start loading the generation CURRENT names if it is new (at most every reload_check_seconds).

        `force` checks now (and retries a generation that failed before); `wait` blocks until the
        generation CURRENT names is serving or has failed — an admin upload uses it so the next question
        already sees the new document.
        """
        retry_failed = force
        for _ in range(10):  # a generation published while another loads needs a second round
            loader = self._check(now=force or wait, retry_failed=retry_failed)
            if not wait or loader is None:
                return
            loader.join()
            retry_failed = False  # the round that just ended tried once; a failure stays failed

    def _check(self, *, now: bool, retry_failed: bool) -> threading.Thread | None:
        """Start a loader if one is due; return the loader now running, if any."""
        clock = time.monotonic()
        with self._lock:
            if self._loader is not None and self._loader.is_alive():
                return self._loader
            if not now and clock < self._next_check:
                return None
            self._next_check = clock + self.settings.reload_check_seconds
            try:
                name = serving_name(self.settings)
            except StoreUnreachable as exc:
                if self._unreachable is None:
                    log.error("%s", exc)
                self._unreachable = str(exc)
                return None
            if self._unreachable is not None:
                log.info("the search backend answers again")
                self._unreachable = None
            serving = self._index.folder.name if self._index is not None else None
            if name is None:
                if serving is None and self._state != "missing":
                    log.warning("no index in %s yet; run `rag build`", self.settings.index_dir)
                    self._state = "missing"
                return None
            if name == serving or (name == self._failed_name and not retry_failed):
                return None
            self._loading_name = name
            if serving is None:
                self._state = "loading"
            loader = threading.Thread(target=self._load, args=(name,), name="rag-load", daemon=True)
            self._loader = loader
            loader.start()
            return loader

    def _load(self, name: str) -> None:
        started = time.perf_counter()
        try:
            index = load_index(self.settings, embedder=self._embedder)
            self._warm_up(index)
        except Exception as exc:  # a broken generation must never take the serving one down
            with self._lock:
                self._failed_name = name
                self._loading_name = None
                if self._index is None:
                    self._state = "failed"
            if isinstance(exc, RagError):
                log.error("index generation %s not loaded: %s", name, exc, extra={"generation": name})
            else:
                log.exception("index generation %s not loaded", name, extra={"generation": name})
            return
        with self._lock:
            # The record of what this process serves is written with the swap, under the same lock that
            # status() reads under: once /readyz reports a generation, its record is on disk and the index
            # folder does not change behind the caller.
            previous = self._index
            self._embedder = index.embedder
            self._index = index  # the swap: one reference assignment, atomic for every reader
            self._failed_name = None
            self._loading_name = None
            self._state = "ready"
            try:
                if not self._stop.is_set():  # a stopped service must not leave a record of serving behind
                    readers.announce(self.settings.index_dir, index.generation)
            except OSError as exc:  # a read-only index folder: admin changes then cannot wait for this process
                log.warning("cannot record the generation this process serves: %s", exc)
        if previous is None:
            # CC-CEDICT (English questions, the reading aid) loads once serving, not before: readiness stays fast.
            threading.Thread(target=cedict.warm, name="rag-dictionary", daemon=True).start()
        self._ready.set()
        log.info(
            "serving index generation %s (%d paragraphs, loaded and verified in %.2f s%s)",
            index.generation,
            len(index.chunks),
            time.perf_counter() - started,
            f", replacing {previous.generation}" if previous is not None else "",
            extra={"generation": index.generation},
        )

    def _warm_up(self, index: Index) -> None:
        """Answer one question before serving: the first call pays for lazy model and tokenizer set-up."""
        started = time.perf_counter()
        ask(index, AskRequest(WARM_UP_QUESTION, top_k=1), self.settings)
        log.debug("warm-up answered in %.0f ms", (time.perf_counter() - started) * 1000)

    # ------------------------------------------------------------ answering

    def ask(self, request: AskRequest, *, index: Index | None = None) -> Served:
        """Answer a request from `index` (default: the serving one), from the cache when this generation answered
        the same request before (a cached answer's timings show the lookup only)."""
        started = time.perf_counter()
        index = index if index is not None else self.index()
        request = request.with_defaults(self.settings.top_k, self.settings.mode)
        key = request.cache_key(index.generation)
        hit = self.cache.get(key)
        if hit is not None:
            elapsed = (time.perf_counter() - started) * 1000
            timings = {"embed": 0.0, "search": 0.0, "answer": 0.0, "total": elapsed}
            return Served(replace(hit, timings_ms=timings), cached=True)
        answer = ask(index, request, self.settings)
        self.cache.put(key, answer)
        return Served(answer, cached=False)
