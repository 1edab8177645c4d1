"""Run every benchmark with one command and write bench/out/*.json plus the Markdown results table.

    python -m bench.run            # the full run (about 20 minutes on 2 cores); updates bench/RESULTS.md
    python -m bench.run --quick    # CI-sized (2–3 minutes); writes bench/out/RESULTS.quick.md
    python -m bench.run --only query http   # some benchmarks; writes bench/out/RESULTS.partial.md

The real corpus is built from scratch into bench/out/index (never the project's index/), so a fresh
clone needs nothing else. Servers are `rag serve` processes on free 127.0.0.1 ports.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, load_questions, machine

OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "RESULTS.md"
BENCHMARKS = ("build", "query", "http", "throughput", "scale", "segments", "profile", "embedding")


def write_json(out: Path, name: str, data: Any) -> Path:
    path = out / f"{name}.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI-sized run: fewer rounds, 10 k-paragraph scale only.")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="Run only these benchmarks.")
    parser.add_argument("--sizes", nargs="+", type=int, help="Synthetic corpus sizes (default 10000 100000 1000000).")
    parser.add_argument("--questions", type=int, help="Use only the first N eval questions (default: all).")
    parser.add_argument("--out", type=Path, default=OUT, help="Folder for the JSON files (default bench/out).")
    parser.add_argument(
        "--results",
        type=Path,
        help="Markdown file to update (default: bench/RESULTS.md for a full run; RESULTS.quick.md or "
        "RESULTS.partial.md in --out for --quick or --only).",
    )
    args = parser.parse_args(argv)
    selected = set(args.only or BENCHMARKS)
    sizes = args.sizes or ([10_000] if args.quick else [10_000, 100_000, 1_000_000])
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    work.mkdir(exist_ok=True)
    index_dir = out / "index"
    os.environ["RAG_INDEX_DIR"] = str(index_dir)  # anything that reads Settings() sees the bench's index
    os.environ["RAG_FEEDBACK_DB"] = str(work / "feedback.sqlite3")

    from bench import build as build_bench
    from bench import profile as profile_bench
    from bench import query, report, scale, throughput
    from bench import segments as segments_bench
    from rag import get_embedder, get_settings, load_index

    started = time.perf_counter()
    summary: dict[str, Any] = {
        "command": " ".join(["python -m bench.run", *(argv if argv is not None else sys.argv[1:])]),
        "quick": args.quick,
        "machine": machine(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    results: dict[str, Any] = {}

    def step(name: str, fn: Any) -> None:
        print(f"[bench] {name} …", file=sys.stderr, flush=True)
        t = time.perf_counter()
        results[name] = fn()
        results[name]["elapsed_s"] = round(time.perf_counter() - t, 1)
        write_json(out, name, results[name])
        print(f"[bench] {name} done in {results[name]['elapsed_s']} s", file=sys.stderr, flush=True)

    if "build" in selected or not (index_dir / "CURRENT").exists():
        step("build", lambda: build_bench.run(index_dir, work, args.quick))
    settings = get_settings(corpus_dir=ROOT / "corpus", index_dir=index_dir)
    index = load_index(settings, get_embedder(settings))
    questions = load_questions()[: args.questions]
    texts = query.resolved_texts(index, settings, questions)
    rounds = 1 if args.quick else 3

    if "query" in selected:
        step(
            "query",
            lambda: {
                "in_process": query.in_process(index, settings, questions, rounds),
                "cache": query.cached(index, settings, questions),
            },
        )
    if "http" in selected:
        step(
            "http",
            lambda: {
                "uncached": query.over_http(index, index_dir, work, questions, texts, rounds),
                "cached": query.http_cached(index_dir, work, questions),
            },
        )
    if "throughput" in selected:
        step("throughput", lambda: throughput.run(index.embedder, texts, index_dir, work, questions, args.quick))
    if "profile" in selected:
        step("profile", lambda: profile_bench.run(index, settings, questions, index_dir, args.quick))
    if "embedding" in selected:
        from bench import embedding

        step("embedding", lambda: embedding.run(ROOT / "corpus", args.quick))
    if "scale" in selected:
        vectors = index.embedder.embed_batch(texts, "query")
        step("scale", lambda: scale.run(index, questions, vectors, work, sizes, args.quick))
    if "segments" in selected:
        step("segments", lambda: segments_bench.run(sizes, 5 if args.quick else 20, work))

    summary["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    summary["elapsed_s"] = round(time.perf_counter() - started, 1)
    summary["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    summary["targets"] = report.targets(results)
    summary["results"] = results
    write_json(out, "summary", summary)
    # Only a full run of every benchmark replaces bench/RESULTS.md (its numbers all come from one run); a quick
    # or partial run writes its tables beside its JSON files.
    partial = args.only is not None and set(args.only) != set(BENCHMARKS)
    default = out / "RESULTS.quick.md" if args.quick else out / "RESULTS.partial.md" if partial else RESULTS
    target = args.results or default
    report.update(target, summary)
    print(report.table(summary), file=sys.stderr)
    print(f"[bench] wrote {out}/*.json and {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
