"""What a "how many / how much / when" question asks for, and which passages state it (rag.quantity)."""

from __future__ import annotations

import pytest

from rag.quantity import AskedQuantity, asked_quantity, unanswered_quantity


@pytest.mark.parametrize(
    ("question", "kind", "unit"),
    [
        ("博览会有多少家企业参展？", "count", "家"),
        ("合作社去年卖了多少钱？", "count", "钱"),
        ("今年毕业生有多少？", "count", ""),
        ("一共部署了几项重点任务？", "count", "项"),
        ("项目什么时候开放？", "time", ""),
        ("園區哪一年啟用？", "time", ""),
        ("How many graduates are there this year?", "count", ""),
        ("When will the park open?", "time", ""),
    ],
)
def test_the_ask_and_its_unit(question: str, kind: str, unit: str) -> None:
    assert asked_quantity(question) == AskedQuantity(kind, unit)  # type: ignore[arg-type]


@pytest.mark.parametrize("question", ["他怎么看人工智能？", "Who spoke about talent?", "学校有哪些计划？"])
def test_other_questions_ask_for_no_quantity(question: str) -> None:
    assert asked_quantity(question) is None


@pytest.mark.parametrize(
    ("question", "text", "stated"),
    [
        ("多少家企业参展", "共有来自41个国家和地区的1260家企业参展。", True),
        ("多少家企业参展", "10月18日，第五届博览会在会展中心开幕。", False),  # a date and an ordinal, no count
        ("一共有多少毕业生", "今天我们举行2024届毕业典礼。", False),  # 2024届 is a class, not a count
        ("一共有多少毕业生", "学校共有7214名同学毕业。", True),
        ("有多少人", "学校共有7214名同学毕业。", True),  # 名 counts people as 人 does
        ("卖了多少钱", "销售额达到286万元。", True),
        ("放映多少场", "只收到一百多部作品报名，开幕式在三百人的小戏院举行。", False),  # counts, but not of 场
        ("几年", "我们用了三年时间。", True),
        ("几年", "2023年以来，项目进展顺利。", False),  # a year, not a number of years
        ("占比多少", "比重提高到6.1%。", True),
        ("形成多大规模的产业集群", "打造千亿级产业集群。", True),
        ("有多少", "这是一个缩影，万家灯火。", False),
        ("每期有多少人报名", "现在每期都有上百人报名。", True),
        ("有多少家企业", "吸引了百余家企业。", True),  # 一个 and 万家 are words, not counts
        ("什么时候开放", "预计今年国庆节前后开放。", True),
        ("什么时候开放", "项目还在论证中。", False),
        ("首期招收多少學生", "首批招收學生一百二十名。", True),  # traditional characters, numerals in words
    ],
)
def test_what_a_passage_states(question: str, text: str, stated: bool) -> None:
    asked = asked_quantity(question)
    assert asked is not None
    assert asked.stated_in(text) is stated


def test_a_count_question_the_best_paragraphs_do_not_state_is_unanswered() -> None:
    best = ["影展开幕式在港湾公园举行。", "今年入围作品有9部来自本地团队。"]
    assert unanswered_quantity("影展一共放映多少场？", best)  # counts, none of 场
    assert not unanswered_quantity("今年入围作品有多少部来自本地？", best)
    # With no unit named, any number would do, so the very best paragraph must state one.
    assert unanswered_quantity("园区估值多少？", ["园区由旧仓库改建而成。", "园区有42家企业。"])
    assert not unanswered_quantity("园区有多少企业？", ["园区有42家企业进驻。", "园区由旧仓库改建而成。"])
    assert not unanswered_quantity("他怎么看？", [])
