"""Finding a generation's segment folders (tests that damage or inspect the files of an index)."""

from __future__ import annotations

import json
from pathlib import Path


def segment_folders(generation: Path) -> list[Path]:
    """The folders of the segments a generation names, in its row order."""
    manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    return [generation.parent / "segments" / s["name"] for s in manifest["segments"]]


def only_segment(generation: Path) -> Path:
    """The folder of a generation's one segment (a build from scratch writes one)."""
    folders = segment_folders(generation)
    assert len(folders) == 1, f"expected one segment, the generation names {len(folders)}"
    return folders[0]
