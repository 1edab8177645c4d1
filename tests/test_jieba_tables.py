"""jieba's dictionary tables from rag's cache file are jieba's own: same frequencies, same tags, same words."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.index import jieba_tables
from rag.index.jieba_tables import parse_tables, read_tables, write_tables

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def parsed() -> jieba_tables.DictionaryTables:
    return parse_tables()


def test_the_cache_file_round_trips_jiebas_tables(tmp_path: Path, parsed: jieba_tables.DictionaryTables) -> None:
    path = tmp_path / "tables.npz"
    write_tables(path, parsed)
    read = read_tables(path)
    assert read is not None
    assert read.freq == parsed.freq and read.total == parsed.total and read.tags == parsed.tags
    assert len(read.tags) > 300_000 and read.tags["研究"] == "vn"
    assert not list(tmp_path.glob(".*.tmp"))  # written under a temporary name, renamed into place


def test_a_damaged_or_foreign_cache_file_is_not_used(tmp_path: Path, parsed: jieba_tables.DictionaryTables) -> None:
    path = tmp_path / "tables.npz"
    write_tables(path, parsed)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a half-written file (a killed writer without the rename)
    assert read_tables(path) is None
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF  # a flipped byte inside the words: the zip's CRC refuses it
    path.write_bytes(bytes(flipped))
    assert read_tables(path) is None
    np.savez(path, words=np.frombuffer(b"a\nb", dtype=np.uint8), tags=np.zeros(0, np.uint8), freq=np.ones(3), total=3)
    assert read_tables(path) is None  # counts that disagree
    assert read_tables(tmp_path / "missing.npz") is None


def test_the_cache_is_named_after_the_dictionary_file(tmp_path: Path) -> None:
    path = jieba_tables.cache_path(tmp_path)
    assert path.parent == tmp_path and path.name.startswith(jieba_tables.CACHE_PREFIX)
    assert path == jieba_tables.cache_path(tmp_path)  # stable while the dictionary file is unchanged


WORKER = """
import json, sys, time
from pathlib import Path
import jieba
from rag.index import jieba_tables
jieba.dt.tmp_dir = sys.argv[1]
from rag.index.keywords import KeywordTokenizer
started = time.perf_counter()
tokenizer = KeywordTokenizer(["华为云"])
words = tokenizer.words("中国电信要在湖南成立什么研究中心？华为云的人工智能")
import jieba.posseg
reference = jieba.posseg.POSTokenizer.__new__(jieba.posseg.POSTokenizer)
reference.load_word_tag(jieba.dt.get_dict_file())
print(json.dumps({
    "cached": jieba_tables.cache_path().exists(),
    "module_table_is_jiebas": jieba.posseg.dt.word_tag_tab == reference.word_tag_tab,
    "words": words,
    "default_words": [[p.word, p.flag] for p in jieba.posseg.lcut("中国电信要在湖南成立什么研究中心？")],
    "tokens": tokenizer.tokens("华为云在湖南的合作"),
}, ensure_ascii=False))
"""


def test_a_fresh_process_tags_as_jieba_does_with_or_without_the_cache(tmp_path: Path) -> None:
    """First process: no cache, the slow parse, the file written. Second: read from it. Same words, same tags,
    and `jieba.posseg`'s own module table (imported without its parse) is the table jieba would have parsed."""
    runs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", WORKER, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    first, second = runs
    assert list(tmp_path.glob(f"{jieba_tables.CACHE_PREFIX}*.npz"))
    assert first["cached"] and second["cached"]
    for run in runs:
        assert run["module_table_is_jiebas"]
        assert run["words"][:8] == [[w, f] for w, f in run["default_words"] if w != "？"]
    assert first["words"] == second["words"] and first["tokens"] == second["tokens"]
    assert "华为云" in first["tokens"]
