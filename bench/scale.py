"""Scale: synthetic corpora of 10 k, 100 k and 1 M paragraphs (see bench/synthetic.py for how they are made).

For each size, in the generating process: build time of each dense index type, its single-query p50
and recall@10 against exact search. Then, in a FRESH process (`python -m bench.scale --probe DIR`),
what a server would hold: `load_index` time, resident memory, `search` p50 with the index type the
manifest chose, `ask` p50, and the plain baseline (exact flat search + BM25, no answer stage).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from bench import synthetic
from bench.common import ROOT, BenchQuestion, memory_mb, ratio, stats
from rag.index import layout

K = 10


def exact_topk(vectors: np.ndarray, queries: np.ndarray, k: int, block: int = 100_000) -> np.ndarray:
    """Exact top-k rows by inner product, in blocks (the ground truth for recall)."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), k), dtype=np.int64)
    for lo in range(0, len(vectors), block):
        part = np.asarray(vectors[lo : lo + block], dtype=np.float32)
        s = queries @ part.T
        take = min(k, s.shape[1])
        idx = np.argpartition(-s, take - 1, axis=1)[:, :take]
        cand_s = np.concatenate([best_s, np.take_along_axis(s, idx, axis=1)], axis=1)
        cand_i = np.concatenate([best_i, idx + lo], axis=1)
        order = np.argsort(-cand_s, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(cand_s, order, axis=1)
        best_i = np.take_along_axis(cand_i, order, axis=1)
    return best_i


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = [len(set(f[f >= 0].tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth, strict=True)]
    return round(float(np.mean(hits)), 4)


def _single_query_p50(index: Any, vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    """Single-query latency as the server searches (one thread per query, approximate candidates re-scored
    with the exact vectors: rag.index.local_store.search_dense)."""
    from rag.index.local_store import search_dense

    found = np.zeros((len(queries), k), dtype=np.int64)
    times = []
    for i, q in enumerate(queries):
        t = time.perf_counter()
        _, rows = search_dense(index, vectors, q, k)
        times.append((time.perf_counter() - t) * 1000)
        found[i] = rows[0]
    return stats(times)["p50"], found


def index_types(
    vectors: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    n_eval: int,
    with_hnsw: bool,
    built: tuple[Any, dict[str, Any], float] | None = None,
) -> list[dict[str, Any]]:
    """Build each candidate dense index over the same vectors: build s, bytes, single-query p50, recall@10.

    `built` is the generation's own index above the threshold (index, info, build seconds), not built twice.
    """
    from rag.index.build import make_dense_index

    n, d = vectors.shape
    rows: list[dict[str, Any]] = []
    candidates: list[tuple[str, int]] = [("exact", n + 1), ("above threshold", 0)]
    info: dict[str, Any]
    if with_hnsw:
        candidates.append(("hnsw-flat-ip M=32", -1))
    for label, threshold in candidates:
        t = time.perf_counter()
        if threshold == 0 and built is not None:
            index, info, build_s = built
        elif threshold == -1:
            index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
            index.hnsw.efSearch = 96
            info = {"type": "hnsw-flat-ip", "M": 32, "efConstruction": 80, "efSearch": 96}
        else:
            index, made = make_dense_index(np.asarray(vectors), threshold)
            info = {k: v for k, v in asdict(made).items() if v is not None}
        if not (threshold == 0 and built is not None):
            build_s = time.perf_counter() - t
        size = int(faiss.serialize_index(index).nbytes) if n <= 200_000 else _approx_bytes(index, info, d)
        # For IVF, the probe count trades recall for time: measure the chosen one and its neighbours.
        probes = [info["nprobe"] * f // 4 for f in (1, 2, 4, 8)] if "nprobe" in info else [None]
        for nprobe in probes:
            if nprobe is not None:
                faiss.extract_index_ivf(index).nprobe = nprobe
            p50, found = _single_query_p50(index, vectors, queries, K)
            rows.append(
                {
                    "label": label if nprobe in (None, info.get("nprobe")) else f"{label}, nprobe={nprobe}",
                    "index": {**info, "nprobe": nprobe} if nprobe is not None else info,
                    "build_s": round(build_s, 2),
                    "bytes": size,
                    "query_p50_ms": p50,
                    "recall_at_10": recall(found, truth),
                    "recall_at_10_eval_questions": recall(found[:n_eval], truth[:n_eval]),
                }
            )
        del index
    return rows


def _approx_bytes(index: Any, info: dict[str, Any], d: int) -> int:
    """Code bytes plus coarse centroids (serialising a 1 M index only to count it would double the memory)."""
    n = int(index.ntotal)
    if info["type"] == "flat-ip":
        return n * d * 4
    ivf = faiss.extract_index_ivf(index)
    return int(n * ivf.code_size + n * 8 + ivf.nlist * ivf.d * 4)


# ---------------------------------------------------------------- the serving-side probe (fresh process)


def probe(index_dir: Path, queries_file: Path, rounds: int) -> dict[str, Any]:
    """Load the synthetic generation as a server would and answer the eval questions against it."""
    from rag import get_embedder, get_settings, load_index
    from rag.answer import ask
    from rag.retrieval import search

    before = memory_mb()
    settings = get_settings(corpus_dir=ROOT / "corpus", index_dir=index_dir, cache_size=0)
    embedder = get_embedder(settings)
    model = memory_mb()
    t = time.perf_counter()
    index = load_index(settings, embedder)
    load_s = time.perf_counter() - t
    loaded = memory_mb()
    payload = json.loads(queries_file.read_text(encoding="utf-8"))
    questions = [BenchQuestion(q["id"], q["question"], ()) for q in payload["questions"]]
    vectors = np.load(payload["vectors"])
    t = time.perf_counter()
    ask(index, questions[0].question, settings)
    first_ask_s = time.perf_counter() - t

    search_ms: list[float] = []
    ask_ms: list[float] = []
    ask_parts: dict[str, list[float]] = {"embed": [], "search": [], "answer": []}
    for _ in range(rounds):
        for q, v in zip(questions, vectors, strict=True):
            t = time.perf_counter()
            search(index, q.question, settings, query_vector=v)
            search_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            answer = ask(index, q.question, settings)
            ask_ms.append((time.perf_counter() - t) * 1000)
            for part in ask_parts:
                ask_parts[part].append(answer.timings_ms[part])
    served = memory_mb()
    # The baseline last: exact search reads every vector, which would inflate the memory figures above.
    base_ms = []
    flat = np.asarray(index.vectors)
    for q, v in zip(questions, vectors, strict=True):
        t = time.perf_counter()
        dense = flat @ v
        np.argpartition(-dense, K)[:K]
        bm25 = index.store.keyword_scores(index.tokenizer.tokens(q.question), len(index.chunks), None)
        np.argpartition(-bm25, K)[:K]
        base_ms.append((time.perf_counter() - t) * 1000)
    our_work = [a - e for a, e in zip(ask_ms, ask_parts["embed"], strict=True)]
    return {
        "chunks": len(index.chunks),
        "dense_index": index.manifest.to_json()["dense_index"],
        "load_s": round(load_s, 2),
        "first_ask_s": round(first_ask_s, 2),
        "memory_mb": {"start": before, "with_model": model, "loaded": loaded, "after_queries": served},
        "rss_mb": served.get("rss"),
        "search_ms": stats(search_ms),
        "ask_ms": stats(ask_ms),
        "ask_stages_ms": {k: stats(v) for k, v in ask_parts.items()},
        "ask_without_embedding_ms": stats(our_work),
        "baseline_exact_bm25_ms": stats(base_ms),
        "search_ratio_vs_baseline": ratio(stats(search_ms)["p50"], stats(base_ms)["p50"]),
    }


# ---------------------------------------------------------------- one size, end to end


def run_size(
    base: synthetic.Base,
    n: int,
    work: Path,
    threshold: int,
    queries_file: Path,
    question_vectors: np.ndarray,
    quick: bool,
) -> dict[str, Any]:
    index_dir = work / f"scale-{n}"
    written = synthetic.write_generation(base, n, index_dir, threshold)
    folder = Path(written["folder"])
    vectors = np.load(folder / layout.VECTORS, mmap_mode="r")
    q = synthetic.queries(base, question_vectors, vectors, m=100 if quick else 200)
    t = time.perf_counter()
    truth = exact_topk(vectors, q, K)
    exact_s = time.perf_counter() - t
    dense: Any = faiss.read_index(str(folder / layout.DENSE))  # the type the manifest chose for this size
    info = written["dense_index"]
    built = (dense, info, written["timings_s"]["dense_build_s"]) if info["type"] != "flat-ip" else None
    types = index_types(vectors, q, truth, len(question_vectors), with_hnsw=n <= 100_000 and not quick, built=built)
    eval_q = len(question_vectors)
    if "nprobe" in info:
        faiss.extract_index_ivf(dense).nprobe = info["nprobe"]
    _, found = _single_query_p50(dense, vectors, q, K)
    recall_all = recall(found, truth)
    recall_eval = recall(found[:eval_q], truth[:eval_q])
    recall_near = recall(found[eval_q:], truth[eval_q:])
    del dense, vectors
    done = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--probe", str(index_dir), str(queries_file), "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scale probe for {n} failed:\n{done.stderr[-3000:]}")
    served = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "chunks": n,
        "generated": written,
        "vector_mean_cosine": synthetic.mean_pairwise_cosine(np.load(folder / layout.VECTORS, mmap_mode="r")),
        "exact_search_batch_s": round(exact_s, 2),
        "queries": {"eval_questions": eval_q, "perturbed_paragraphs": len(q) - eval_q},
        "index_types": types,
        "configured_recall_at_10": recall_all,
        "configured_recall_at_10_eval_questions": recall_eval,
        "configured_recall_at_10_perturbed": recall_near,
        "served": served,
    }


def run(
    index: Any, questions: list[BenchQuestion], question_vectors: np.ndarray, work: Path, sizes: list[int], quick: bool
) -> dict[str, Any]:
    """Every size in turn; the synthetic folders are removed afterwards (they are large)."""
    import shutil

    from rag import get_settings

    threshold = get_settings().dense_index_threshold
    base = synthetic.base_from(index)
    np.save(work / "question_vectors.npy", question_vectors)
    queries_file = work / "scale-queries.json"
    queries_file.write_text(
        json.dumps(
            {
                "vectors": str(work / "question_vectors.npy"),
                "questions": [{"id": q.id, "question": q.question} for q in questions],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    out = []
    for n in sizes:
        try:
            out.append(run_size(base, n, work, threshold, queries_file, question_vectors, quick))
        finally:
            shutil.rmtree(work / f"scale-{n}", ignore_errors=True)
    return {
        "threshold": threshold,
        "real_vector_mean_cosine": synthetic.mean_pairwise_cosine(base.real_vectors),
        "sizes": out,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--probe", nargs=2, type=Path, metavar=("INDEX_DIR", "QUERIES_JSON"))
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe[0], args.probe[1], args.rounds)))


if __name__ == "__main__":
    main()
