"""How much of the machine reading one untrusted file may take."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024
GIB = 1024 * MIB


@dataclass(frozen=True)
class FileLimits:
    """Limits for reading one file; every reader refuses a file that needs more.

    Defaults, and why:
    - max_bytes 32 MiB: a newspaper page PDF with its photos is 1–10 MB, a Word file with pictures a few MB,
      a saved article page well under 2 MB; 32 MiB leaves room and still bounds what is held in memory.
    - max_uncompressed_bytes 256 MiB: the sum of a .docx's parts once inflated. Text XML inflates 5–20×,
      pictures barely; a zip bomb inflates 1000× and is refused before anything is inflated.
    - max_seconds 30: pdfminer reads a dense newspaper page in about a second; a file that keeps a reader busy
      30 s is hostile or broken. Wall clock in the parent, CPU seconds in the child.
    - max_memory_bytes 1 GiB: the child's whole address space (RLIMIT_AS). About 0.53 GiB of it is mapped
      before reading starts (the readers' libraries, and numpy and faiss, which `import rag` loads); pdfminer
      keeps one page's objects at a time, tens of MB for a dense newspaper page.
    - max_pages 200: a whole newspaper edition or a long report; more is not one speech document.
    """

    max_bytes: int = 32 * MIB
    max_uncompressed_bytes: int = 256 * MIB
    max_seconds: float = 30.0
    max_memory_bytes: int = 1 * GIB
    max_pages: int = 200

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_uncompressed_bytes", "max_seconds", "max_memory_bytes", "max_pages"):
            if getattr(self, name) <= 0:
                raise ValueError(f"FileLimits.{name} must be positive")


def human_bytes(n: int) -> str:
    """`1 GiB`, `256 MiB`, `12 KiB`: how limits read in refusals."""
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"
