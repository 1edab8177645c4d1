"""numpy's own BLAS kept to one thread in this process (imported by `rag`, after rag.openmp).

numpy's OpenBLAS runs a matrix-vector product over more than ~24 rows of 384 on every core, then keeps its
threads spinning (pthreads, not OpenMP: GOMP_SPINCOUNT does not reach them) for a while after. Every
question multiplies a few hundred rows at a time (candidate re-scoring, sentence similarities), so on 2
cores the spinning thread held the core the segment searches ran on in parallel: at 1 M paragraphs the
dense search took 14.6 ms with numpy's two threads and 10.4 ms with one (bench/RESULTS.md). A product of
this size gains nothing from a second thread. The model's engine and FAISS have their own thread pools,
untouched here. `OPENBLAS_NUM_THREADS` in the environment wins: then nothing is changed.
"""

from __future__ import annotations

import os

import numpy as np  # noqa: F401  (loads numpy's BLAS, which the controller below finds)
from threadpoolctl import ThreadpoolController

THREADS = 1


def numpy_blas_threads() -> list[int]:
    """The thread count of each BLAS library numpy loaded."""
    return [lib.num_threads for lib in _numpy_blas().lib_controllers]


def _numpy_blas() -> ThreadpoolController:
    controller = ThreadpoolController()
    paths = [lib.filepath for lib in controller.lib_controllers if lib.user_api == "blas" and "numpy" in lib.filepath]
    return controller.select(filepath=paths)


if "OPENBLAS_NUM_THREADS" not in os.environ:
    _numpy_blas().limit(limits=THREADS)
