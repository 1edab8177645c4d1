"""Near names get "did you mean", and a speaker filter the question contradicts is said, on the real index."""

from rag.answer import ask
from rag.index.load import Index
from rag.names import _one_edit, near_names
from rag.settings import Settings


def test_near_names_are_offered_when_nothing_is_found(index: Index, settings: Settings) -> None:
    zh = ask(index, "华未云有多少客户？", settings)
    assert not zh.found and zh.suggestions[0] == "华为云" and "华为云" in zh.answer
    en = ask(index, "What did Hua Wei say about AI?", settings)
    assert not en.found and en.suggestions == ("Huawei",) and "“Hua Wei”" in en.answer
    assert ask(index, "刘庆锋今年多大年纪？", settings).suggestions == ("刘庆峰",)


def test_known_names_and_chance_likeness_get_no_suggestion(index: Index) -> None:
    for question in ("华为云有多少名员工？", "What did Huawei say?", "今天天气怎么样？"):
        assert near_names(index.registry, question, index.registry.mentions(question)) == []
    assert _one_edit("qingfen", "qingfeng") and not _one_edit("huawei", "huawei")


def test_a_filter_the_question_contradicts_is_said_first(index: Index, settings: Settings) -> None:
    answer = ask(index, "China Mobile有多少客户？", settings, speaker="吴太兵")
    assert answer.notes and answer.answer.startswith(answer.notes[0])
    assert "吴太兵" in answer.notes[0] and "China Mobile" in answer.notes[0]
    assert ask(index, "中国移动有多少客户？", settings, speaker="张冬").notes == ()
