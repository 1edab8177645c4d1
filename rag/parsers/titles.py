"""Speaker titles as sources write them: `机构职务`, `职务，机构` or `Title, Organization`."""

from __future__ import annotations

import re

# Organisation endings, most specific family first: the first family that matches wins, and within a family
# the shortest organisation does (`中国电信集团有限公司` in `中国电信集团有限公司文宣…研究院院长`).
_ORG_FAMILIES: tuple[str, ...] = (
    r"(?:集团)?(?:股份)?(?:有限)?(?:责任)?公司",
    r"集团",
    r"大学|学院",
    r"研究院|研究所|研究中心|实验室|博物院",
    r"广播电视台|电视台|电台|日报社|报社|日报|出版社|杂志社",
    r"管理委员会|管委会|委员会|联合会|协会|学会|商会|基金会",
    r"厅|局|银行|医院|(?:博物|图书|文化|美术|纪念|艺术|科技)馆|剧院|中心",
)
_ORG_PATTERNS = tuple(re.compile(rf"^(?P<org>.{{2,}}?(?:{family}))(?P<title>.+)$") for family in _ORG_FAMILIES)
_CORPORATE_TAIL = re.compile(r"^\s*(?:co\.?|ltd\.?|inc\.?|llc|corp\.?|plc|gmbh|s\.a\.|ag|limited)\b", re.IGNORECASE)
_TITLE_ORG_SEPARATORS = ("，", ",")


def split_organization(raw_title: str) -> tuple[str, str]:
    """Split `机构职务` into (organisation, title); ("", raw_title) when no organisation is named."""
    text = raw_title.strip()
    for pattern in _ORG_PATTERNS:
        m = pattern.match(text)
        if m:
            title = m.group("title").lstrip("，,、 ")
            if title:
                return m.group("org"), title
    return "", text


def split_title_and_organization(inner: str) -> tuple[str, str]:
    """(title, organisation) from `职务，机构` / `Title, Organization`; falls back to `机构职务`.

    The organisation is what follows the last comma, unless that part is a corporate tail such as
    `Ltd.` (`Huawei Technologies Co., Ltd.` stays whole).
    """
    text = inner.strip()
    parts = re.split(r"\s*[，,]\s*", text)
    for cut in range(len(parts) - 1, 0, -1):
        tail = parts[cut:]
        if all(_CORPORATE_TAIL.match(p) for p in tail[1:]) and not _CORPORATE_TAIL.match(tail[0]):
            title = ", ".join(parts[:cut]) if _is_latin(text) else "，".join(parts[:cut])
            organization = ", ".join(tail) if _is_latin(text) else "，".join(tail)
            if title and organization:
                return title, organization
    organization, title = split_organization(text)
    return title, organization


def _is_latin(text: str) -> bool:
    return not re.search(r"[\u3400-\u9fff]", text)
