"""Does the order of measurement move the HTTP ratio? POST /ask, the in-process `ask` and the bare embedding of
each question in a given order (or the six orders in turn); p50 of each, and of each by the one before it.

    python -m bench.http_order                                   # the six orders in turn
    python -m bench.http_order --orders bare,local,http          # one fixed order for every question
    python -m bench.http_order --orders bare,local,http/http,bare,local   # these orders in turn

One 1-worker `rag serve` on the bench's index (bench/out/index, built by `python -m bench.run` once), the
answer cache and the per-client limits off, as `bench.query.over_http` serves it. A Markdown table on stdout,
JSON in bench/out/http-order.json. This is the evidence for over_http's rotating order (docs/http-profile.md).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path
from typing import Any

from bench.common import NO_CLIENT_LIMITS, ROOT, Client, load_questions, ratio, serve, stats

MEASURES = ("bare", "local", "http")


def run(out: Path, orders: list[tuple[str, ...]], rounds: int) -> dict[str, Any]:
    from bench.query import resolved_texts
    from rag import get_embedder, get_settings, load_index
    from rag.answer import ask

    index_dir, work = out / "index", out / "work"
    work.mkdir(parents=True, exist_ok=True)
    settings = get_settings(corpus_dir=ROOT / "corpus", index_dir=index_dir, cache_size=0)
    index = load_index(settings, get_embedder(settings))
    questions = load_questions()
    texts = resolved_texts(index, settings, questions)
    times: dict[str, list[float]] = {m: [] for m in MEASURES}
    after: dict[str, dict[str, list[float]]] = {m: {} for m in MEASURES}
    with serve(index_dir, work, workers=1, log=work / "serve-order.log", cache_size=0, **NO_CLIENT_LIMITS) as srv:
        srv.wait_ready()
        client = Client(srv.port)
        try:
            for q in questions[:5]:  # warm the connection and the worker's first-request paths
                client.request("POST", "/ask", q.body())
            previous, step = "", 0
            for _ in range(rounds):
                for q, text in zip(questions, texts, strict=True):
                    for what in orders[step % len(orders)]:
                        t = time.perf_counter()
                        if what == "bare":
                            index.embedder.embed_query(text)
                        elif what == "local":
                            ask(index, q.question, settings, history=q.history)
                        elif client.request("POST", "/ask", q.body())[0] != 200:
                            raise RuntimeError(f"POST /ask failed for {q.question!r}")
                        ms = (time.perf_counter() - t) * 1000
                        times[what].append(ms)
                        if previous:
                            after[what].setdefault(previous, []).append(ms)
                        previous = what
                    step += 1
        finally:
            client.close()
    result: dict[str, Any] = {
        "orders": [",".join(o) for o in orders],
        "rounds": rounds,
        "questions": len(questions),
        "p50_ms": {m: stats(v)["p50"] for m, v in times.items()},
        "p50_ms_after": {m: {p: stats(v)["p50"] for p, v in by.items()} for m, by in after.items()},
    }
    result["ratio_http_over_local"] = ratio(result["p50_ms"]["http"], result["p50_ms"]["local"])
    return result


def table(result: dict[str, Any]) -> str:
    lines = [
        f"orders {' / '.join(result['orders'])}; {result['questions']} questions × {result['rounds']} rounds",
        "",
        "| measurement | p50 ms | p50 ms by the measurement before it |",
        "|---|---|---|",
    ]
    for m in MEASURES:
        by = ", ".join(f"after {p}: {v}" for p, v in sorted(result["p50_ms_after"][m].items()))
        lines.append(f"| {m} | {result['p50_ms'][m]} | {by} |")
    lines += ["", f"POST /ask p50 ÷ in-process ask p50: **{result['ratio_http_over_local']}×**"]
    return "\n".join(lines)


def parse_orders(value: str | None) -> list[tuple[str, ...]]:
    if not value:
        return list(itertools.permutations(MEASURES))
    orders = [tuple(o.split(",")) for o in value.split("/")]
    for o in orders:
        if sorted(o) != sorted(MEASURES):
            raise argparse.ArgumentTypeError(f"an order names each of {', '.join(MEASURES)} once, got {','.join(o)}")
    return orders


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.http_order", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=parse_orders, default=None, help="e.g. bare,local,http/http,bare,local")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    if not (args.out / "index" / "CURRENT").exists():
        parser.error(f"no index in {args.out / 'index'}: run `python -m bench.run --only build` first")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    result = run(args.out, args.orders or parse_orders(None), args.rounds)
    (args.out / "http-order.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(table(result))


if __name__ == "__main__":
    main()
