"""Finding a generation's segment folders (tests that damage or inspect the files of an index)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np


def segment_folders(generation: Path) -> list[Path]:
    """The folders of the segments a generation names, in its row order."""
    manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    return [generation.parent / "segments" / s["name"] for s in manifest["segments"]]


def only_segment(generation: Path) -> Path:
    """The folder of a generation's one segment (a build from scratch writes one)."""
    folders = segment_folders(generation)
    assert len(folders) == 1, f"expected one segment, the generation names {len(folders)}"
    return folders[0]


def generation_records(index_dir: Path, generation: str) -> dict[str, dict[str, Any]]:
    """Every live paragraph record a generation serves, by id (read from its segments' files directly)."""
    folder = index_dir / generation
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    out: dict[str, dict[str, Any]] = {}
    for segment in segment_folders(folder):
        deleted = set(manifest.get("deleted", {}).get(segment.name, []))
        offsets = np.load(segment / "chunk_offsets.npy")
        data = (segment / "chunks.bin").read_bytes()
        for start, stop in itertools.pairwise(offsets):
            record = json.loads(data[int(start) : int(stop)])
            if record["document"] not in deleted:
                out[record["id"]] = record
    return out
