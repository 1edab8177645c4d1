"""The benchmarks run end to end (`python -m bench.run --quick`) and write JSON of the documented shape.

Speed itself is a benchmark, not a timed test: nothing here checks a latency against a threshold.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _stats(d: dict[str, Any]) -> None:
    assert d["n"] > 0
    assert d["p50"] <= d["p95"] <= d["p99"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench-out")
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--questions", "12", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def test_every_benchmark_writes_its_json(run: Path) -> None:
    names = {p.stem for p in run.glob("*.json")}
    assert {"build", "query", "http", "throughput", "scale", "profile", "embedding", "summary"} <= names
    assert (run / "RESULTS.quick.md").read_text(encoding="utf-8").count("| target |") == 1


def test_query_path_pairs_ask_with_the_bare_embedding(run: Path) -> None:
    query = json.loads((run / "query.json").read_text(encoding="utf-8"))
    inproc = query["in_process"]
    for key in ("ask_ms", "bare_embedding_ms", "baseline_ms", "our_work_ms"):
        _stats(inproc[key])
    assert set(inproc["stages_ms"]) == {"embed", "search", "answer"}
    assert inproc["ratio_p50_vs_embedding"] > 0
    assert query["cache"]["served_from_cache"] == query["cache"]["asked"]

    http = json.loads((run / "http.json").read_text(encoding="utf-8"))
    assert http["uncached"]["errors"] == 0
    _stats(http["uncached"]["http_ms"])
    _stats(http["uncached"]["bare_embedding_ms"])
    _stats(http["uncached"]["in_process_ask_ms"])
    assert http["uncached"]["ratio_p50_vs_in_process"] > 0
    assert http["cached"]["repeat_flagged_cached"] == http["cached"]["repeat_ms"]["n"]


def test_throughput_covers_clients_and_workers(run: Path) -> None:
    data = json.loads((run / "throughput.json").read_text(encoding="utf-8"))
    assert data["embedding_8_threads"]["per_s"] > 0
    seen = {(r["workers"], r["clients"]) for r in data["http"]}
    assert seen == {(w, c) for w in (1, 2) for c in (1, 8, 32)}
    for row in data["http"]:
        assert row["requests"] >= 1
        assert row["ok"] + row["errors"] == row["requests"]
        # Every bench client is 127.0.0.1: the per-client limits are off, so a 429 is a bench bug.
        assert row["statuses"].get("429", 0) == 0, row
        assert row["ratio_vs_embedding_8_threads"] is not None


def test_build_startup_and_scale(run: Path) -> None:
    build = json.loads((run / "build.json").read_text(encoding="utf-8"))
    assert build["build"]["chunks"] > 0 and build["build"]["chunks_per_s"] > 0
    _stats(build["startup"]["ready_ms"])

    scale = json.loads((run / "scale.json").read_text(encoding="utf-8"))
    (size,) = scale["sizes"]
    assert size["chunks"] == 10_000
    assert 0 <= size["configured_recall_at_10"] <= 1
    assert {t["label"] for t in size["index_types"]} >= {"exact", "above threshold"}
    served = size["served"]
    assert served["chunks"] == 10_000 and served["rss_mb"] > 0
    _stats(served["search_ms"])
    _stats(served["baseline_exact_bm25_ms"])


def test_segments_load_answer_and_add(run: Path) -> None:
    data = json.loads((run / "segments.json").read_text(encoding="utf-8"))
    (size,) = data["sizes"]
    served = size["served"]
    assert size["paragraphs"] == 10_000 and served["segments"] == len(size["written"]["segments"]) == 5
    assert served["chunks"] == 10_000 and 0 < served["dense_recall_at_10"] <= 1
    _stats(served["ask_without_embedding_ms"])
    _stats(served["ask_without_embedding_second_pass_ms"])
    steps = served["ready_steps_s"]
    assert set(steps) == {"import", "model", "load_index", "warm_up"} and all(v >= 0 for v in steps.values())
    assert served["ready_s"] == pytest.approx(sum(steps.values()), abs=0.05)
    add = served["add"]
    assert add["paragraphs"] > 0 and add["segment_bytes"] > 0 and 1 <= add["bytes_written_over_segment"] < 2


def test_summary_lists_every_target(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["machine"]["nproc"] >= 1
    assert len(summary["targets"]) == 18
    assert all(t["measured"] is not None for t in summary["targets"])


def test_a_partial_run_leaves_the_full_runs_results_alone(tmp_path: Path) -> None:
    results = ROOT / "bench" / "RESULTS.md"
    before = results.read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--only", "build", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert results.read_bytes() == before
    assert "| target |" in (tmp_path / "RESULTS.partial.md").read_text(encoding="utf-8")
