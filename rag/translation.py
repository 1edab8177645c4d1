"""English question words in the corpus's own Chinese words, from CC-CEDICT (rag.cedict).

"Which speakers talked about virtual reality?" → 虚拟现实: the keyword index then matches English questions,
and a multi-speaker question's topic is a dictionary translation instead of a guess.

- Phrases first: the longest run of content words with a dictionary entry wins (virtual reality → 虚拟现实
  before virtual → 虚拟); a run without one falls back to its words (car culture → 汽车 + 文化).
- Only translations the corpus uses are kept (a token the keyword index knows), so the dictionary's many
  senses cannot bring in words no speaker said.
- Sense order is the weight: of a phrase's translations in the corpus, those of its best-ranked sense and the
  next are kept, at most MAX_PER_PHRASE, best sense first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rag.cedict import Dictionary, dictionary
from rag.index.load import Index
from rag.script import to_simplified

MAX_PHRASE_WORDS = 4
MAX_PER_PHRASE = 3
SENSE_SLACK = 1  # keep senses ranked at most this far below the best one found in the corpus
_WORD = re.compile(r"[A-Za-z][A-Za-z\-']*|\d+[A-Za-z]*")
FRAME_WORDS_FILE = Path(__file__).parent / "data" / "english_frame_words.txt"
# Function words and the words that frame a question about speeches rather than name its topic.
FRAME_WORDS = frozenset(
    line.strip() for line in FRAME_WORDS_FILE.read_text(encoding="utf-8").splitlines() if line and line[0] != "#"
)

DEMONYMS_FILE = Path(__file__).parent / "data" / "english_demonyms.tsv"
DEMONYMS: dict[str, str] = dict(
    line.split("\t", 1)  # type: ignore[misc]
    for line in DEMONYMS_FILE.read_text(encoding="utf-8").splitlines()
    if line and line[0] != "#"
)


@dataclass(frozen=True)
class Translation:
    """An English phrase of the question and the corpus words the dictionary gives for it, best first."""

    phrase: str
    words: tuple[str, ...]


def content_runs(text: str) -> list[list[str]]:
    """Runs of consecutive content words (lower case); a frame word or punctuation ends a run."""
    runs: list[list[str]] = [[]]
    for token in re.findall(r"[A-Za-z][A-Za-z\-']*|\d+[A-Za-z]*|[^\sA-Za-z\d]", text):
        word = token.lower()
        if not _WORD.fullmatch(token) or word in FRAME_WORDS:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append(DEMONYMS.get(word, word))
    return [r for r in runs if r]


def translate(index: Index, text: str, book: Dictionary | None = None) -> list[Translation]:
    """The question's English phrases with their translations that occur in the corpus."""
    runs = content_runs(text)
    if not runs:
        return []  # a question without Latin words does not load the dictionary (~2 s the first time)
    book = book or dictionary()
    out: list[Translation] = []
    for run in runs:
        i = 0
        while i < len(run):
            for n in range(min(MAX_PHRASE_WORDS, len(run) - i), 0, -1):
                phrase = " ".join(run[i : i + n])
                words = _in_corpus(index, book, phrase)
                if words or n == 1:
                    if words:
                        out.append(Translation(phrase, words))
                    i += n
                    break
    return out


def english_terms(index: Index, text: str) -> list[str]:
    """The corpus words for a Latin-script question's content words (empty for a Chinese question)."""
    if not re.search(r"[A-Za-z]{2,}", text):
        return []
    words = [w for t in translate(index, text) for w in t.words]
    return list(dict.fromkeys(words))


def every_word_translated(index: Index, text: str) -> list[str]:
    """The corpus words for the question's content words when every one of them has some ([] otherwise):
    "museums" → 博物馆, but "football match" → [] since the corpus has no word for football."""
    runs = content_runs(text)
    found = translate(index, text)
    covered = sum(len(t.phrase.split()) for t in found)
    if not found or covered < sum(len(r) for r in runs):
        return []
    return list(dict.fromkeys(w for t in found for w in t.words))


def dictionary_words_for(phrase: str) -> tuple[str, ...]:
    """The dictionary's words of at least two characters for an English phrase, of its best two senses."""
    senses = [s for s in dictionary().chinese_for(phrase) if len(s.word) >= 2]
    if not senses:
        return ()
    return tuple(s.word for s in senses if s.rank <= senses[0].rank + SENSE_SLACK)


def _in_corpus(index: Index, book: Dictionary, phrase: str) -> tuple[str, ...]:
    senses = [s for s in book.chinese_for(phrase) if _used(index, s.word)]
    # "artificial intelligence (AI)": the corpus may write the abbreviation instead.
    latin = tuple(sorted(a.lower() for a in book.abbreviations(phrase) if index.store.doc_freq(a.lower()) > 0))
    if not senses:
        return latin
    best = senses[0].rank
    kept = [s.word for s in senses if s.rank <= best + SENSE_SLACK]
    return (*kept[:MAX_PER_PHRASE], *latin)


def _used(index: Index, word: str) -> bool:
    """The corpus uses the word: the keyword index knows it, or every search token of it (虚拟现实 → 虚拟, 现实)."""
    if len(word) < 2 and not word.isdigit():
        return False  # single characters (才, 车) are morphemes, not topics
    if index.store.doc_freq(word) > 0:
        return True
    tokens = [t for t in index.tokenizer.tokens(word) if len(t) >= 2]
    return bool(tokens) and all(index.store.doc_freq(t) > 0 for t in tokens) and word in _joined(index, tokens)


def _joined(index: Index, tokens: list[str]) -> str:
    """A paragraph holding every token (for the contiguity check), or '' (only the rarest token's paragraphs are read)."""
    rarest = min(tokens, key=index.store.doc_freq)
    for row in index.store.rows_with(rarest, limit=50):
        text = to_simplified(index.chunks[row].text)  # tokens are simplified
        if all(t in text for t in tokens):
            return text
    return ""
