"""OpenMP's busy-wait, set for this process before FAISS loads libgomp (imported first by `rag`).

libgomp (the model's engine and FAISS both use it) keeps a finished parallel region's threads spinning for
GOMP_SPINCOUNT turns, 300 000 by default, before they sleep. In a server on 2 cores that spinning thread
holds the core the event loop and the client need while the answer is finished and sent: POST /ask p50 came
out 1.16–1.23× the in-process ask against 1.00–1.14× at 80 000 turns, in three interleaved runs
(bench/RESULTS.md, "OpenMP's spin"). libgomp reads the variable once, when it is loaded; a value already in
the environment wins.
"""

from __future__ import annotations

import os

SPIN_COUNT = "80000"

os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)
