"""Throughput: POST /ask from 1, 8 and 32 concurrent clients against 1 and 2 workers, on loopback.

The floor is the bare query embedding driven by 8 threads in one process (the model serialises calls,
as the server's embedder does). Every load loop stops at a request count or a time limit, whichever
comes first; the answer cache is off so every request does the full work.
"""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import NO_CLIENT_LIMITS, BenchQuestion, Client, Deadline, ratio, serve, stats
from rag.embedding import Embedder


def embedding_throughput(
    embedder: Embedder, texts: list[str], threads: int, count: int, seconds: float
) -> dict[str, Any]:
    """Query embeddings per second with `threads` threads calling the embedder at once."""
    counter = itertools.count()
    deadline = Deadline(seconds)
    latencies: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        while deadline:
            i = next(counter)
            if i >= count:
                return
            t = time.perf_counter()
            embedder.embed_query(texts[i % len(texts)])
            with lock:
                latencies.append((time.perf_counter() - t) * 1000)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    return {
        "threads": threads,
        "done": len(latencies),
        "seconds": round(elapsed, 3),
        "per_s": round(len(latencies) / elapsed, 2),
        "latency_ms": stats(latencies),
    }


def load(port: int, questions: list[BenchQuestion], clients: int, count: int, seconds: float) -> dict[str, Any]:
    """`clients` threads, each with its own keep-alive connection, POST /ask until `count` requests or `seconds`."""
    counter = itertools.count()
    deadline = Deadline(seconds)
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[str, int] = {}

    def worker() -> None:
        client = Client(port, timeout=60.0)
        try:
            while deadline:
                i = next(counter)
                if i >= count:
                    return
                t = time.perf_counter()
                try:
                    status, _ = client.request("POST", "/ask", questions[i % len(questions)].body())
                    key = str(status)
                except OSError as exc:
                    key = type(exc).__name__
                elapsed = (time.perf_counter() - t) * 1000
                with lock:
                    statuses[key] = statuses.get(key, 0) + 1
                    if key == "200":
                        latencies.append(elapsed)
        finally:
            client.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(clients)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    ok = statuses.get("200", 0)
    return {
        "clients": clients,
        "requests": sum(statuses.values()),
        "ok": ok,
        "errors": sum(v for k, v in statuses.items() if k != "200"),
        "statuses": statuses,
        "seconds": round(elapsed, 3),
        "req_per_s": round(ok / elapsed, 2),
        "latency_ms": stats(latencies),
    }


def run(
    embedder: Embedder, texts: list[str], index_dir: Path, work: Path, questions: list[BenchQuestion], quick: bool
) -> dict[str, Any]:
    levels = (1, 8, 32)
    count, seconds = (24, 6.0) if quick else (240, 20.0)
    floor = embedding_throughput(embedder, texts, threads=8, count=count * 2, seconds=seconds)
    configs: list[tuple[str, int, dict[str, str]]] = [("1 worker", 1, {}), ("2 workers", 2, {})]
    if not quick:
        # The other way to run two workers: a core each for their models (most requests/s under load).
        configs.append(("2 workers, OMP_NUM_THREADS=1", 2, {"OMP_NUM_THREADS": "1"}))
    results: list[dict[str, Any]] = []
    for name, workers, env in configs:
        log = work / f"serve-load-{len(results)}.log"
        with serve(index_dir, work, workers=workers, log=log, extra_env=env, cache_size=0, **NO_CLIENT_LIMITS) as srv:
            srv.wait_ready()
            Client(srv.port).request("POST", "/ask", questions[0].body())
            for clients in levels:
                # With 2 workers the second may still be warming up when the first says ready: warm both.
                load(srv.port, questions, clients=min(clients, 4), count=8, seconds=5.0)
                row = load(srv.port, questions, clients=clients, count=max(count, clients * 2), seconds=seconds)
                row["ratio_vs_embedding_8_threads"] = ratio(row["req_per_s"], floor["per_s"])
                results.append({"config": name, "workers": workers, **row})
    floor_after = embedding_throughput(embedder, texts, threads=8, count=count * 2, seconds=seconds)
    return {"embedding_8_threads": floor, "embedding_8_threads_after": floor_after, "http": results}
