"""RowMatrix reads exactly what numpy would, row for row, and refuses files it cannot read as a matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.common import memory_mb
from rag.index.rows import BLOCK_ROWS, RowMatrix
from rag.index.segmented import ConcatRows, RowMap

ROWS, DIM = 300, 8


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, RowMatrix]:
    data = np.random.default_rng(7).standard_normal((ROWS, DIM)).astype(np.float32)
    path = tmp_path_factory.mktemp("rows") / "m.npy"
    np.save(path, data)
    return data, RowMatrix(path)


@pytest.mark.parametrize("key", [0, 5, ROWS - 1, -1, -ROWS, np.int64(17)])
def test_one_row(matrix: tuple[np.ndarray, RowMatrix], key: int) -> None:
    data, m = matrix
    assert np.array_equal(m[key], data[key])


@pytest.mark.parametrize(
    "key", [slice(0, 3), slice(10, 11), slice(5, 5), slice(7, 2), slice(None), slice(-4, None), slice(0, 50, 7)]
)
def test_slices(matrix: tuple[np.ndarray, RowMatrix], key: slice) -> None:
    data, m = matrix
    got = m[key]
    assert got.shape == data[key].shape and np.array_equal(got, data[key])


@pytest.fixture(scope="module")
def numbered(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, RowMatrix]:
    data = np.arange(ROWS * DIM, dtype=np.float32).reshape(ROWS, DIM)
    path = tmp_path_factory.mktemp("numbered") / "m.npy"
    np.save(path, data)
    return data, RowMatrix(path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.integers(min_value=-ROWS, max_value=ROWS - 1), max_size=40))
def test_row_lists_in_any_order_with_repeats(numbered: tuple[np.ndarray, RowMatrix], rows: list[int]) -> None:
    data, m = numbered
    key = np.array(rows, dtype=np.int64)
    assert np.array_equal(m[key], data[key])
    assert np.array_equal(m[rows], data[key])


def test_products_and_the_whole_matrix(matrix: tuple[np.ndarray, RowMatrix]) -> None:
    data, m = matrix
    v = np.random.default_rng(1).standard_normal(DIM).astype(np.float32)
    assert np.allclose(m @ v, data @ v)
    assert np.allclose(m[np.array([3, 1])] @ v, data[[3, 1]] @ v)
    assert np.array_equal(np.asarray(m), data)
    assert len(m) == ROWS and m.shape == (ROWS, DIM)
    assert np.allclose(np.linalg.norm(m, axis=1), np.linalg.norm(data, axis=1))


def test_products_span_several_blocks(tmp_path: Path) -> None:
    data = np.random.default_rng(2).standard_normal((BLOCK_ROWS * 2 + 5, 4)).astype(np.float32)
    np.save(tmp_path / "big.npy", data)
    v = np.ones(4, dtype=np.float32)
    assert np.allclose(RowMatrix(tmp_path / "big.npy") @ v, data @ v)


def test_an_empty_matrix(tmp_path: Path) -> None:
    np.save(tmp_path / "e.npy", np.zeros((0, 4), dtype=np.float32))
    m = RowMatrix(tmp_path / "e.npy")
    assert len(m) == 0 and m[0:3].shape == (0, 4) and m[np.array([], dtype=np.int64)].shape == (0, 4)
    assert (m @ np.ones(4, dtype=np.float32)).shape == (0,)


@pytest.mark.parametrize("key", [ROWS, -ROWS - 1])
def test_rows_out_of_range(matrix: tuple[np.ndarray, RowMatrix], key: int) -> None:
    _, m = matrix
    with pytest.raises(IndexError, match="out of range"):
        m[key]
    with pytest.raises(IndexError, match="out of range"):
        m[np.array([0, key])]


def test_masks_and_matrices_of_rows_are_refused(matrix: tuple[np.ndarray, RowMatrix]) -> None:
    _, m = matrix
    with pytest.raises(IndexError, match="row numbers"):
        m[np.ones(ROWS, dtype=bool)]
    with pytest.raises(IndexError, match="row numbers"):
        m[np.zeros((2, 2), dtype=np.int64)]


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((3, 4), dtype=np.float64), "float32"),
        (np.zeros(4, dtype=np.float32), "2-D"),
        (np.asfortranarray(np.zeros((3, 4), dtype=np.float32)), "C-ordered"),
    ],
)
def test_files_that_are_not_a_float32_matrix(tmp_path: Path, array: np.ndarray, message: str) -> None:
    np.save(tmp_path / "x.npy", array)
    with pytest.raises(ValueError, match=message):
        RowMatrix(tmp_path / "x.npy")


def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "t.npy", np.zeros((10, 4), dtype=np.float32))
    raw = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(raw[:-8])
    with pytest.raises(ValueError, match="expected"):
        RowMatrix(tmp_path / "t.npy")
    (tmp_path / "n.npy").write_bytes(b"not a numpy file at all")
    with pytest.raises(ValueError):
        RowMatrix(tmp_path / "n.npy")


def test_reading_rows_does_not_map_the_file(tmp_path: Path) -> None:
    """The point of the class: scattered rows of a big matrix do not become resident file pages."""
    data = np.ones((200_000, 128), dtype=np.float32)  # 100 MiB
    np.save(tmp_path / "big.npy", data)
    del data
    m = RowMatrix(tmp_path / "big.npy")
    before = memory_mb()["file"]
    rows = np.sort(np.random.default_rng(0).choice(len(m), 2048, replace=False))
    got = m[rows]
    assert got.shape == (2048, 128) and float(got.sum()) == 2048 * 128
    assert memory_mb()["file"] - before < 5, "row reads should not map the file's pages into the process"


@pytest.fixture(scope="module")
def concatenated(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, ConcatRows]:
    """Four parts' matrices (two on disk, one empty, one with deletions) as one, and the live rows stacked."""
    rng = np.random.default_rng(11)
    folder = tmp_path_factory.mktemp("concat")
    blocks = [rng.standard_normal((n, DIM)).astype(np.float32) for n in (40, 0, 25, 30)]
    matrices: list[object] = []
    for i, block in enumerate(blocks):
        if i in (0, 3):
            np.save(folder / f"{i}.npy", block)
            matrices.append(RowMatrix(folder / f"{i}.npy"))
        else:
            matrices.append(block)
    lives = [None, None, np.array([0, 1, 2, 5, 6, 7, 20, 24]), np.arange(3, 30)]  # gaps; a run from row 3
    maps, offset = [], 0
    for block, live in zip(blocks, lives, strict=True):
        maps.append(RowMap(len(block), live, offset))
        offset += maps[-1].n_live
    stacked = np.concatenate([b if live is None else b[live] for b, live in zip(blocks, lives, strict=True)])
    return stacked, ConcatRows(matrices, maps, DIM)


@given(start=st.integers(-80, 80), stop=st.integers(-80, 80))
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_run_of_rows_across_parts_and_deletions_is_the_stacked_rows(
    concatenated: tuple[np.ndarray, ConcatRows], start: int, stop: int
) -> None:
    stacked, rows = concatenated
    got = rows[start:stop]
    assert got.shape == stacked[start:stop].shape and np.array_equal(got, stacked[start:stop])
    picked = np.arange(len(stacked))[start:stop][::-1]  # the same rows as an array, reversed
    assert np.array_equal(rows[picked], stacked[picked])
