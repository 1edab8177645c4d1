"""A vector matrix on disk, read a few rows at a time.

The serving index keeps its paragraph and sentence vectors in `.npy` files (the dense index has its own copy
for unfiltered search). A query reads only its candidates' rows. Reading them with `pread` rather than
through a memory map keeps the process's resident memory to the rows in use: a kernel that caches files in
large folios maps a whole folio (up to 2 MiB) into the process for every row a map touches, so 2 048
scattered rows of a 3 GB sentence matrix made 2.2 GB resident (Linux 6.18, ext4). The file's pages stay in
the page cache, shared and reclaimable, where they belong.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from rag.store import row_key

BLOCK_ROWS = 65_536  # rows per read when the whole matrix is multiplied


class RowMatrix:
    """A read-only 2-D float32 `.npy` matrix: `m[i]`, `m[a:b]`, `m[rows]` and `m @ v` read only what they need."""

    def __init__(self, path: Path) -> None:
        with path.open("rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"{path.name}: unsupported .npy version {version}")
            offset = f.tell()
        if fortran or len(shape) != 2 or dtype != np.dtype(np.float32):
            raise ValueError(f"{path.name}: expected a C-ordered 2-D float32 matrix, got {dtype} {shape}")
        self.path = path
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(np.float32)
        self.ndim = 2
        self._offset = offset
        self._row_bytes = self.shape[1] * self.dtype.itemsize
        expected = offset + self.shape[0] * self._row_bytes
        if path.stat().st_size != expected:
            raise ValueError(f"{path.name}: {path.stat().st_size} bytes, expected {expected} for {self.shape}")
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        weakref.finalize(self, os.close, self._fd)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"RowMatrix({self.path.name}, shape={self.shape})"

    def __getitem__(self, key: int | np.integer | slice | np.ndarray | list[int]) -> np.ndarray:
        if isinstance(key, slice) and key.indices(self.shape[0])[2] == 1:  # a run of rows: one read
            start, stop, _ = key.indices(self.shape[0])
            return self._read(start, max(start, stop))
        rows = row_key(key, self.shape[0])
        return self._read(rows, rows + 1)[0] if isinstance(rows, int) else self._gather(rows)

    def __matmul__(self, vector: np.ndarray) -> np.ndarray:
        """Every row's product with `vector`, read a block at a time."""
        parts = [
            self._read(a, min(a + BLOCK_ROWS, self.shape[0])) @ vector for a in range(0, self.shape[0], BLOCK_ROWS)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, *np.shape(vector)[1:]), dtype=np.float32)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        whole = self._read(0, self.shape[0])
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def _gather(self, rows: np.ndarray) -> np.ndarray:
        """The rows (checked by `row_key`), in their order: one read per run of consecutive rows, into one buffer."""
        wanted = np.unique(rows)
        if wanted.size == 0:
            return np.zeros((0, self.shape[1]), dtype=np.float32)
        breaks = np.flatnonzero(np.diff(wanted) != 1) + 1
        firsts = wanted[np.concatenate(([0], breaks))].tolist()
        counts = np.diff(np.concatenate(([0], breaks, [wanted.size]))).tolist()
        buffer = bytearray(wanted.size * self._row_bytes)
        view = memoryview(buffer)
        at = 0
        for first, count in zip(firsts, counts, strict=True):
            size = count * self._row_bytes
            self._fill(view[at : at + size], first)
            at += size
        block = np.frombuffer(buffer, dtype=np.float32).reshape(wanted.size, self.shape[1])
        return (
            block if wanted.size == len(rows) and bool((wanted == rows).all()) else block[np.searchsorted(wanted, rows)]
        )

    def _fill(self, view: memoryview, start: int) -> None:
        """Read rows from `start` on into `view` (a whole number of rows)."""
        done = 0
        position = self._offset + start * self._row_bytes
        while done < len(view):
            got = os.preadv(self._fd, [view[done:]], position + done)
            if got == 0:
                raise OSError(f"{self.path.name} ended early (truncated while serving?)")
            done += got

    def _read(self, start: int, stop: int) -> np.ndarray:
        buffer = bytearray((stop - start) * self._row_bytes)
        self._fill(memoryview(buffer), start)
        return np.frombuffer(buffer, dtype=np.float32).reshape(stop - start, self.shape[1])
