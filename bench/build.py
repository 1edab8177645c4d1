"""Build and start-up: the real corpus built from scratch (chunks/s), and `rag serve` time to GET /readyz.

The start-up probe (`python -m bench.build --probe INDEX_DIR`) runs in a fresh interpreter and times
each step a server worker takes before it is ready: imports, model, index load, warm-up answer.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, fresh_import_s, memory_mb, serve, stats


def build_corpus(index_dir: Path) -> dict[str, Any]:
    """Build the real corpus into an empty `index_dir` (nothing reused); seconds, rates and the manifest's choice."""
    from rag import build_index, get_embedder, get_settings
    from rag.index.generations import read_manifest

    shutil.rmtree(index_dir, ignore_errors=True)
    settings = get_settings(corpus_dir=ROOT / "corpus", index_dir=index_dir)
    embedder = get_embedder(settings)
    marks: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        marks.setdefault(stage, time.perf_counter())

    started = time.perf_counter()
    folder = build_index(settings, embedder, progress=progress, reuse_vectors=False)
    seconds = time.perf_counter() - started
    manifest = read_manifest(folder)
    counts = manifest.counts
    embedded = manifest.embedding.embedded
    embed_s = marks.get("write", started) - started
    return {
        "seconds": round(seconds, 3),
        "chunks": counts.chunks,
        "sentences": counts.sentences,
        "texts_embedded": embedded,
        "chunks_per_s": round(counts.chunks / seconds, 2),
        "embed_seconds": round(embed_s, 3),
        "texts_per_s_embedding": round(embedded / embed_s, 1) if embedded and embed_s > 0 else None,
        "rest_seconds": round(seconds - embed_s, 3),
        "dense_index": manifest.to_json()["dense_index"],
    }


def startup(index_dir: Path, work: Path, runs: int) -> dict[str, Any]:
    """Seconds from starting `rag serve` (1 worker, existing index) to the first 200 from GET /readyz."""
    times = []
    for _ in range(runs):
        with serve(index_dir, work, workers=1) as server:
            times.append(server.wait_ready() * 1000)
    return {"runs": runs, "ready_ms": stats(times)}


def probe(index_dir: Path) -> dict[str, Any]:
    """The steps a worker takes to become ready, in milliseconds: the import timed in a new interpreter of its
    own (bench.common.fresh_import_s), the rest in this one."""
    imports_ms = fresh_import_s("app.main") * 1000  # what the worker imports: FastAPI, the app, the library
    import app.main  # noqa: F401  (here too, so that the steps below do not count its imports again)
    from rag import get_embedder, get_settings, load_index
    from rag.service import Service

    t1 = time.perf_counter()
    settings = get_settings(corpus_dir=ROOT / "corpus", index_dir=index_dir, cache_size=0)
    embedder = get_embedder(settings)
    t2 = time.perf_counter()
    index = load_index(settings, embedder)
    t3 = time.perf_counter()
    Service(settings, index=index)._warm_up(index)
    t4 = time.perf_counter()
    Service(settings, index=index)._warm_up(index)
    t5 = time.perf_counter()
    return {
        "imports_ms": round(imports_ms, 1),
        "embedder_ms": round((t2 - t1) * 1000, 1),
        "load_index_ms": round((t3 - t2) * 1000, 1),
        "warm_up_ms": round((t4 - t3) * 1000, 1),
        "second_answer_ms": round((t5 - t4) * 1000, 1),
        "total_ms": round(imports_ms + (t4 - t1) * 1000, 1),
        "memory_mb": memory_mb(),
    }


def run_probe(index_dir: Path, runs: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-m", "bench.build", "--probe", str(index_dir)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        out.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return out


def run(index_dir: Path, work: Path, quick: bool) -> dict[str, Any]:
    build = build_corpus(index_dir)
    runs = 1 if quick else 3
    steps = run_probe(index_dir, runs)
    median = {k: sorted(s[k] for s in steps)[len(steps) // 2] for k in steps[0] if k.endswith("_ms")}
    return {"build": build, "startup": startup(index_dir, work, runs), "startup_steps_ms": median, "probes": steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--probe", type=Path, help="time a worker's start-up steps against this index folder")
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe)))


if __name__ == "__main__":
    main()
