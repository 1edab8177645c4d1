"""Speaker identity ignores what does not show (issue 18, problem 8): NFKC, bidi controls and zero-width
characters are removed for identity and filters; names are shown as printed."""

from __future__ import annotations

import pytest

from rag import Index, Settings, ask
from rag.speakers import speaker_key

LOOK_ALIKES = ["张\u200b平安", "\u202e张平安\u202c", "张平安\ufeff", "\u2066张\u200d平安\u2069", "张平安\u200f"]


@pytest.mark.parametrize("name", LOOK_ALIKES)
def test_a_look_alike_of_a_name_is_that_name(index: Index, name: str) -> None:
    assert speaker_key(name) == speaker_key("张平安")
    assert [s.name for s in index.registry.get(name)] == ["张平安"]


@pytest.mark.parametrize("name", LOOK_ALIKES[:2])
def test_the_speaker_filter_ignores_invisible_characters(index: Index, settings: Settings, name: str) -> None:
    answer = ask(index, "马栏山", settings, speaker=name)
    assert answer.quotes and {q.speaker for q in answer.quotes} == {"张平安"}


def test_compatibility_forms_are_the_same_name() -> None:
    assert speaker_key("Ｊｏｈｎ　Ｓｍｉｔｈ") == speaker_key("John Smith")
