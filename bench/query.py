"""The query path: `ask` over the eval questions, in-process and over HTTP, against the bare query embedding.

Every figure is paired with the floor measured in the same loop: before each answer the same text
(the resolved question `ask` embeds) is embedded alone, so machine noise hits both alike. The plain
baseline is what a general retrieval framework does: embed, exact flat search, BM25 — no answer stage.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import NO_CLIENT_LIMITS, ROOT, BenchQuestion, Client, ratio, serve, stats
from rag.answer import ask
from rag.index.load import Index
from rag.records import AskRequest
from rag.service import Service
from rag.settings import Settings, get_settings

STAGES = ("embed", "search", "answer")


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def resolved_texts(index: Index, settings: Settings, questions: list[BenchQuestion]) -> list[str]:
    """The text `ask` embeds for each question (follow-ups are rewritten against their history); warms caches."""
    return [ask(index, q.question, settings, history=q.history).resolved_question for q in questions]


def baseline_once(index: Index, text: str, k: int) -> float:
    """Embed + exact inner product over every paragraph + BM25 top-k: a retrieval framework's floor (ms)."""
    started = time.perf_counter()
    vector = index.embedder.embed_query(text)
    dense = np.asarray(index.vectors) @ vector
    top = np.argpartition(-dense, min(k, len(dense) - 1))[:k]
    bm25 = index.store.keyword_scores(index.tokenizer.tokens(text), len(index.chunks), None)
    best = np.argpartition(-bm25, min(k, len(bm25) - 1))[:k]
    _ = sorted(set(top.tolist()) | set(best.tolist()))
    return _ms(started)


def in_process(index: Index, settings: Settings, questions: list[BenchQuestion], rounds: int) -> dict[str, Any]:
    """p50/p95/p99 of `rag.answer.ask`, split by stage, with the bare embedding and the baseline beside it."""
    texts = resolved_texts(index, settings, questions)
    bare: list[float] = []
    base: list[float] = []
    total: list[float] = []
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    for r in range(rounds):
        for q, text in zip(questions, texts, strict=True):
            # Alternate the order each round so neither side always runs on a just-warmed core.
            if r % 2 == 0:
                t = time.perf_counter()
                index.embedder.embed_query(text)
                bare.append(_ms(t))
            t = time.perf_counter()
            answer = ask(index, q.question, settings, history=q.history)
            total.append(_ms(t))
            for s in STAGES:
                stages[s].append(answer.timings_ms[s])
            base.append(baseline_once(index, text, settings.top_k))
            if r % 2 == 1:
                t = time.perf_counter()
                index.embedder.embed_query(text)
                bare.append(_ms(t))
    out: dict[str, Any] = {
        "questions": len(questions),
        "rounds": rounds,
        "ask_ms": stats(total),
        "stages_ms": {s: stats(v) for s, v in stages.items()},
        "bare_embedding_ms": stats(bare),
        "baseline_ms": stats(base),
        "our_work_ms": stats([t - e for t, e in zip(total, stages["embed"], strict=True)]),
    }
    out["ratio_p50_vs_embedding"] = ratio(out["ask_ms"]["p50"], out["bare_embedding_ms"]["p50"])
    out["ratio_p50_vs_baseline"] = ratio(out["ask_ms"]["p50"], out["baseline_ms"]["p50"])
    out["baseline_ratio_vs_embedding"] = ratio(out["baseline_ms"]["p50"], out["bare_embedding_ms"]["p50"])
    return out


def cached(index: Index, settings: Settings, questions: list[BenchQuestion]) -> dict[str, Any]:
    """A repeated identical question: the Service's LRU (keyed by generation) answers it."""
    service = Service(settings, index=index)
    for q in questions:
        service.ask(AskRequest(q.question, history=q.history))
    hits: list[float] = []
    served_cached = 0
    for q in questions:
        t = time.perf_counter()
        served = service.ask(AskRequest(q.question, history=q.history))
        hits.append(_ms(t))
        served_cached += served.cached
    return {
        "cache_size": settings.cache_size,
        "repeat_ms": stats(hits),
        "served_from_cache": served_cached,
        "asked": len(questions),
    }


