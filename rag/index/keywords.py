"""The Chinese keyword index: jieba tokens (speaker names and aliases kept whole) scored with BM25 (bm25s)."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.jieba_tables import default_tables, import_posseg
from rag.script import to_simplified

logging.getLogger("jieba").setLevel(logging.WARNING)

STOPWORDS = frozenset(
    [
        "的",
        "了",
        "和",
        "与",
        "及",
        "是",
        "在",
        "对",
        "为",
        "把",
        "被",
        "将",
        "也",
        "还",
        "都",
        "而",
        "并",
        "或",
        "就",
        "又",
        "等",
        "着",
        "这",
        "那",
        "这些",
        "那些",
        "这个",
        "那个",
        "之",
        "其",
        "以",
        "于",
        "从",
        "到",
        "向",
        "让",
        "能",
        "会",
        "要",
        "我",
        "我们",
        "你",
        "你们",
        "他",
        "他们",
        "她",
        "它",
        "什么",
        "怎么",
        "怎样",
        "如何",
        "哪些",
        "哪个",
        "哪",
        "谁",
        "吗",
        "呢",
        "吧",
        "啊",
        "么",
        "有",
        "没有",
        "多少",
        "几",
        "个",
        "一",
        "上",
        "下",
        "中",
        "里",
        "说",
        "提到",
        "提出",
        "认为",
        "看待",
        "谈",
        "谈到",
        "表示",
        "关于",
        "方面",
        "问题",
        "一下",
        "请问",
        "请",
        "哪里",
        "怎么样",
        "怎样",
        "为什么",
        "什么样",
        "怎么看",
        "如何看待",
        "是否",
        "哪方面",
        "哪些方面",
        "有何",
        "何",
        "啥",
        "呢",
        "哪位",
        "哪家",
        "嘉宾",
        "与会者",
        "与会嘉宾",
        "发言嘉宾",
        "企业家们",
        "人士",
        "企业家",
        "发言人",
        "发言",
        "讲",
        "讲了",
        "说了",
        "提到了",
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "did",
        "does",
        "do",
        "said",
        "say",
        "says",
        "about",
        "with",
        "by",
        "at",
        "as",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "from",
        "he",
        "she",
        "they",
        "his",
        "her",
        "their",
        "speaker",
        "speakers",
        "talk",
        "talked",
        "mention",
        "mentioned",
    ]
)
_TOKEN_OK = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)


def _pos_tokenizer(tokenizer: object) -> object:
    """A part-of-speech tokenizer over `tokenizer` with the default dictionary's tags (rag.index.jieba_tables).

    `POSTokenizer(tokenizer)` would parse jieba's 350 k-line dictionary again (about 0.4 s per index
    load); the tags come from the same default dictionary, so a copy of the cached table is identical.
    """
    tables = default_tables()
    posseg = import_posseg(tables.tags)
    if getattr(tokenizer, "dictionary", None) != posseg.dt.tokenizer.dictionary:
        return posseg.POSTokenizer(tokenizer)
    pos = posseg.POSTokenizer.__new__(posseg.POSTokenizer)
    pos.tokenizer = tokenizer
    pos.word_tag_tab = dict(tables.tags)
    return pos


def _tokenizer_like_the_default() -> Any:
    """A new jieba tokenizer holding a copy of the default dictionary (its tables read once per process).

    `jieba.Tokenizer()` reads the 350 k-word dictionary again each time (0.5–3 s, every index load); a copy
    of the cached default table is the same dictionary in ~30 ms, and user words stay this one's own.
    """
    import jieba

    tables = default_tables()
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ = dict(tables.freq)
    tokenizer.total = tables.total
    tokenizer.initialized = True
    return tokenizer


MAX_UNKNOWN_RUN = 24  # characters in a row the dictionary does not know that the HMM is still given


def _longest_unknown_run(pairs: Sequence[tuple[str, str]]) -> int:
    """The longest run of single ideographs the dictionary left unsegmented (what the HMM would be given)."""
    longest = run = 0
    for word, _ in pairs:
        run = run + 1 if len(word) == 1 and "\u3400" <= word <= "\u9fff" else 0
        longest = max(longest, run)
    return longest


class KeywordTokenizer:
    """jieba search-mode tokens of the simplified-character text, lower-cased, punctuation and stopwords removed."""

    def __init__(self, user_words: Iterable[str] = ()) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self._jieba = _tokenizer_like_the_default()
        self._lock = threading.Lock()
        self.user_words = sorted({w.strip() for w in user_words if w.strip()})
        for word in self.user_words:
            self._jieba.add_word(word, freq=2_000_000)
        with self._lock:
            self._jieba.initialize()
        self._pos: object | None = None

    def words(self, text: str) -> list[tuple[str, str]]:
        """Precise-mode words with part-of-speech flags (nr person, ns place, nt/nz organisation…).

        Unknown words (new names) come from jieba's HMM, whose cost grows with each run of characters the
        dictionary does not know: ~6 ms a character, 3 s for 500 random ideographs, against ~10 ms for 400
        characters of real text. A text with a run longer than MAX_UNKNOWN_RUN is tagged from the dictionary alone.
        """
        simplified = to_simplified(text)
        with self._lock:
            if self._pos is None:
                self._pos = _pos_tokenizer(self._jieba)
            plain = [(p.word, p.flag) for p in self._pos.cut(simplified, HMM=False)]  # type: ignore[attr-defined]
            pairs = plain if _longest_unknown_run(plain) > MAX_UNKNOWN_RUN else None
            if pairs is None:
                pairs = [(p.word, p.flag) for p in self._pos.cut(simplified)]  # type: ignore[attr-defined]
        return [(w.strip(), f) for w, f in pairs if w.strip() and _TOKEN_OK.search(w)]

    def tokens(self, text: str) -> list[str]:
        with self._lock:  # jieba's tokenizer keeps per-call state; one caller at a time
            raw = list(self._jieba.cut_for_search(to_simplified(text)))
        out = []
        for tok in raw:
            tok = tok.strip().lower()
            if tok and tok not in STOPWORDS and _TOKEN_OK.search(tok):
                out.append(tok)
        return out


class KeywordIndex:
    """BM25 over chunk tokens; `scores(tokens)` gives one score per chunk."""

    def __init__(self, retriever: object, n_docs: int) -> None:
        self._bm25 = retriever
        self.n_docs = n_docs

    @classmethod
    def build(cls, token_lists: Sequence[list[str]]) -> KeywordIndex:
        import bm25s

        retriever = bm25s.BM25()
        # An empty document still needs one token for bm25s; "" is its reserved empty token.
        retriever.index([toks or [""] for toks in token_lists], show_progress=False)
        return cls(retriever, len(token_lists))

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder))  # type: ignore[attr-defined]

    @classmethod
    def load(cls, folder: Path, n_docs: int) -> KeywordIndex:
        import bm25s

        # Memory-mapped: a query reads only its tokens' postings, so they need not all be resident.
        retriever = bm25s.BM25.load(str(folder), allow_pickle=False, mmap=True)
        return cls(retriever, n_docs)

    def scores(self, tokens: list[str]) -> np.ndarray:
        vocab = self._bm25.vocab_dict  # type: ignore[attr-defined]
        ids = [vocab[t] for t in tokens if t in vocab]
        if not ids:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(ids), dtype=np.float32)  # type: ignore[attr-defined]

    def doc_freq(self, token: str) -> int:
        """In how many chunks the token occurs (0 when it is not in the vocabulary)."""
        tid = self._bm25.vocab_dict.get(token)  # type: ignore[attr-defined]
        indptr = self._bm25.scores["indptr"]  # type: ignore[attr-defined]
        if tid is None or tid + 1 >= len(indptr):
            return 0
        return int(indptr[tid + 1] - indptr[tid])

    def rows_with(self, token: str, limit: int) -> list[int]:
        """Up to `limit` rows (chunks) the token occurs in, from its posting list."""
        tid = self._bm25.vocab_dict.get(token)  # type: ignore[attr-defined]
        indptr = self._bm25.scores["indptr"]  # type: ignore[attr-defined]
        if tid is None or tid + 1 >= len(indptr):
            return []
        start = int(indptr[tid])
        end = min(int(indptr[tid + 1]), start + limit)
        return [int(r) for r in self._bm25.scores["indices"][start:end]]  # type: ignore[attr-defined]

    def vocabulary(self) -> set[str]:
        return set(self._bm25.vocab_dict)  # type: ignore[attr-defined]

    def vocabulary_by_frequency(self) -> list[str]:
        """Every token, in the most chunks first (ties in code-point order)."""
        vocab: dict[str, int] = self._bm25.vocab_dict  # type: ignore[attr-defined]
        indptr = np.asarray(self._bm25.scores["indptr"])  # type: ignore[attr-defined]
        freq = np.diff(indptr)  # bm25s keeps its reserved empty token past the matrix's last row

        def chunks_with(token: str) -> int:
            tid = vocab[token]
            return int(freq[tid]) if tid < len(freq) else 0

        return sorted((t for t in vocab if t), key=lambda t: (-chunks_with(t), t))
