"""What a "how many / how much / when" question asks for, and whether a passage states it.

A count question (多少家企业, how many graduates) is answered by a count: a number with a classifier or a
unit (1260家, 7214名, 468亿元, 14.2%, 千亿级), and by one in the unit it asks for when it names one (多少家 → 家,
多少钱 → 元; 人, 名 and 位 all count people). A year, a date or an ordinal (2024届, 6月20日, 第五届) is no
count. A time question (哪一年, 什么时候, when) is answered by a date or a number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rag.script import to_simplified

TIME_QUESTION = re.compile(r"哪一年|哪年|什么时候|何时|几月|几号|哪一天|哪天|\bwhat year\b|\bwhen\b", re.I)
COUNT_QUESTION = re.compile(
    r"多少|几[个家项位种年天成次名场件部座所条批届]|多久|多长时间|多大|多高|多远|多快|"
    r"\bhow (many|much|large|big|long)\b|\bwhat (is|was) the (number|population|price|share|rate)\b",
    re.I,
)
# The classifier or unit right after 多少 / 几 (多少家企业 → 家; 多少钱 → 钱).
ASKED_UNIT = re.compile(
    r"(?:多少|几)(个|家|项|位|种|年|天|成|次|名|场|件|部|座|所|条|批|人|钱|元|倍|台|套|本|册|篇|款|辆|艘|户|间|架|只|万|亿)"
)
# Units that answer a unit asked for (the rest answer only themselves); 个 and 万 are too general to restrict.
SAME_UNITS: dict[str, str] = {"人": "人名位", "名": "人名位", "位": "人名位", "钱": "元", "成": "成%", "年": "年"}
OPEN_UNITS = frozenset("个万亿")

# The old rule for "states a number or a date": any digit, or a Chinese numeral with a classifier.
NUMBER = re.compile(r"[0-9０-９]|[一二三四五六七八九十两百千万亿]+(?:个|项|点|家|级|万|亿|年|月|日|位|种|方面|多)")
# A number as a count is written: digits, or Chinese numerals, also approximate (上百, 千余, 千亿级); a lone
# 一 is an article (一个缩影, 一位老人) and a lone 万 a word (万家灯火).
COUNT_NUMBER = (
    r"[0-9０-９][0-9０-９.,]*|[两二三四五六七八九十][一二三四五六七八九十两百千万亿]*|"
    r"一[十百千万亿][一二三四五六七八九十两百千万亿]*|[上近数几逾][十百千万亿]+|[百千万亿]+(?=级|余|多)"
)
# A count: a number with a classifier or unit after it (多, 余 and 万/亿 may come between).
COUNT = re.compile(
    f"(?<!第)(?P<number>{COUNT_NUMBER})(?:多|余)?(?:[十百千万亿]+)?(?:多|余)?"
    r"(?P<unit>%|％|美元|小时|分钟|个月|[个家项位种次名场件部座所条批人元倍台套本册篇款成辆艘吨米亩户间架只秒天周万亿年级])"
)
QUANTITY_DEPTH = 5  # the best paragraphs among which one must state what a "how many / when" question asks
YEAR_NUMBER = re.compile(r"[0-9０-９]{4}")
DATE = re.compile(
    r"[0-9０-９]{4}年|[0-9０-９一二三四五六七八九十]{1,3}月(?:[0-9０-９一二三四五六七八九十]{1,3}[日号])?|"
    r"(?:今|去|明|前)年|年底|年初|上半年|下半年"
)


@dataclass(frozen=True)
class AskedQuantity:
    """A question's ask for a count (in a unit when it names one) or a time."""

    kind: Literal["count", "time"]
    unit: str = ""

    def stated_in(self, text: str) -> bool:
        """True when the text states what is asked: a count (in the asked unit), or a date or number."""
        text = to_simplified(text)
        if self.kind == "time":
            return bool(DATE.search(text) or NUMBER.search(text))
        units = [m.group("unit") for m in COUNT.finditer(text) if not _is_year(m)]
        if not self.unit or self.unit in OPEN_UNITS:
            return bool(units)
        accepted = SAME_UNITS.get(self.unit, self.unit)
        return any(u in accepted for u in units)


def _is_year(count: re.Match[str]) -> bool:
    """2024年 is a year, not a count of years."""
    return count.group("unit") == "年" and bool(YEAR_NUMBER.fullmatch(count.group("number")))


def asked_quantity(question: str) -> AskedQuantity | None:
    """What a "how many / how much / when" question asks for; None for any other question."""
    text = to_simplified(question)
    if TIME_QUESTION.search(text):
        return AskedQuantity("time")
    if not COUNT_QUESTION.search(text):
        return None
    unit = ASKED_UNIT.search(text)
    return AskedQuantity("count", unit.group(1) if unit else "")


def asks_quantity(question: str) -> bool:
    """A "how many / how much / when" question."""
    return asked_quantity(question) is not None


def states_number(text: str) -> bool:
    """The text states a number or a date."""
    return bool(NUMBER.search(to_simplified(text)))


def unanswered_quantity(question: str, best: list[str]) -> bool:
    """A "how many / when" question the best paragraphs cannot answer.

    None of the best QUANTITY_DEPTH states what is asked; or, when the question names no unit (so that
    any number would do), the very best states no number or date at all: it is not about this quantity.
    """
    asked = asked_quantity(question)
    if asked is None or not best:
        return False
    if not any(asked.stated_in(text) for text in best[:QUANTITY_DEPTH]):
        return True
    return not asked.unit and not states_number(best[0])


# "比亚迪在湖南有哪些布局？" asks for a list: the sentence that enumerates (、…、, 其一…其二, 一是…) answers it.
LIST_QUESTION = re.compile(
    r"哪些|哪几[个项种类方面]|有什么(?:项目|举措|措施|计划|布局|领域)|"
    r"\bwhat (?:kinds?|sorts?|types?) of\b|\bwhich (?:projects|areas|fields|measures|steps|plans|products)\b|"
    r"\bwhat (?:projects|areas|fields|measures|steps|plans|products)\b",
    re.I,
)
ENUMERATION = re.compile(r"(?:[^、]{1,12}、){2,}|其一|其二|一是|二是|首先|第一|；")


@dataclass(frozen=True)
class AskedList:
    """A question's ask for several things (projects, fields, measures)."""

    kind: Literal["list"] = "list"
    unit: str = ""

    def stated_in(self, text: str) -> bool:
        """True when the text enumerates: a run of 、, numbered points, or clauses split by ；."""
        return bool(ENUMERATION.search(to_simplified(text)))


def asked_list(question: str) -> AskedList | None:
    """The ask of a "which / what kinds of" question for several things; None otherwise."""
    return AskedList() if LIST_QUESTION.search(to_simplified(question)) else None
