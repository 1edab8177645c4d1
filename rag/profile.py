"""\"王杰是谁？ / Who is Wang Jie?\": a speaker's title and organisation, quoted from the page's own speaker line.

The answer is the document's byline for the speaker ("王杰(比亚迪股份有限公司副总裁)"), found verbatim in the
document's source text, with the registry's fields (and English forms) beside it. It is the page's words about
the speaker, never the speaker's own, so it is not a quote of a speech.
"""

from __future__ import annotations

import re

from rag.index.load import Index
from rag.question import QuestionPlan
from rag.records import Profile
from rag.script import to_simplified
from rag.speakers import Speaker

PROFILE_QUESTION = re.compile(
    r"^\s*(?P<zh>.{1,20}?)(?:是谁|是什么人|是哪位|是做什么的|担任什么职务|是什么职务|的职务是什么|的身份是什么|是什么身份)[？?]?\s*$|"
    r"^\s*who(?:'s| is| was)\s+(?P<en>[^?]{2,40}?)\s*\??\s*$|"
    r"^\s*what (?:is|was) (?P<pos>[^?]{2,40}?)(?:'s|’s) (?:title|position|job|role)\s*\??\s*$",
    re.I,
)


def asks_profile(plan: QuestionPlan) -> Speaker | None:
    """The speaker a "who is X" question asks about, when X is exactly one known speaker's name."""
    m = PROFILE_QUESTION.match(to_simplified(plan.question))
    if m is None or plan.from_history:
        return None
    persons = {x.speaker.name: x.speaker for x in plan.mentions if x.by == "person"}
    if len(persons) != 1:
        return None
    named = (m.group("zh") or m.group("en") or m.group("pos") or "").strip()
    mention = next(x for x in plan.mentions if x.by == "person")
    leftover = named.replace(mention.alias, "").strip(" ,，")
    return mention.speaker if len(leftover) <= 2 else None  # "王杰是谁" yes; "和王杰合作的是谁" no


def profile_of(index: Index, speaker: Speaker) -> Profile | None:
    """The speaker's profile with the first line of their document that names them with a title or organisation."""
    rows = index.speaker_rows(speaker.name)
    if len(rows) == 0:
        return None
    document = index.chunks[int(rows[0])].document
    source = index.sources.get(document) or ""
    facts = [f for f in (speaker.title, speaker.organization) if f]
    for number, line in enumerate(source.splitlines(), start=1):
        text = line.strip()
        if speaker.name in text and facts and any(f in text or f[:4] in text for f in facts) and len(text) <= 120:
            info = index.document(document)
            return Profile(
                speaker.name, speaker.title, speaker.organization, speaker.name_en, speaker.title_en,
                speaker.organization_en, document, info.source if info else "", info.source_en if info else "",
                number, text,
            )  # fmt: skip
    return None


def profile_text(profile: Profile, language: str) -> str:
    """The readable answer: the registry's fields, then the page's own line as the source."""
    if language == "en":
        name = f"{profile.speaker_en} ({profile.speaker})" if profile.speaker_en else profile.speaker
        role = ", ".join(p for p in (profile.title_en or profile.title, profile.organization_en or profile.organization) if p)
        source = f" ({profile.source_en or profile.source})" if profile.source_en or profile.source else ""
        return f"{name}: {role}. The page introduces the speaker as “{profile.source_line}”{source}."
    role = "".join(p for p in (profile.organization, profile.title) if p)
    source = f"（{profile.source}）" if profile.source else ""
    return f"{profile.speaker}，{role}。页面的发言人署名：“{profile.source_line}”{source}。"
