"""Deciding that the speeches do not answer a question, from several kinds of evidence.

A raw similarity threshold cannot separate answerable from unanswerable questions (their score
ranges overlap), so the decision combines:
- named entities in the question that the corpus never mentions (腾讯, 马化腾, Tesla, GDP);
- the question's content words: are any of the specific ones (not background words like 湖南) in the corpus;
- the dense evidence: the best sentence's similarity as a z-score against a corpus sample;
- whether the question names a speaker the registry knows.
A false "not found" is worse than a weak answer, so every rule needs strong evidence to abstain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from rag.crosslingual import is_background
from rag.index.keywords import STOPWORDS
from rag.index.load import Index
from rag.question import QuestionPlan
from rag.script import to_simplified
from rag.synonyms import related, said_in_other_words
from rag.textutil import has_cjk
from rag.translation import english_terms, every_word_translated

_LATIN_TERM = re.compile(r"[A-Za-z][A-Za-z0-9+\-']*|\d+[A-Za-z]+[A-Za-z0-9]*")
ENTITY_FLAGS = frozenset({"nr", "nrt", "nrfg", "ns", "nt", "nz"})
QUESTION_WORDS = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "did",
        "does",
        "do",
        "is",
        "are",
        "was",
        "were",
        "can",
        "could",
        "would",
        "should",
        "will",
        "the",
        "a",
        "an",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "about",
        "from",
        "with",
        "and",
        "or",
        "by",
        "tell",
        "me",
        "please",
        "say",
        "said",
        "says",
        "think",
        "thinks",
        "view",
        "views",
        "opinion",
        "speaker",
        "speakers",
        "speech",
        "speeches",
        "symposium",
        "executive",
        "executives",
        "company",
        "companies",
        "according",
        "mr",
        "ms",
        "mrs",
        "dr",
    ]
)
# English nouns that name a kind of institution, place or event: capitalised in a name (Nanling University),
# never a name the corpus must know.
INSTITUTION_WORDS = frozenset(
    (
        "university",
        "college",
        "school",
        "institute",
        "academy",
        "museum",
        "library",
        "gallery",
        "theatre",
        "theater",
        "center",
        "centre",
        "park",
        "city",
        "province",
        "county",
        "district",
        "town",
        "village",
        "bureau",
        "department",
        "ministry",
        "office",
        "government",
        "council",
        "committee",
        "commission",
        "association",
        "federation",
        "society",
        "foundation",
        "group",
        "company",
        "corporation",
        "corp",
        "inc",
        "ltd",
        "bank",
        "hospital",
        "festival",
        "expo",
        "exhibition",
        "forum",
        "conference",
        "summit",
        "fair",
        "week",
        "award",
        "zone",
        "port",
        "harbor",
        "harbour",
        "airport",
        "station",
        "studio",
        "studios",
        "media",
        "press",
        "news",
        "daily",
        "times",
        "radio",
        "television",
        "tv",
        "network",
        "platform",
        "cooperative",
        "co-op",
        "agency",
        "administration",
        "authority",
    )
)
SAY_ZH = re.compile(
    r"^(?P<subject>.{2,24}?)(?:在.{0,10}?)?(?:说了|谈了|讲了|表示了|提到了|发言|怎么看|如何看待|如何评价|怎么评价|认为|有什么看法|有何看法)"
)
SAY_EN = re.compile(
    r"\b(?:what did|what does|how did|how does|what do|what has)\s+(?P<subject>.{2,40}?)\s+"
    r"(?:say|said|think|thinks|talk|talked|mention|mentioned|speak|spoke|propose|proposed|suggest|suggested)\b",
    re.I,
)
GENERIC_SUBJECTS = re.compile(
    r"企业家|发言人|发言者|嘉宾|与会|大家|他们|她们|他|她|各位|代表|各家|企业们|这些|有人|谁|哪|"
    r"\b(the )?(speakers?|executives?|entrepreneurs?|participants?|they|he|she|everyone|people|companies)\b",
    re.I,
)
QUESTION_MORPHEME = re.compile(
    r"^(?:多少|多久|多长|多大|多高|多远|几|哪|什么|怎么|为什么|如何)"
)  # 多少钱 asks, names nothing
KIND_QUESTION = re.compile(r"^(?:什么|哪些|哪个|哪种|哪类|哪几|哪一|啥)")
# Nouns that frame a question rather than name its topic (有什么看法, 攻克什么难题, 落户在什么地方).
FRAME_NOUNS = frozenset(
    {
        "看法",
        "评价",
        "地方",
        "难题",
        "问题",
        "情况",
        "方面",
        "作用",
        "意义",
        "内容",
        "东西",
        "事情",
        "原因",
        "办法",
        "措施",
        "计划",
        "目标",
        "建议",
        "观点",
        "态度",
        "体会",
        "感受",
        "想法",
        "打算",
        "方向",
        "重点",
        "做法",
        "经验",
        "举措",
        "表现",
    }
)
NOUN_FLAGS = ("n", "nz")  # jieba's common and proper nouns (not 人名 nr, 地名 ns, or verbal nouns vn)
SPEAKER_SCAN_LIMIT = 5_000  # paragraphs of the named speakers up to which their words are read (~20 ms at most)
BACKGROUND_SHARE = 0.2  # a word in this share of paragraphs is background (湖南, 文化), not a topic
DENSE_CLEAR = 3.0  # z-score of the best sentence similarity that counts as a clear match
DENSE_WEAK = 1.6  # below this, an English question with no named speaker is taken as unanswered
UNKNOWN_TOPIC_MARGIN = 0.02  # with no known topic word, a margin below this over off-topic text abstains
ANCHOR_MARGIN = 0.0  # corpus similarity minus off-topic-anchor similarity below this: off topic


@dataclass(frozen=True)
class Evidence:
    """The signals behind an abstention decision (kept for debugging and the eval report)."""

    unknown_entities: tuple[str, ...]
    anchor_margin: float
    content_words: tuple[str, ...]
    unknown_words: tuple[str, ...]
    specific_known: tuple[str, ...]
    dense_z: float
    best_similarity: float
    named_speaker: bool
    abstain: bool
    reason: str


def _profile(index: Index) -> tuple[str, frozenset[str]]:
    """Lower-cased metadata text (titles, organisations) and pinyin of corpus words, made once per index."""
    return index.memo("abstain_profile", lambda: _make_profile(index))


def _make_profile(index: Index) -> tuple[str, frozenset[str]]:
    meta = []
    for s in index.registry.speakers:
        meta += [s.name, s.title, s.organization, s.title_en, *s.roles_en, *s.person_aliases(), *s.org_names()]
    for d in index.documents:
        meta += [d.title, d.subtitle, d.source, *d.event.values()]
    latin = set(_LATIN_TERM.findall(" ".join(meta).lower()))
    latin.update(index.pinyin)  # romanised corpus words (Changsha, Malanshan) are known
    latin.update(word.lower() for word in index.store.ascii_vocabulary())
    return to_simplified("\n".join(meta).lower()), frozenset(latin)


def _known_word(index: Index, word: str, meta_text: str) -> bool:
    low = word.lower()
    if index.store.doc_freq(low) > 0 or low in meta_text:
        return True
    parts = [t for t in index.tokenizer.tokens(word) if t != low]
    return bool(parts) and all(index.store.doc_freq(t) > 0 for t in parts)


def _without_mentions(plan: QuestionPlan) -> str:
    text = plan.question
    for m in sorted(plan.mentions, key=lambda m: -m.start):
        text = text[: m.start] + " " + text[m.end :]
    return text


def unknown_latin_entities(index: Index, text: str) -> list[str]:
    """Capitalised words and acronyms that neither the corpus, its pinyin, nor the metadata knows.

    Words that name a kind of institution (University, Museum, Bureau) are no names, and a name written in
    pinyin over several words (Wu Xiulan) is known when the words together are.
    """
    _, known = _profile(index)
    joined = _known_pinyin_runs(text, known)
    out: list[str] = []
    for word in _LATIN_TERM.findall(text):
        low = word.lower().rstrip("'s").replace("'", "")
        if low in QUESTION_WORDS or low in INSTITUTION_WORDS or low in joined or len(low) < 2:
            continue
        capital = word[0].isupper() or word.isupper() or any(ch.isdigit() for ch in word)
        at_start = text.lstrip().startswith(word) and not has_cjk(text)
        if not capital or (at_start and not word.isupper()):
            continue
        if low in known or low.rstrip("s") in known:
            continue
        if not word.isupper() and english_terms(index, low):
            continue  # a dictionary word the corpus says in Chinese (Chinese → 中国), not an unknown name
        out.append(word)
    return out


def _known_pinyin_runs(text: str, known: frozenset[str]) -> set[str]:
    """Words of a run of capitalised words whose concatenation (or a pair's) the corpus knows: wu + xiulan."""
    words = [w.lower() for w in re.findall(r"[A-Z][a-z]+", text)]
    out: set[str] = set()
    for i in range(len(words)):
        for j in range(i + 2, min(len(words), i + 4) + 1):
            if "".join(words[i:j]) in known:
                out.update(words[i:j])
    return out


def asks_what_a_non_speaker_said(question: str) -> str:
    """The subject of "X说了什么 / What did X say" when X is someone specific (the caller checked X is no speaker)."""
    for pattern in (SAY_ZH, SAY_EN):
        m = pattern.search(to_simplified(question.strip()))
        if m:
            subject = m.group("subject").strip(" ，,的'’s")
            if subject and not GENERIC_SUBJECTS.search(subject) and len(subject) >= 2:
                return subject
    return ""


def _asked_kinds(words: list[str]) -> set[str]:
    """Nouns that name the kind of answer, which lists instances without the word: right after 哪些/什么
    (哪些品质, 什么难题) or right before 是 + 什么/哪些 (关键是什么; in 对年轻人有什么寄语 the topic is 年轻人).
    A noun with 多少 is what is counted, a topic (多少员工, 股价是多少)."""
    after = {w for q, w in pairwise(words) if KIND_QUESTION.match(q)}
    before = {
        w for w, verb, q in zip(words, words[1:], words[2:], strict=False) if verb == "是" and KIND_QUESTION.match(q)
    }
    return after | before


def _joins_a_known_word(index: Index, word: str) -> bool:
    """用算力 is 用 + 算力 run together by the tokenizer: a known word with one character more."""
    return len(word) >= 3 and any(index.store.doc_freq(w) > 0 for w in (word[1:], word[:-1]))


def _unspoken(index: Index, plan: QuestionPlan, nouns: list[str]) -> list[str]:
    """The topic nouns (words the corpus's keyword index does not know) that no paragraph of the speakers a
    question names contains, not even inside a longer word or as a word of related meaning (rag.synonyms:
    用户 is found where they said 客户): 营收 in 郑海川透露集团去年营收多少."""
    if not nouns:
        return []
    names = [*plan.filter_speakers, *(m.speaker.name for m in plan.mentions)]
    rows = np.unique(np.concatenate([index.speaker_rows(n) for n in names])) if names else np.zeros(0)
    if len(rows) == 0 or len(rows) > SPEAKER_SCAN_LIMIT:
        return []
    said = "\n".join(to_simplified(index.chunks[int(r)].text) for r in rows)
    return [
        w for w in nouns if w not in said and not any(r in said for r in related(w)) and not said_in_other_words(w, said)
    ]


def decide(index: Index, plan: QuestionPlan, similarities: np.ndarray, query_vector: np.ndarray) -> Evidence:
    """Combine the signals into an abstain / answer decision."""
    meta_text, _ = _profile(index)
    rest = _without_mentions(plan)
    tagged = index.tokenizer.words(rest)
    words = [
        (w, f)
        for w, f in tagged
        if has_cjk(w) and len(w) >= 2 and w not in STOPWORDS and not QUESTION_MORPHEME.match(w)
    ]
    asked_kinds = _asked_kinds([w for w, _ in tagged])
    n_docs = max(1, len(index.chunks))
    known, unknown, entities = [], [], []
    for w, flag in words:
        if _known_word(index, w, meta_text):
            known.append(w)
        else:
            unknown.append(w)
            if flag in ENTITY_FLAGS:
                entities.append(w)
    entities += unknown_latin_entities(index, rest)
    specific = [w for w in known if index.store.doc_freq(w.lower()) / n_docs < BACKGROUND_SHARE or n_docs < 10]
    if len(similarities):
        best = float(similarities.max())
        z = (best - float(similarities.mean())) / (float(similarities.std()) or 1e-6)
    else:
        best, z = 0.0, 0.0
    named = bool(plan.mentions) or bool(plan.filter_speakers)
    anchors = index.anchor_vectors
    margin = (
        best - float((anchors @ query_vector).max()) if len(anchors) and anchors.shape[1] == len(query_vector) else 1.0
    )
    acronyms = [e for e in entities if e.isupper() or not e.isascii()]

    absent_speaker = "" if named else asks_what_a_non_speaker_said(plan.question)
    # An English topic the dictionary puts in words the corpus uses, beyond background words (博物馆, 数字出版).
    translated = [w for w in every_word_translated(index, rest) if not is_background(index, w)]
    nouns = [
        w
        for w, flag in words
        if w in unknown
        and flag in NOUN_FLAGS
        and w not in FRAME_NOUNS | asked_kinds
        and not _joins_a_known_word(index, w)
    ]
    unspoken = _unspoken(index, plan, nouns) if named else []

    abstain, reason = False, "answerable"
    if acronyms or (entities and z < DENSE_CLEAR):
        abstain, reason = True, f"names that no speech mentions: {', '.join(entities)}"
    elif absent_speaker:
        abstain, reason = True, f"asks what {absent_speaker} said, who is not among the speakers"
    elif unspoken:
        abstain, reason = True, f"the speakers it names never use the words: {', '.join(unspoken)}"
    elif not named and margin < ANCHOR_MARGIN and not translated:
        abstain, reason = True, f"closer to everyday off-topic text than to any speech (margin {margin:+.3f})"
    elif not named and unknown and not specific and margin < UNKNOWN_TOPIC_MARGIN:
        abstain, reason = True, f"the topic words are not in the speeches: {', '.join(unknown)}"
    elif not named and not words and z < DENSE_WEAK:
        abstain, reason = True, "no clear match and no shared words"
    return Evidence(
        unknown_entities=tuple(entities),
        anchor_margin=margin,
        content_words=tuple(w for w, _ in words),
        unknown_words=tuple(unknown),
        specific_known=tuple(specific),
        dense_z=z,
        best_similarity=best,
        named_speaker=named,
        abstain=abstain,
        reason=reason,
    )
