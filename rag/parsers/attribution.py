"""Whose words are these: direct quotations, reported speech and the writer's own text in a news report.

Every rule runs on the simplified shadow of a paragraph, so `「…」黃館長說` reads like `“…”黄馆长说`.

- A quotation is a top-level `“…”` or `「…」` (nested `‘…’`/`『…』` stay inside it). One that ends a paragraph
  unclosed continues in the next paragraph when that one opens with a quotation mark (the Chinese convention for
  a quotation of several paragraphs: every paragraph opens, only the last closes).
- A quotation is speech only when a speech verb ties it to its speaker:
  lead `王某说：“…。”` / `王某表示，“…。”` (the quotation complete: it ends a sentence);
  trail `“…，”王某说` / `“…。”王某表示。` (the quotation opens its sentence);
  adjacent, a paragraph ending `她说：` and the next opening with the quotation;
  trailing, a complete quotation that ends a sentence of reported speech (`她指出，…，“…。”`).
  A quoted phrase with no such verb (`以“文化+科技”为主题`, `“夜游博物馆”项目`) is the writer's.
- Reported speech is a sentence opened by a speaker and a verb with a comma or colon (`王某表示，…`, `会上，
  王某介绍，…`, `据王某介绍，…`): the whole sentence is the reported segment. After a trail attribution in the
  same sentence (`“…，”王某说，…`) it starts at the speaker. Only that sentence: the next one may be the writer's.
- The speaker is a mention that resolves to one person (see `people.py`); `他/她/其` resolve to the last person
  mentioned before them in the paragraph, else the last one mentioned in the previous paragraph, and an
  anonymous voice in between (`市民周阿姨…她说`) leaves them unresolved. A quotation tied to a verb whose speaker
  does not resolve stays the writer's text and is counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from rag.parsers.lexicon import NOT_SPEECH_BEFORE, OPEN_QUOTES, SENTENCE_END, VERB_RE
from rag.parsers.people import Introduction, Mention, People, find_mentions

Attribution = Literal["direct", "reported"]

CLOSE_QUOTES = set(OPEN_QUOTES.values())
NESTED_CLOSERS = "’』"
TERMINAL = SENTENCE_END + "…"
GAP_STOPS = set("。！？!?；;：:“”「」『』‘’（）()《》、")
MAX_GAP = 14
MAX_TRAIL_GAP = 18
MAX_LEAD_IN = 40
OBJECT_MARKERS = "向对跟给替和与"
JOINT = "和与及、"
AFTER_VERB = set("，,：:。！!；;") | set(OPEN_QUOTES)


@dataclass(frozen=True)
class Segment:
    """Words of a paragraph attributed to one person: `paragraph[start:end]`; `speaker` is a person key."""

    start: int
    end: int
    speaker: str
    attribution: Attribution


@dataclass(frozen=True)
class Quote:
    """A top-level quotation: the opening mark's index and the closing one's (None: open to the end)."""

    open: int
    close: int | None


@dataclass(frozen=True)
class Site:
    """A speech verb and its subject (None when no mention stands close enough before it)."""

    mention: Mention | None
    verb_start: int
    verb_end: int
    loose: bool  # the subject is only reachable across a comma (`赵某一边…，一边笑着说`): trail use only


@dataclass
class Attributed:
    """The segments of each paragraph and the count of quotations whose speaker could not be identified."""

    segments: list[list[Segment]]
    unresolved: int = 0


@dataclass
class _Chain:
    """A quotation running over several paragraphs: its parts and its speaker once known."""

    parts: list[tuple[int, Quote]]
    speaker: str | None
    tied: bool


@dataclass
class _State:
    """What carries from one paragraph to the next."""

    last_mention: Mention | None = None
    chain: _Chain | None = None
    lead: tuple[bool, str | None] | None = None  # the previous paragraph ended `MENTION VERB：`
    lengths: list[int] = field(default_factory=list)


def attribute(shadows: list[str], people: People, intros: list[list[Introduction]] | None = None) -> Attributed:
    """Segments for consecutive narrative paragraphs (their shadows), in order."""
    result = Attributed([[] for _ in shadows])
    state = _State(lengths=[len(s) for s in shadows])
    for i, shadow in enumerate(shadows):
        _paragraph(i, shadow, people, intros[i] if intros else None, state, result)
    _finish_chain(state, result)
    for segments in result.segments:
        segments.sort(key=lambda s: s.start)
    return result


def _paragraph(
    i: int, shadow: str, people: People, intros: list[Introduction] | None, state: _State, result: Attributed
) -> None:
    quotes = find_quotes(shadow)
    outside = [m for m in find_mentions(shadow, people, intros) if not _inside(quotes, m.start)]
    mentions = _resolve_pronouns(shadow, outside, state.last_mention)
    sites = find_sites(shadow, mentions, quotes)
    first = len(shadow) - len(shadow.lstrip())
    if state.chain and not (quotes and quotes[0].open == first):
        _finish_chain(state, result)
    direct = result.segments[i]
    for k, quote in enumerate(quotes):
        if k == 0 and quote.open == first and state.chain:
            _continue_chain(i, shadow, quote, sites, state, result)
            continue
        tied, speaker = _tie(shadow, quote, sites, state.lead if k == 0 and quote.open == first else None)
        if quote.close is None:
            state.chain = _Chain([(i, quote)], speaker, tied)
        elif tied and speaker:
            direct.append(_direct(shadow, quote, speaker))
        elif tied:
            result.unresolved += 1
    _reported(shadow, quotes, sites, direct)
    state.lead = _ends_with_lead(shadow, sites)
    state.last_mention = antecedent(shadow, mentions)


# ---------------------------------------------------------------- quotations and sentences


def find_quotes(shadow: str) -> list[Quote]:
    """Top-level quotations in order; nested marks and marks of the other pair stay inside."""
    quotes = []
    i = 0
    while i < len(shadow):
        mark = shadow[i]
        if mark not in OPEN_QUOTES:
            i += 1
            continue
        closing, depth, j = OPEN_QUOTES[mark], 1, i + 1
        while j < len(shadow):
            depth += (shadow[j] == mark) - (shadow[j] == closing)
            if depth == 0:
                break
            j += 1
        quotes.append(Quote(i, j if j < len(shadow) else None))
        i = j + 1
    return quotes


def sentences(shadow: str) -> list[tuple[int, int]]:
    """Sentence spans: ends at 。！？ outside quotations, or at a closing mark right after one inside."""
    spans: list[tuple[int, int]] = []
    start, depth, i = 0, 0, 0
    while i < len(shadow):
        ch = shadow[i]
        depth += (ch in OPEN_QUOTES) - (ch in CLOSE_QUOTES and depth > 0)
        ends = (depth == 0 and ch in TERMINAL) or (ch in CLOSE_QUOTES and depth == 0 and _ends_inside(shadow, i))
        if ends:
            j = i + 1
            while j < len(shadow) and (shadow[j] in TERMINAL or (shadow[j] in CLOSE_QUOTES and ch not in CLOSE_QUOTES)):
                j += 1
            spans.append((start, j))
            while j < len(shadow) and shadow[j].isspace():
                j += 1
            start, i = j, j
            continue
        i += 1
    if shadow[start:].strip():
        spans.append((start, len(shadow)))
    return spans


def _ends_inside(shadow: str, close: int) -> bool:
    """The quotation closing at `close` ends with sentence punctuation (`…。”`)."""
    inner = shadow[:close].rstrip(NESTED_CLOSERS)
    return bool(inner) and inner[-1] in TERMINAL


def _inside(quotes: list[Quote], pos: int) -> bool:
    return any(q.open < pos and (q.close is None or pos < q.close) for q in quotes)


def _complete(shadow: str, quote: Quote) -> bool:
    """A quotation that is a whole utterance: open to the paragraph end, ends a sentence, or is followed by one."""
    if quote.close is None:
        return True
    if _ends_inside(shadow, quote.close):
        return True
    after = shadow[quote.close + 1 :].lstrip()
    return not after or after[0] in TERMINAL


# ---------------------------------------------------------------- speakers and verbs


def _resolve_pronouns(shadow: str, mentions: list[Mention], previous: Mention | None) -> list[Mention]:
    """`他/她/其` take the person of the mention before them (in this paragraph, else the previous one's last)."""
    out: list[Mention] = []
    for mention in mentions:
        if mention.kind == "pronoun":
            before = antecedent(shadow, out) or previous
            mention = Mention(mention.start, mention.end, "pronoun", before.person if before else None)
        out.append(mention)
    return out


def antecedent(shadow: str, mentions: list[Mention]) -> Mention | None:
    """The mention a later pronoun points back to: the last one that is not an object (`向王某…`).

    An anonymous voice is never skipped: after `市民周阿姨…` a `她` is hers, not the named speaker's.
    """
    for mention in reversed(mentions):
        if mention.kind == "anonymous" or not _object(shadow, mention):
            return mention
    return None


def _object(shadow: str, mention: Mention) -> bool:
    return mention.start > 0 and shadow[mention.start - 1] in OBJECT_MARKERS


def find_sites(shadow: str, mentions: list[Mention], quotes: list[Quote]) -> list[Site]:
    """Speech verbs outside quotations, each with the nearest mention before it that can be its subject."""
    sites = []
    for match in VERB_RE.finditer(shadow):
        start, end = match.span()
        verb = match.group()
        if _inside(quotes, start) or (start and shadow[start - 1] in NOT_SPEECH_BEFORE.get(verb[-1], "")):
            continue
        if end < len(shadow) and shadow[end] not in AFTER_VERB and not shadow[end].isspace():
            continue
        mention, loose = _subject(shadow, mentions, start)
        sites.append(Site(mention, start, end, loose))
    return sites


def _subject(shadow: str, mentions: list[Mention], verb_start: int) -> tuple[Mention | None, bool]:
    """The nearest mention before a verb with only an adverbial between (`王某在会上表示`, `王某对李某说`).

    Joint subjects (`主办方和王某都表示`) and a possessive (`王某的同事说`) leave the verb without a subject.
    """
    before = [m for m in mentions if m.end <= verb_start]
    while before and _object(shadow, before[-1]) and before[-1].kind != "anonymous":
        before.pop()  # `对李某说`: the speaker is the one before the object
    if not before:
        return None, False
    mention = before[-1]
    gap = shadow[mention.end : verb_start]
    if gap.startswith("的") or any(c in gap for c in JOINT):
        return None, False
    if len(gap) <= MAX_GAP and not any(c in GAP_STOPS or c in "，," for c in gap):
        return mention, False
    if len(gap) <= MAX_TRAIL_GAP and not any(c in GAP_STOPS for c in gap) and gap.count("，") <= 1:
        return mention, True
    return None, False


def _tie(shadow: str, quote: Quote, sites: list[Site], lead: tuple[bool, str | None] | None) -> tuple[bool, str | None]:
    """(tied to a verb, speaker key or None) for a quotation that does not continue a previous paragraph's."""
    if lead is not None:
        return lead
    for site in sites:
        if not site.loose and _leads_into(shadow, site, quote.open) and _complete(shadow, quote):
            return True, site.mention.person if site.mention else None
    if quote.close is not None and _opens_sentence(shadow, quote) and _ends_clause(shadow, quote.close):
        trail = _trail_site(shadow, quote.close, sites)
        if trail:
            return True, trail.mention.person if trail.mention else None
    return False, None


def _leads_into(shadow: str, site: Site, open_at: int) -> bool:
    """`VERB：“` / `VERB，“` / `VERB“`: the verb stands right before the opening mark."""
    if site.verb_end > open_at:
        return False
    return shadow[site.verb_end : open_at].strip() in ("", "：", ":", "，", ",")


def _opens_sentence(shadow: str, quote: Quote) -> bool:
    return any(start == quote.open for start, _ in sentences(shadow))


def _ends_clause(shadow: str, close: int) -> bool:
    inner = shadow[:close].rstrip(NESTED_CLOSERS)
    return bool(inner) and inner[-1] in TERMINAL + "，,；;—"


def _trail_site(shadow: str, close: int, sites: list[Site]) -> Site | None:
    """The site right after a closing mark (`”王某说`), its verb ending the clause."""
    at = close + 1
    while at < len(shadow) and shadow[at] in "，, \u3000":
        at += 1
    for site in sites:
        starts_here = site.mention.start == at if site.mention else _bare_subject(shadow, at, site)
        after = shadow[site.verb_end : site.verb_end + 1]
        if starts_here and (not after or after in "。！!；;，,：:"):
            return site
    return None


def _bare_subject(shadow: str, at: int, site: Site) -> bool:
    """A verb shortly after the closing mark with someone unidentified as its subject (`”一位家长说。`)."""
    gap = shadow[at : site.verb_start]
    return 0 < len(gap) <= MAX_TRAIL_GAP and not any(c in GAP_STOPS or c in "，," for c in gap)


def _ends_with_lead(shadow: str, sites: list[Site]) -> tuple[bool, str | None] | None:
    """`…她说：` ending a paragraph: the next paragraph's opening quotation is hers."""
    tail = shadow.rstrip()
    for site in sites:
        if tail[site.verb_end :] in ("：", ":") and not site.loose:
            return True, site.mention.person if site.mention else None
    return None


# ---------------------------------------------------------------- segments


def _direct(shadow: str, quote: Quote, speaker: str) -> Segment:
    end = quote.close if quote.close is not None else len(shadow.rstrip())
    return Segment(quote.open + 1, end, speaker, "direct")


def _continue_chain(i: int, shadow: str, quote: Quote, sites: list[Site], state: _State, result: Attributed) -> None:
    chain = state.chain
    assert chain is not None
    chain.parts.append((i, quote))
    if quote.close is None:
        return
    if not chain.tied and _ends_clause(shadow, quote.close):
        site = _trail_site(shadow, quote.close, sites)
        if site:
            chain.tied, chain.speaker = True, site.mention.person if site.mention else None
    _finish_chain(state, result)


def _finish_chain(state: _State, result: Attributed) -> None:
    chain, state.chain = state.chain, None
    if chain is None or not chain.tied:
        return
    if chain.speaker is None:
        result.unresolved += 1
        return
    for i, quote in chain.parts:
        end = quote.close if quote.close is not None else state.lengths[i]
        result.segments[i].append(Segment(quote.open + 1, end, chain.speaker, "direct"))


def _reported(shadow: str, quotes: list[Quote], sites: list[Site], direct: list[Segment]) -> None:
    """Reported-speech segments, one per sentence opened by a speaker and a verb with a comma or colon."""
    for start, end in sentences(shadow):
        inside = [s for s in sites if start <= s.verb_start < end and not s.loose]
        speakers = {s.mention.person for s in inside if s.mention}
        site = inside[0] if inside else None
        if site is None or not site.mention or not site.mention.person or len(speakers) > 1:
            continue
        seg_start = _reported_start(shadow, start, site)
        after = shadow[site.verb_end : site.verb_end + 1]
        rest = shadow[site.verb_end + 1 :].lstrip()
        if seg_start is None or after not in ("，", ",", "：", ":") or not rest or rest[0] in OPEN_QUOTES:
            continue
        seg_end = len(shadow[:end].rstrip())
        trailing = _trailing_quote(shadow, quotes, site.verb_end, seg_end)
        if trailing:
            if not any(d.start == trailing.open + 1 for d in direct):
                direct.append(_direct(shadow, trailing, site.mention.person))
            seg_end = trailing.open - 1
        if not any(seg_start < d.end and d.start < seg_end for d in direct):
            direct.append(Segment(seg_start, seg_end, site.mention.person, "reported"))


def _reported_start(shadow: str, sentence_start: int, site: Site) -> int | None:
    """Where the reported segment starts: the sentence start, or the speaker after a trail quotation."""
    assert site.mention is not None
    lead_in = shadow[sentence_start : site.mention.start]
    stripped = lead_in.rstrip("，, ")
    if stripped and stripped[-1] in CLOSE_QUOTES:
        return site.mention.start
    if len(lead_in) > MAX_LEAD_IN or any(c in OPEN_QUOTES or c in CLOSE_QUOTES for c in lead_in):
        return None
    return sentence_start


def _trailing_quote(shadow: str, quotes: list[Quote], after: int, end: int) -> Quote | None:
    """A complete quotation closing the sentence after `，`/`：` (`她指出，…，“…。”`)."""
    for quote in quotes:
        if quote.open <= after or quote.close is None or quote.close >= end:
            continue
        if shadow[quote.open - 1] in "，,：:" and _ends_inside(shadow, quote.close):
            tail = shadow[quote.close + 1 : end]
            if not re.sub(r"[\s。！？!?”」]", "", tail):
                return quote
    return None