def over_http(
    index: Index, index_dir: Path, work: Path, questions: list[BenchQuestion], texts: list[str], rounds: int
) -> dict[str, Any]:
    """Sequential POST /ask on a 1-worker `rag serve` with the answer cache off; the bare embedding and the
    in-process `ask` of the same question in the same loop (same run, same machine load: their ratio is the
    HTTP path's own cost).

    The three measurements of a question run in one of their six orders, the next order for the next
    question, so each follows and precedes each other one equally often. A fixed order is not neutral: on
    the 2-core machine, the same code measured 1.18-1.23x in the three fixed orders tried and 1.11x rotated
    (`python -m bench.http_order`; docs/http-profile.md, "Fourth pass").
    """
    client_ms: list[float] = []
    bare: list[float] = []
    local: list[float] = []
    server: dict[str, list[float]] = {s: [] for s in (*STAGES, "total")}
    errors = 0
    settings = get_settings(corpus_dir=ROOT / "corpus", index_dir=index_dir, cache_size=0)
    orders = list(itertools.permutations(("bare", "local", "http")))

    with serve(index_dir, work, workers=1, log=work / "serve-http.log", cache_size=0, **NO_CLIENT_LIMITS) as srv:
        srv.wait_ready()
        client = Client(srv.port)
        try:
            for q in questions[:5]:  # warm the connection and the worker's first-request paths
                client.request("POST", "/ask", q.body())
            step = 0
            for _ in range(rounds):
                for q, text in zip(questions, texts, strict=True):
                    for what in orders[step % len(orders)]:
                        t = time.perf_counter()
                        if what == "bare":
                            index.embedder.embed_query(text)
                            bare.append(_ms(t))
                        elif what == "local":
                            ask(index, q.question, settings, history=q.history)
                            local.append(_ms(t))
                        else:
                            status, body = client.request("POST", "/ask", q.body())
                            elapsed = _ms(t)
                            if status != 200:  # counted, not timed; the question's other measurements still run
                                errors += 1
                                continue
                            client_ms.append(elapsed)
                            timings = json.loads(body).get("timings_ms", {})
                            for s in server:
                                if s in timings:
                                    server[s].append(float(timings[s]))
                    step += 1
        finally:
            client.close()
    out: dict[str, Any] = {
        "questions": len(questions),
        "rounds": rounds,
        "errors": errors,
        "http_ms": stats(client_ms),
        "server_timings_ms": {s: stats(v) for s, v in server.items()},
        "bare_embedding_ms": stats(bare),
        "in_process_ask_ms": stats(local),
    }
    out["ratio_p50_vs_embedding"] = ratio(out["http_ms"].get("p50"), out["bare_embedding_ms"].get("p50"))
    out["ratio_p50_vs_in_process"] = ratio(out["http_ms"].get("p50"), out["in_process_ask_ms"].get("p50"))
    server_total = out["server_timings_ms"]["total"].get("p50")
    out["transport_p50_ms"] = round(out["http_ms"]["p50"] - server_total, 3) if server_total else None
    return out


def http_cached(index_dir: Path, work: Path, questions: list[BenchQuestion]) -> dict[str, Any]:
    """POST /ask twice per question with the default cache: the second answer comes from the LRU."""
    first: list[float] = []
    repeat: list[float] = []
    flagged = 0
    with serve(index_dir, work, workers=1, log=work / "serve-http-cache.log", **NO_CLIENT_LIMITS) as srv:
        srv.wait_ready()
        client = Client(srv.port)
        try:
            for q in questions:
                t = time.perf_counter()
                client.request("POST", "/ask", q.body())
                first.append(_ms(t))
            for q in questions:
                t = time.perf_counter()
                status, body = client.request("POST", "/ask", q.body())
                repeat.append(_ms(t))
                flagged += status == 200 and bool(json.loads(body).get("cached"))
        finally:
            client.close()
    return {"first_ms": stats(first), "repeat_ms": stats(repeat), "repeat_flagged_cached": flagged}
