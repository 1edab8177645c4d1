"""The search backend as a dimension: local files beside Milvus (embedded milvus-lite, or a `--milvus-uri`).

For each synthetic size (bench/synthetic.py): the local generation is written as the scale benchmark
writes it, then published to Milvus (`rag.index.milvus.publish`: what `rag build` and every `rag add` do
with RAG_BACKEND=milvus, since a generation is a new set of collections). Then, on each backend, the
eval questions' `search` (dense + BM25 + fusion + sentence rescoring, the query vector given) one at a
time — p50 and p95 — and with 4 threads at once for throughput.

    nice python -m bench.backends --sizes 10000 100000          # writes bench/out/backends.json
    nice python -m bench.backends --milvus-uri http://127.0.0.1:19530
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from bench import synthetic
from bench.common import ROOT, load_questions, machine, stats

OUT = ROOT / "bench" / "out"
THREADS = 4


def measure(index: Any, settings: Any, questions: list[str], vectors: np.ndarray, rounds: int) -> dict[str, Any]:
    """Single-query search p50/p95, then searches per second with THREADS threads."""
    from rag.retrieval import search

    search(index, questions[0], settings, query_vector=vectors[0])  # warm: first reads, lazy set-up
    times = []
    for _ in range(rounds):
        for q, v in zip(questions, vectors, strict=True):
            t = time.perf_counter()
            search(index, q, settings, query_vector=v)
            times.append((time.perf_counter() - t) * 1000)
    jobs = [(q, v) for _ in range(rounds) for q, v in zip(questions, vectors, strict=True)]
    t = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda job: search(index, job[0], settings, query_vector=job[1]), jobs))
    elapsed = time.perf_counter() - t
    single = stats(times)
    return {"search_ms": single, "searches_per_s": round(len(jobs) / elapsed, 1), "threads": THREADS}


def run_size(base: synthetic.Base, n: int, work: Path, uri: str, questions: list[str], vectors: np.ndarray,
             rounds: int) -> dict[str, Any]:  # fmt: skip
    from rag import get_settings, load_index
    from rag.index.milvus.publish import publish_to_milvus

    index_dir = work / f"backends-{n}"
    shutil.rmtree(index_dir, ignore_errors=True)
    local = get_settings(corpus_dir=ROOT / "corpus", index_dir=index_dir, cache_size=0, backend="local")
    written = synthetic.write_generation(base, n, index_dir, local.dense_index_threshold)
    milvus = local.model_copy(update={"backend": "milvus", "milvus_uri": uri, "milvus_prefix": f"bench{n}"})
    row: dict[str, Any] = {"chunks": n, "sentences": written["sentences"], "local_write_s": written["timings_s"]}
    index = load_index(local, verify=False)
    row["local"] = measure(index, local, questions, vectors, rounds)
    del index
    t = time.perf_counter()
    publish_to_milvus(milvus, Path(written["folder"]))
    row["milvus_publish_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    index = load_index(milvus, verify=False)
    row["milvus_load_s"] = round(time.perf_counter() - t, 1)
    row["milvus"] = measure(index, milvus, questions, vectors, rounds)
    del index
    if not uri:
        row["milvus_lite_bytes"] = sum(p.stat().st_size for p in index_dir.rglob("*") if "milvus" in str(p) and p.is_file())
    shutil.rmtree(index_dir, ignore_errors=True)
    return row


def table(result: dict[str, Any]) -> str:
    lines = [
        "| Paragraphs | Backend | search p50 ms | p95 ms | searches/s (4 threads) | build / publish s |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    where = "milvus-lite server" if result["milvus_uri"] else "embedded milvus-lite"
    for r in result["sizes"]:
        local_build = r["local_write_s"]["total_s"]
        for name, label, build in (("local", "local (FAISS + bm25s)", local_build),
                                   ("milvus", where, r["milvus_publish_s"])):  # fmt: skip
            m = r[name]
            lines.append(
                f"| {r['chunks']:,} | {label} | {m['search_ms']['p50']:.1f} | {m['search_ms']['p95']:.1f} | "
                f"{m['searches_per_s']:.0f} | {build:.1f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backends", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000])
    parser.add_argument("--milvus-uri", default="", help="A Milvus server (default: embedded milvus-lite).")
    parser.add_argument("--questions", type=int, default=60, help="Eval questions searched per round.")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "work"
    work.mkdir(exist_ok=True)
    os.environ.setdefault("RAG_INDEX_DIR", str(args.out / "index"))

    from rag import get_settings, load_index
    from rag.index import ensure_index

    real = get_settings(corpus_dir=ROOT / "corpus", index_dir=args.out / "index")
    index = ensure_index(real) if not (real.index_dir / "CURRENT").exists() else load_index(real)
    questions = [q.question for q in load_questions()[: args.questions]]
    vectors = index.embedder.embed_batch(questions, "query")
    base = synthetic.base_from(index)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "command": " ".join(["python -m bench.backends", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "milvus_uri": args.milvus_uri,
        "questions": len(questions),
        "rounds": args.rounds,
        "sizes": [],
    }
    for n in args.sizes:
        print(f"[bench] backends at {n:,} paragraphs …", file=sys.stderr, flush=True)
        result["sizes"].append(run_size(base, n, work, args.milvus_uri, questions, vectors, args.rounds))
        (args.out / "backends.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    (args.out / "backends.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
