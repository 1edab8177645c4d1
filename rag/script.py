"""Chinese scripts: a simplified-character form of any text, for matching only (never for what is quoted).

Traditional-character documents are quoted exactly as printed; questions, names and keywords are compared on
the simplified form, so 劉慶峰 = 刘庆峰 and a question typed in simplified characters finds a 繁體 paragraph.
The converter is OpenCC's t2s (Apache-2.0). Its result always has the input's length, so an offset into the
simplified form is the same offset into the original.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import opencc

_lock = threading.Lock()


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _convert(text: str) -> str:
    with _lock:  # one OpenCC converter, not documented as thread-safe
        return str(_t2s().convert(text))


SHORT_TEXT = 64  # names, titles, organisations: converted once each (10 000 speakers repeat them at every load)


def to_simplified(text: str) -> str:
    """The text in simplified characters, exactly as long as the input."""
    if text.isascii():
        return text
    return _short_simplified(text) if len(text) <= SHORT_TEXT else _simplified(text)


@lru_cache(maxsize=65_536)
def _short_simplified(text: str) -> str:
    return _simplified(text)


def _simplified(text: str) -> str:
    converted = _convert(text)
    if len(converted) == len(text):
        return converted
    # A phrase mapping changed the length: convert character by character, which never does.
    out = [_convert(ch) for ch in text]
    return "".join(c if len(c) == 1 else ch for c, ch in zip(out, text, strict=True))


def is_traditional(text: str) -> bool:
    """True when the text has characters that differ in simplified script (繁體)."""
    return to_simplified(text) != text
