"""Two versions of the server side by side: POST /ask p50 on each and the in-process `ask`, in one loop.

    git archive <commit> | tar -x -C /tmp/before          # the other version, outside this checkout
    python -m bench.http_ab --other /tmp/before --questions 60 --rounds 5

Both are `rag serve` processes (1 worker, the answer cache and the per-client limits off) on the bench's
index (bench/out/index); for every question the in-process `ask` and one POST /ask to each server are timed
in an order that rotates, so a shared, noisy machine weighs on all three alike. The other version runs from
its own folder (its PYTHONPATH), this one from this checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import NO_CLIENT_LIMITS, ROOT, Client, load_questions, ratio, serve, stats


def run(other: Path, out: Path, questions: int, rounds: int) -> dict[str, Any]:
    from rag import get_embedder, get_settings, load_index
    from rag.answer import ask

    index_dir = out / "index"
    work = out / "work"
    settings = get_settings(corpus_dir=ROOT / "corpus", index_dir=index_dir, cache_size=0)
    index = load_index(settings, get_embedder(settings))
    asked = load_questions()[:questions]
    times: dict[str, list[float]] = {"in-process ask": [], "POST /ask (this)": [], "POST /ask (other)": []}
    errors = 0
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(
                serve(
                    index_dir,
                    work,
                    log=work / f"ab-{name}.log",
                    extra_env={"PYTHONPATH": str(code)},
                    cache_size=0,
                    feedback_db=work / f"ab-{name}.sqlite3",
                    **NO_CLIENT_LIMITS,
                )
            )
            for name, code in (("this", ROOT), ("other", other))
        ]
        this, that = servers
        this.wait_ready()
        that.wait_ready()
        clients = {"POST /ask (this)": Client(this.port), "POST /ask (other)": Client(that.port)}
        for q in asked[:5]:
            for c in clients.values():
                c.request("POST", "/ask", q.body())
        order = list(times)
        step = 0
        for _ in range(rounds):
            for q in asked:
                step += 1
                for name in order[step % 3 :] + order[: step % 3]:
                    t = time.perf_counter()
                    if name == "in-process ask":
                        ask(index, q.question, settings, history=q.history)
                    else:
                        status, _ = clients[name].request("POST", "/ask", q.body())
                        errors += status != 200
                    times[name].append((time.perf_counter() - t) * 1000)
        for c in clients.values():
            c.close()
    result: dict[str, Any] = {name: stats(v) for name, v in times.items()}
    local = result["in-process ask"]["p50"]
    result["ratio_this"] = ratio(result["POST /ask (this)"]["p50"], local)
    result["ratio_other"] = ratio(result["POST /ask (other)"]["p50"], local)
    result["errors"] = errors
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--other", type=Path, required=True, help="Folder holding the other version's app/ and rag/.")
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out", help="Where the bench's index was built.")
    args = parser.parse_args(argv)
    if not (args.out / "index" / "CURRENT").exists():
        print("no index in bench/out/index: run `python -m bench.run --only http` once first", file=sys.stderr)
        return 2
    print(json.dumps(run(args.other.resolve(), args.out, args.questions, args.rounds), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
