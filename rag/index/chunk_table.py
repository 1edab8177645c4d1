"""A segment's paragraph records on disk: one JSON record per row in a blob, found by an offsets array.

Loading a segment reads only the offsets (8 bytes a row) and the sorted id table; a record is read with
one `pread` and parsed when a query first touches its row, then kept in a small LRU. A million paragraphs
therefore load in milliseconds and hold no Python objects until they are asked for (parsing a
`chunks.jsonl` of a million lines into objects took ~15 s and ~1.2 GB).
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import overload

import numpy as np

from rag.corpus import Chunk

RECORDS = "chunks.bin"
OFFSETS = "chunk_offsets.npy"
IDS = "chunk_ids.npy"  # the ids, sorted (bytes), beside...
ID_ROWS = "chunk_id_rows.npy"  # ...the row of each
FILES = (RECORDS, OFFSETS, IDS, ID_ROWS)

# Fields many paragraphs share: one string object each in memory.
SHARED_FIELDS = ("document", "kind", "speaker", "title", "organization", "speaker_en", "organization_en")


def write_chunk_table(folder: Path, chunks: Iterable[Chunk]) -> int:
    """Write the records, their offsets and the id table; returns the row count."""
    offsets = [0]
    ids: list[bytes] = []
    with (folder / RECORDS).open("wb") as fh:
        for chunk in chunks:
            data = json.dumps(chunk.to_json(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            fh.write(data)
            offsets.append(offsets[-1] + len(data))
            ids.append(chunk.id.encode("utf-8"))
    np.save(folder / OFFSETS, np.asarray(offsets, dtype=np.int64), allow_pickle=False)
    order = np.argsort(np.asarray(ids, dtype=object), kind="stable") if ids else np.zeros(0, dtype=np.int64)
    sorted_ids = np.asarray([ids[i] for i in order], dtype=f"S{max((len(i) for i in ids), default=1)}")
    np.save(folder / IDS, sorted_ids, allow_pickle=False)
    np.save(folder / ID_ROWS, np.asarray(order, dtype=np.int32), allow_pickle=False)
    return len(ids)


class Records(Sequence[Chunk]):
    """Paragraph records by row, read on demand: subclasses give `_n` and `_record(row)` for 0 <= row < n."""

    _n: int

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, row: int) -> Chunk: ...

    @overload
    def __getitem__(self, row: slice) -> list[Chunk]: ...

    def __getitem__(self, row: int | slice) -> Chunk | list[Chunk]:
        if isinstance(row, slice):
            return [self._record(i) for i in range(*row.indices(self._n))]
        row = int(row)
        if row < 0:
            row += self._n
        if not 0 <= row < self._n:
            raise IndexError(row)
        return self._record(row)

    def _record(self, row: int) -> Chunk:
        raise NotImplementedError


class ChunkTable(Records):
    """A segment's records by local row: `table[row]` parses one record (cached); `row_of(id)` finds one."""

    KEEP = 8192  # parsed records kept (a query touches a few dozen)

    def __init__(self, folder: Path) -> None:
        self._offsets = np.load(folder / OFFSETS, allow_pickle=False)
        self._n = len(self._offsets) - 1
        self._ids = np.load(folder / IDS, mmap_mode="r", allow_pickle=False)
        self._id_rows = np.load(folder / ID_ROWS, mmap_mode="r", allow_pickle=False)
        path = folder / RECORDS
        if self._offsets.ndim != 1 or len(self._offsets) < 1 or int(self._offsets[-1]) != path.stat().st_size:
            raise ValueError(f"{RECORDS} does not match {OFFSETS}")
        if len(self._ids) != len(self) or len(self._id_rows) != len(self):
            raise ValueError(f"{IDS} does not match {OFFSETS}")
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        weakref.finalize(self, os.close, self._fd)
        self._recent: OrderedDict[int, Chunk] = OrderedDict()
        self._shared: dict[str, str] = {}
        self._lock = threading.Lock()

    def _record(self, row: int) -> Chunk:
        found = self._recent.get(row)  # a dict read needs no lock; the LRU's order is kept under it
        if found is not None:
            with self._lock:
                if row in self._recent:
                    self._recent.move_to_end(row)
            return found
        chunk = self._parse(row)
        with self._lock:
            self._recent[row] = chunk
            while len(self._recent) > self.KEEP:
                self._recent.popitem(last=False)
        return chunk

    def __iter__(self) -> Iterator[Chunk]:
        """Every record in row order, parsed without filling the cache (a merge or a listing reads them all)."""
        for row in range(len(self)):
            yield self._parse(row)

    def _parse(self, row: int) -> Chunk:
        start, stop = int(self._offsets[row]), int(self._offsets[row + 1])
        data = os.pread(self._fd, stop - start, start)
        if len(data) != stop - start:
            raise OSError(f"{RECORDS} ended early (truncated while serving?)")
        record = json.loads(data)
        for key in SHARED_FIELDS:
            value = record.get(key)
            if isinstance(value, str):
                record[key] = self._shared.setdefault(value, value)
        return Chunk.from_json(record)

    def row_of(self, chunk_id: str) -> int | None:
        """The local row of the record with this id, or None."""
        key = chunk_id.encode("utf-8")
        at = int(np.searchsorted(self._ids, key))
        if at < len(self._ids) and bytes(self._ids[at]) == key:
            return int(self._id_rows[at])
        return None
