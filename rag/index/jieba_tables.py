"""jieba's default dictionary tables, read from one cache file in a worker's start instead of re-parsed.

Every worker pays two fixed costs before it answers, whatever the corpus size: jieba's word-frequency
table (`marshal.load` of its 9 MB cache, ~0.65 s here) and, on `import jieba.posseg`, the part-of-speech
table parsed line by line from the 350 k-line dictionary (~0.4 s). Both come from the same dictionary
file, so they are kept together in one `.npz` of plain arrays (the words as UTF-8 text, the frequencies,
the tags; no pickle) that builds the two dicts in ~0.3 s. The file sits beside jieba's own cache, is
named after the dictionary file's path, size and mtime and jieba's version (a changed dictionary is a
new name), and is written atomically by the first process that parsed the tables the slow way. A missing,
unreadable or inconsistent cache file only means the slow way once more.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

CACHE_PREFIX = "rag-jieba-tables-"


@dataclass(frozen=True)
class DictionaryTables:
    """The default dictionary's word frequencies (with jieba's zero-frequency prefixes) and POS tags."""

    freq: dict[str, int]
    total: int
    tags: dict[str, str]


_lock = threading.Lock()
_tables: DictionaryTables | None = None


def cache_path(cache_dir: Path | None = None) -> Path:
    """Where the tables of the installed jieba's default dictionary are cached."""
    import jieba

    dictionary = Path(jieba.__file__).parent / jieba.DEFAULT_DICT_NAME
    stat = dictionary.stat()
    key = f"{jieba.__version__}|{dictionary.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    folder = cache_dir or Path(jieba.dt.tmp_dir or tempfile.gettempdir())
    return folder / f"{CACHE_PREFIX}{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


def default_tables() -> DictionaryTables:
    """The default dictionary's tables, once per process: from the cache file, else parsed and cached."""
    global _tables
    with _lock:
        if _tables is None:
            path = cache_path()
            _tables = read_tables(path)
            if _tables is None:
                _tables = parse_tables()
                write_tables(path, _tables)
        return _tables


def read_tables(path: Path) -> DictionaryTables | None:
    """The cached tables, or None when the file is missing or does not hold what it says."""
    try:
        with np.load(path, allow_pickle=False) as data:
            words = bytes(data["words"]).decode("utf-8").split("\n")
            tags = bytes(data["tags"]).decode("utf-8").split("\n")
            freq = data["freq"].tolist()
            total = int(data["total"])
    except (OSError, ValueError, KeyError, UnicodeDecodeError, EOFError, zipfile.BadZipFile) as exc:
        if not isinstance(exc, FileNotFoundError):
            log.warning("jieba tables cache %s unreadable (%s); parsing the dictionary", path, exc)
        return None
    if len(words) != len(freq) or len(tags) > len(words) or total <= 0:  # (the zip's CRCs checked the bytes)
        log.warning("jieba tables cache %s is inconsistent; parsing the dictionary", path)
        return None
    return DictionaryTables(dict(zip(words, freq, strict=True)), total, dict(zip(words, tags, strict=False)))


def parse_tables() -> DictionaryTables:
    """The tables as jieba itself builds them (its frequency cache and `POSTokenizer.load_word_tag`)."""
    import jieba

    jieba.dt.check_initialized()
    tags = _parse_tags(jieba.dt.get_dict_file())
    return DictionaryTables(dict(jieba.dt.FREQ), int(jieba.dt.total), tags)


def _parse_tags(file: Any) -> dict[str, str]:
    """word → tag, line by line like `jieba.posseg.POSTokenizer.load_word_tag`."""
    tags: dict[str, str] = {}
    with file:
        for line in file:
            text = line.strip().decode("utf-8")
            if text:
                word, _, tag = text.split(" ")
                tags[word] = tag
    return tags


def write_tables(path: Path, tables: DictionaryTables) -> None:
    """Write the tables' cache file atomically (a temporary name renamed into place); failures only log."""
    tagged = [w for w in tables.freq if w in tables.tags]
    words = tagged + [w for w in tables.freq if w not in tables.tags]
    if len(tagged) != len(tables.tags) or any("\n" in w for w in words):
        log.warning("jieba's tables cannot be cached (a tagged word without a frequency, or a newline)")
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with tmp.open("wb") as fh:
            np.savez(
                fh,
                words=np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8),
                tags=np.frombuffer("\n".join(tables.tags[w] for w in tagged).encode("utf-8"), dtype=np.uint8),
                freq=np.array([tables.freq[w] for w in words], dtype=np.int64),
                total=np.int64(tables.total),
            )
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("jieba tables cache %s not written (%s)", path, exc)
        tmp.unlink(missing_ok=True)


def import_posseg(tags: dict[str, str]) -> Any:
    """`jieba.posseg`, imported without its import-time parse of the dictionary when `tags` already is it.

    The module builds `dt = POSTokenizer(jieba.dt)` at import, which reads `jieba.dt.get_dict_file()` line
    by line; for that one call the default tokenizer hands it an empty file, and the module's table is then
    set to `tags` (the same dictionary's tags). Imported already, the module is returned as it is.
    """
    import jieba

    if "jieba.posseg" in sys.modules:
        return sys.modules["jieba.posseg"]
    jieba.dt.get_dict_file = lambda: io.BytesIO(b"")  # type: ignore[method-assign]
    try:
        import jieba.posseg
    finally:
        del jieba.dt.get_dict_file
    if not jieba.posseg.dt.word_tag_tab:
        jieba.posseg.dt.word_tag_tab = dict(tags)  # its own: jieba adds its global user words' tags to it
    return jieba.posseg
